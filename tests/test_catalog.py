"""The catalog stays honest: every loss has one entry, a registry case, a matching module and
options that match its signature; lookup, parsing and the GBDT mapping behave."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import losskit
from losskit import catalog, functional
from losskit import nn as lnn
from losskit.catalog import REQUIRED, lookup, parse_losses
from losskit.tasks import TASKS
from registry import CASES

_COMMON = ("reduction", "num_items")


#: What ``losskit.functional`` exports besides the losses.
HELPERS = {"crf_decode", "PaddedLists", "pad_lists", "coral_predict", "corn_predict"}


def _is_loss(obj: object) -> bool:
    """A loss is a public function with a ``reduction`` argument (as in tests/test_catalog_reads.py)."""
    return inspect.isfunction(obj) and "reduction" in inspect.signature(obj).parameters


def test_every_functional_loss_has_exactly_one_entry() -> None:
    names = [e.name for e in catalog.ENTRIES]
    assert len(names) == len(set(names))
    exported = functional.__all__
    assert len(exported) == len(set(exported))
    losses = [n for n in exported if _is_loss(getattr(functional, n))]
    assert sorted(names) == sorted(losses)
    assert set(exported) - set(losses) == HELPERS
    for family in {e.family for e in catalog.ENTRIES}:  # each family's whole `__all__` is exported
        assert set(getattr(functional, family).__all__) <= set(exported), family


def test_every_nn_module_belongs_to_one_entry() -> None:
    """``nn`` exports one class per entry, and every class written out in nn.py is an entry's."""
    modules = [e.module for e in catalog.ENTRIES]
    assert len(modules) == len(set(modules))
    assert lnn.__all__ == modules
    written = {
        name
        for name, obj in vars(lnn).items()
        if inspect.isclass(obj) and obj.__module__ == lnn.__name__ and not name.startswith("_")
    }
    assert written <= set(modules)
    for entry in catalog.ENTRIES:
        cls = entry.module_class()
        assert issubclass(cls, torch.nn.Module) and cls.__module__ == "losskit.nn"
        assert cls.__name__ == cls.__qualname__ == entry.module


def _needs_arguments(entry: catalog.LossEntry) -> bool:
    """Its module takes arguments of its own or a required option (tested by its family's tests)."""
    return bool(entry.module_extra) or any(o.default is REQUIRED for o in entry.options)


@pytest.mark.parametrize("entry", [e for e in catalog.ENTRIES if not _needs_arguments(e)], ids=lambda e: e.name)
def test_module_builds_with_the_function_defaults(entry: catalog.LossEntry) -> None:
    """Without arguments a module stores its function's defaults."""
    module = entry.module_class()()
    expected = {o.name: o.default for o in entry.options if not o.per_call}
    assert module.options() == {**expected, "reduction": "mean"}


def test_every_module_face_is_checked_against_its_function() -> None:
    """tests/test_registry.py::test_module_matches_functional runs each case's module face; every
    entry whose module can be built without arguments has a case that gives it (the entry's class)."""
    missing = []
    for entry in catalog.ENTRIES:
        faces = [c.module[0] for c in CASES if c.module and getattr(c.fn, "__name__", None) == entry.name]
        if not faces and not _needs_arguments(entry):
            missing.append(entry.name)
        assert all(face is entry.module_class() for face in faces if inspect.isclass(face)), entry.name
    assert not missing, f"registry cases without a module face (module=...): {missing}"


def test_every_entry_has_a_registry_case() -> None:
    registered = {getattr(c.fn, "__name__", None) for c in CASES}
    missing = [e.name for e in catalog.ENTRIES if e.name not in registered]
    assert not missing, f"catalog entries without a case in tests/cases_*.py: {missing}"


@pytest.mark.parametrize("entry", catalog.ENTRIES, ids=lambda e: e.name)
def test_options_match_the_function_signature(entry: catalog.LossEntry) -> None:
    fn = entry.function()
    assert fn is getattr(losskit, entry.name)
    params = inspect.signature(fn).parameters
    data = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty and n not in [o.name for o in entry.options]
    ]
    assert tuple(data) == entry.inputs
    declared = {o.name: o.default for o in entry.options}
    actual = {
        n: (REQUIRED if p.default is inspect.Parameter.empty else p.default)
        for n, p in params.items()
        if n not in entry.inputs and n not in _COMMON
    }
    assert declared == actual
    assert set(entry.tasks) <= set(TASKS)


@pytest.mark.parametrize("entry", catalog.ENTRIES, ids=lambda e: e.name)
def test_module_signature_matches_its_function(entry: catalog.LossEntry) -> None:
    """The module's ``__init__`` takes the function's options that are not passed per call, with
    the same defaults, plus the arguments the catalog declares as the module's own."""
    cls = entry.module_class()
    init = inspect.signature(cls.__init__).parameters
    got = {n: p.default for n, p in init.items() if n not in ("self", "reduction")}
    expected = {o.name: o.default for o in entry.options if not o.per_call}
    extra = {n: got[n] for n in entry.module_extra if n in got}
    assert set(entry.module_extra) == set(extra)
    expected = {n: (inspect.Parameter.empty if d is REQUIRED else d) for n, d in expected.items()}
    assert got == {**expected, **extra}
    assert init["reduction"].default == "mean"
    fn = getattr(cls, "function", None)
    if fn is not None:
        assert fn is entry.function()


def test_lookup_by_name_alias_module_and_task() -> None:
    assert lookup("mse").name == "mse_loss"
    assert lookup("CrossEntropyLoss").name == "cross_entropy"
    assert lookup("  Smooth-L1 ").name == "smooth_l1_loss"
    assert lookup("focal", task="binary").name == "binary_focal_loss"
    assert lookup("focal", task="multiclass").name == "focal_loss"
    assert lookup("log_loss", task="binary").name == "binary_cross_entropy_with_logits"


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(losskit.LossInputError, match="did you mean 'cross_entropy'") as info:
        lookup("cross_entropyy")
    assert info.value.argument == "loss"
    with pytest.raises(losskit.LossInputError, match="give the task"):
        lookup("focal")
    with pytest.raises(losskit.LossInputError, match="for a regression task"):
        lookup("cross_entropy", task="regression")


def test_aliases_are_unique_within_each_task() -> None:
    for task in TASKS:
        seen: dict[str, str] = {}
        for e in catalog.entries(task=task):
            for name in e.names:
                assert seen.setdefault(name, e.name) == e.name, (task, name)


def test_parse_losses_syntax_transform_and_resampling() -> None:
    got = parse_losses("bce, focal:gamma=1,alpha=0.25 ,bce:pos_weight=balanced,bce", "binary")
    assert [(c.name, c.options) for c in got] == [
        ("binary_cross_entropy_with_logits", {}),
        ("binary_focal_loss", {"gamma": 1.0, "alpha": 0.25}),
        ("binary_cross_entropy_with_logits", {"pos_weight": "balanced"}),
    ]
    reg = parse_losses("mse:target=log1p,pinball:quantiles=0.9,mse", "regression")
    assert [(c.name, c.target_transform, c.options) for c in reg] == [
        ("mse_loss", "log1p", {}),
        ("pinball_loss", None, {"quantiles": [0.9]}),
        ("mse_loss", None, {}),
    ]
    assert reg[0].label() == "mse_loss on log1p(y)"
    under = parse_losses("bce:resample=under", "binary")[0]
    assert under.resample == "under" and under.label() == "binary_cross_entropy_with_logits + undersampling"


@pytest.mark.parametrize(
    ("spec", "task", "match"),
    [
        ("huber:delt=2", "regression", "did you mean 'delta'"),
        ("huber:delta=-1", "regression", r"in \(0, inf\)"),
        ("focal:gamma=x", "binary", "a number"),
        ("ce:label_smoothing=1", "multiclass", r"in \[0, 1\)"),
        ("mse:target=log", "regression", "log1p"),
        ("bce:target=log1p", "binary", "only for regression"),
        ("mse:resample=under", "regression", "only for classification"),
        ("mse_los", "regression", "did you mean 'mse_loss'"),
        ("delta=2", "regression", "name"),
        ("huber:delta", "regression", "key=value"),
        (" , ", "regression", "at least one"),
    ],
)
def test_parse_losses_refuses_bad_specs(spec: str, task: str, match: str) -> None:
    with pytest.raises(losskit.LossInputError, match=match) as info:
        parse_losses(spec, task)
    assert info.value.argument.startswith("losses")


def test_lab_trainable_entries_per_task() -> None:
    names = {t: [e.name for e in catalog.trainable(t)] for t in ("binary", "multiclass", "regression", "ranking")}
    assert names["binary"] == ["binary_cross_entropy_with_logits", "binary_focal_loss"]
    assert names["ranking"] == [
        "pairwise_logistic_loss",
        "listnet_loss",
        "listmle_loss",
        "lambda_loss",
        "approx_ndcg_loss",
    ]
    assert names["multiclass"] == ["cross_entropy", "focal_loss"]
    assert "pinball_loss" in names["regression"] and "mse_loss" in names["regression"]


def _per_row(entry: catalog.LossEntry, options: dict, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    fn = entry.function()
    tensors = {o.name for o in entry.options if o.type == "tensor"}
    kw = {k: torch.as_tensor(v, dtype=torch.float64) if k in tensors else v for k, v in options.items()}
    if entry.name == "pinball_loss":
        return fn(torch.as_tensor(z)[:, None], torch.as_tensor(y), **kw, reduction="none").numpy().reshape(-1)
    target = torch.as_tensor(y).long() if entry.kind == "softmax" else torch.as_tensor(y)
    return fn(torch.as_tensor(z), target, **kw, reduction="none").numpy()


_GBDT_OPTIONS = {
    "binary_cross_entropy_with_logits": {"pos_weight": 3.0, "label_smoothing": 0.1},
    "binary_focal_loss": {"gamma": 1.5, "alpha": 0.25},
    "cross_entropy": {"weight": [1.0, 2.0, 0.5], "label_smoothing": 0.1},
    "focal_loss": {"gamma": 2.0},
    "huber_loss": {"delta": 0.7},
    "smooth_l1_loss": {"beta": 0.5},
    "pinball_loss": {"quantiles": [0.8]},
    "tweedie_loss": {"power": 1.3},
}


@pytest.mark.parametrize("entry", [e for e in catalog.ENTRIES if e.gbdt], ids=lambda e: e.name)
def test_gbdt_objective_is_the_same_loss_up_to_a_constant(entry: catalog.LossEntry) -> None:
    """Per-row GBDT loss = c x the PyTorch loss (c > 0 constant): the same minimiser."""
    pytest.importorskip("scipy")
    rng = np.random.default_rng(0)
    options = _GBDT_OPTIONS.get(entry.name, {})
    if entry.kind == "softmax":
        y, z = rng.integers(0, 3, 40).astype(np.float64), rng.normal(size=(40, 3))
    elif entry.kind == "sigmoid":
        y, z = rng.integers(0, 2, 40).astype(np.float64), rng.normal(size=40)
    elif entry.kind == "log_rate":  # positive targets (the Gamma deviance needs y > 0)
        y, z = rng.poisson(2.0, 40) + 0.5, rng.normal(size=40)
    else:
        y, z = rng.normal(size=40), rng.normal(size=40)
    objective = catalog.gbdt_objective(entry, options, 3)
    ours = np.asarray(objective.loss(y, z), dtype=np.float64).reshape(-1)
    theirs = _per_row(entry, options, y, z)
    ratio = ours / theirs
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)
    assert ratio[0] > 0


def test_gbdt_objective_refuses_losses_and_options_it_lacks() -> None:
    with pytest.raises(losskit.LossInputError, match="GBDT objective"):
        catalog.gbdt_objective(lookup("log_cosh"), {}, 2)
    with pytest.raises(losskit.LossInputError, match="GBDT objective supports"):
        catalog.gbdt_objective(lookup("bce"), {"weight": [1.0]}, 2)


def test_catalog_module_imports_no_torch() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(catalog.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"torch", "numpy", "pandas", "sklearn", "scipy"}


def _case(entry: catalog.LossEntry):
    return next(c for c in CASES if getattr(c.fn, "__name__", None) == entry.name)


_BOUNDED = [
    (e, o)
    for e in catalog.ENTRIES
    for o in e.options
    if o.type in ("float", "int") and (o.low is not None or o.high is not None) and o.name != "chunk_size"
]


@pytest.mark.parametrize(("entry", "option"), _BOUNDED, ids=lambda v: getattr(v, "name", v))
def test_declared_ranges_are_the_functions_ranges(entry: catalog.LossEntry, option: catalog.Option) -> None:
    """Just outside the declared range the function and the catalog refuse; at the bound they agree."""
    args, kwargs = _case(entry).make(4, torch.float64, torch.Generator().manual_seed(0))
    kwargs = {k: v for k, v in kwargs.items() if k != option.name}
    for bound, is_open, outside in (
        (option.low, option.low_open, -0.5),
        (option.high, option.high_open, 0.5),
    ):
        if bound is None:
            continue
        bad = bound if is_open else bound + outside
        with pytest.raises(losskit.LossInputError):
            option.check(bad, option.name)
        with pytest.raises(losskit.LossInputError):
            entry.function()(*args, **kwargs, **{option.name: bad})
        if not is_open:
            ok = int(bound) if option.type == "int" else float(bound)
            assert option.check(ok, option.name) == ok
            entry.function()(*args, **kwargs, **{option.name: ok})
