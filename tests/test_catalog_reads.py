"""Adding a loss is the function, its catalog entry and its registry case: the tools read the
catalog, so no module outside it keeps a list of loss names, and a loss function the catalog does
not know fails here (tests/test_catalog.py checks the entries, modules and registry cases)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import losskit.functional
from losskit import catalog
from losskit.lab import drift, gbdt_models
from losskit.lab.candidates import Candidate

SRC = Path(__file__).resolve().parents[1] / "src" / "losskit"
# The module that is the list: the catalog itself. `functional`'s export list is its family modules'
# `__all__`s and `nn`'s is read from the catalog; tests/test_catalog.py compares both with it.
LISTS = {"catalog.py"}


def _family_modules():
    for info in pkgutil.iter_modules(losskit.functional.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"losskit.functional.{info.name}")


def test_every_loss_function_in_a_family_module_has_a_catalog_entry() -> None:
    """A loss is a public function with a ``reduction`` argument; one left out of the catalog (and
    so of ``losskit.functional`` and the registry) fails here, not silently."""
    known = {e.name for e in catalog.ENTRIES}
    losses = {
        f"{mod.__name__}.{name}"
        for mod in _family_modules()
        for name in getattr(mod, "__all__", ())
        if inspect.isfunction(fn := getattr(mod, name)) and "reduction" in inspect.signature(fn).parameters
    }
    assert losses
    assert sorted(n for n in losses if n.rsplit(".", 1)[1] not in known) == []


def _name_literals(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """Literal collections holding a loss name, and comparisons of a value with a loss name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            found += [(node.lineno, e.value) for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
        elif isinstance(node, ast.Compare):
            found += [
                (node.lineno, c.value) for c in node.comparators if isinstance(c, ast.Constant) and c.value in names
            ]
    return found


def test_no_module_keeps_a_list_of_loss_names() -> None:
    names = {e.name for e in catalog.ENTRIES} | {e.module for e in catalog.ENTRIES}
    found = [
        f"{path.relative_to(SRC)}:{line} {name}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in LISTS and path.parent.name != "functional"
        for line, name in _name_literals(ast.parse(path.read_text()), names)
    ]
    assert found == []


def test_the_scan_finds_a_hand_kept_list() -> None:
    """The scan above is not vacuous: the lab's former list of losses with a built-in objective."""
    tree = ast.parse('if cand.name not in ("mae_loss", "pinball_loss"):\n    pass\n')
    assert [n for _, n in _name_literals(tree, {"mae_loss", "pinball_loss"})] == ["mae_loss", "pinball_loss"]


@pytest.mark.parametrize(
    ("loss", "frozen", "expected"),
    [
        ("mae_loss", {}, {"objective": "reg:absoluteerror"}),
        ("pinball_loss", {"quantiles": [0.2]}, {"objective": "reg:quantileerror", "quantile_alpha": 0.2}),
        ("huber_loss", {"delta": 1.0}, None),
    ],
)
def test_builtin_objectives_follow_the_catalogs_gbdt_mapping(loss: str, frozen: dict, expected: dict | None) -> None:
    assert gbdt_models.builtin_params("xgboost", Candidate(loss, frozen=frozen)) == expected


def test_drift_reads_focusing_losses_from_the_catalog() -> None:
    """Scores of a loss with a focusing exponent are not calibrated probabilities (drift notes it)."""
    assert drift._focusing("binary_focal_loss") and drift._focusing("asymmetric_loss")
    assert not drift._focusing("binary_cross_entropy_with_logits") and not drift._focusing("not_a_loss")
