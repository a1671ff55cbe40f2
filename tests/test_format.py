"""losskit writes numbers one way (``losskit._format``): loss labels, the lab's report, card and
console and the drift check share it, so a NumPy scalar never shows as ``np.float64(...)`` and a
missing value is always ``n/a``."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from lab_tables import class_card, credit_default
from losskit import catalog
from losskit._format import number, option_value

SRC = Path(__file__).resolve().parents[1] / "src" / "losskit"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.123456), "0.1235"),  # 4 significant digits, no np.float64(...) wrapper
        (np.float32(0.5), "0.5"),  # float32 is not a Python float; still a number
        (np.int64(7), "7"),
        (12345.678, "1.235e+04"),
        (None, "n/a"),
        (float("nan"), "n/a"),
        (np.float64("inf"), "n/a"),
        ([np.float64(0.25), 3], "[0.25, 3]"),
        (True, "True"),
        ("hinge", "hinge"),
    ],
)
def test_number_writes_every_kind_of_value_the_same_way(value: object, expected: str) -> None:
    assert number(value) == expected


def test_digits_and_option_values() -> None:
    assert number(2 / 3, digits=3) == "0.667"
    assert option_value([0.1, 0.5, 0.9]) == "[0.1, 0.5, 0.9]"
    assert option_value(list(range(7))) == "[7 values]"  # long lists are summarised by their length
    assert option_value(np.float64(1.5)) == "1.5"
    assert option_value(None) == "None" and option_value(np.array([0.25, 0.75])) == "[0.25, 0.75]"
    assert option_value(torch.tensor([1.0, 2.0])) == "[1, 2]"


def test_loss_labels_write_options_through_the_shared_rule() -> None:
    choice = catalog.parse_losses("focal:gamma=2.5", "multiclass")[0]
    assert (
        choice.label({"gamma": np.float64(2.5), "weight": list(range(8))}) == "focal_loss(gamma=2.5, weight=[8 values])"
    )


def test_the_card_writes_numbers_through_the_shared_rule() -> None:
    card = class_card(
        credit_default().default,
        threshold=0.3,
        loss={"name": "focal_loss", "options": {"gamma": np.float64(2.0), "alpha": [0.25, 0.75]}, "origin": "user"},
    )
    card.test_metrics = {"f1": np.float64(0.123456), "roc_auc": None}
    text = card.to_markdown()
    assert "gamma=2, alpha=\\[0.25, 0.75\\]" in text
    assert "| f1 | 0.1235 |" in text and "| roc_auc | n/a |" in text
    assert "np." not in text


def _formats_a_number(fn: ast.FunctionDef) -> bool:
    """A small function (a helper, not a renderer) that checks a value's type and writes it with a format spec."""
    if sum(isinstance(n, ast.stmt) for n in ast.walk(fn)) > 8:
        return False
    checks_type = any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "isinstance" for n in ast.walk(fn))
    specs = [n.format_spec for n in ast.walk(fn) if isinstance(n, ast.FormattedValue) and n.format_spec is not None]
    formats = any(
        isinstance(part, ast.Constant) and str(part.value).endswith(("g", "f"))
        for spec in specs
        for part in ast.walk(spec)
    )
    return checks_type and formats


def test_no_module_keeps_its_own_number_formatter() -> None:
    own = [
        f"{path.relative_to(SRC)}:{fn.name}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "_format.py"
        for fn in ast.walk(ast.parse(path.read_text()))
        if isinstance(fn, ast.FunctionDef) and _formats_a_number(fn)
    ]
    assert own == []
