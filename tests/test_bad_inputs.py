"""The classic bad inputs, swept over every loss of the catalog.

Each catalog entry is called through its first registered case (``tests/cases_*.py``) with one
thing broken at a time: NaN in the prediction, a complex or float target, class ids out of
range, negative or NaN weights, a target of the wrong length, a misspelt ``reduction``, a bad
``num_items``, a string where a number goes, an unknown string option. Each must raise
``LossInputError`` naming the argument (never a raw TypeError / RuntimeError / IndexError and
never a number), and the good edge batches (empty, every item ignored) must give a finite 0.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import losskit
from losskit import LossInputError, catalog
from registry import CASES, LossCase


def _first_case(name: str) -> LossCase:
    fn = getattr(losskit, name)
    return next(c for c in CASES if c.fn is fn)


ENTRIES = list(catalog.ENTRIES)
ids = [e.name for e in ENTRIES]

# Integer targets that are identities or relevance grades, not class indices: any value is valid.
_FREE_INTEGER_TARGETS = {
    "triplet_loss": "labels only say which embeddings belong together",
    "pairwise_logistic_loss": "relevance grades",
    "listnet_loss": "relevance grades",
    "listmle_loss": "relevance grades",
    "lambda_loss": "relevance grades",
    "approx_ndcg_loss": "relevance grades",
}


def _setup(entry: catalog.LossEntry):
    case = _first_case(entry.name)
    fn = getattr(losskit, entry.name)
    names = list(inspect.signature(fn).parameters)
    args, kwargs = case.make(6, torch.float32, torch.Generator().manual_seed(0))
    return case, fn, names, list(args), dict(kwargs)


def _refused(fn, args, kwargs, argument: str | None) -> None:
    with pytest.raises(LossInputError) as info:
        fn(*args, **kwargs)
    if argument is not None:
        assert f"`{argument}`" in str(info.value)


def _target_slot(entry, names, args, kwargs):
    """(position or keyword, name) of the target the loss compares its prediction with."""
    if "target" in kwargs and isinstance(kwargs["target"], torch.Tensor):
        return "target", "target"
    for i, name in enumerate(names[: len(args)]):
        if i > 0 and name in ("target", "targets") and isinstance(args[i], torch.Tensor):
            return i, name
    return None, None


def _replace(args, kwargs, slot, value):
    args, kwargs = list(args), dict(kwargs)
    if isinstance(slot, int):
        args[slot] = value
    else:
        kwargs[slot] = value
    return args, kwargs


def _get(args, kwargs, slot):
    return args[slot] if isinstance(slot, int) else kwargs[slot]


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_nan_prediction_is_refused_and_inf_never_raw(entry) -> None:
    case, fn, names, args, kwargs = _setup(entry)
    for position in case.diff:
        x = args[position].detach().clone()
        x.view(-1)[0] = math.nan
        _refused(fn, *_replace(args, kwargs, position, x), names[position])
        x.view(-1)[0] = math.inf  # -inf logits mask classes; the loss decides, but never raw
        try:
            fn(*_replace(args, kwargs, position, x)[0], **kwargs)
        except LossInputError as e:
            assert f"`{names[position]}`" in str(e)


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_wrong_target_dtype_is_refused(entry) -> None:
    _, fn, names, args, kwargs = _setup(entry)
    slot, name = _target_slot(entry, names, args, kwargs)
    if slot is None:  # info_nce, ntxent, triplet_margin_loss, boxes: no target tensor
        return
    target = _get(args, kwargs, slot)
    _refused(fn, *_replace(args, kwargs, slot, torch.zeros(target.shape, dtype=torch.complex64)), name)
    if not target.is_floating_point() and entry.name not in _FREE_INTEGER_TARGETS:
        _refused(fn, *_replace(args, kwargs, slot, target.double() + 0.5), name)


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_out_of_range_class_ids_are_refused(entry) -> None:
    _, fn, names, args, kwargs = _setup(entry)
    slot, name = _target_slot(entry, names, args, kwargs)
    if slot is None or entry.name in _FREE_INTEGER_TARGETS:
        return
    target = _get(args, kwargs, slot)
    if target.is_floating_point() or target.dtype == torch.bool:  # probabilities, masks, pair flags
        return
    target = _get(args, kwargs, slot)
    for bad in (10**6, -7):
        _refused(fn, *_replace(args, kwargs, slot, torch.full_like(target, bad)), name)


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_target_of_the_wrong_length_is_refused(entry) -> None:
    _, fn, names, args, kwargs = _setup(entry)
    slot, name = _target_slot(entry, names, args, kwargs)
    if slot is None:
        return
    target = _get(args, kwargs, slot)
    if entry.name == "ctc_loss":  # concatenated targets have their own length rule (test_ctc.py)
        return
    _refused(fn, *_replace(args, kwargs, slot, target[:-1]), name)


_WEIGHTED = [
    (c, key)
    for c in CASES
    for key, value in c.make(6, torch.float32, torch.Generator().manual_seed(0))[1].items()
    if key in ("weight", "sample_weight", "pos_weight", "task_weight") and isinstance(value, torch.Tensor)
]


@pytest.mark.parametrize(("case", "key"), _WEIGHTED, ids=[f"{c.name}-{k}" for c, k in _WEIGHTED])
def test_negative_and_nan_weights_are_refused(case: LossCase, key: str) -> None:
    args, kwargs = case.make(6, torch.float32, torch.Generator().manual_seed(0))
    for bad in (-1.0, math.nan, math.inf):
        w = kwargs[key].detach().clone()
        w.view(-1)[0] = bad
        _refused(case.fn, args, {**kwargs, key: w}, key)


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_bad_reduction_and_num_items_are_refused(entry) -> None:
    case, fn, _, args, kwargs = _setup(entry)
    if not case.reductions:
        return
    _refused(fn, args, {**kwargs, "reduction": "avg"}, "reduction")
    for bad in (math.nan, -5, "3", torch.tensor(math.nan), torch.tensor(-5.0), torch.ones(2), math.inf):
        _refused(fn, args, {**kwargs, "num_items": bad}, "num_items")
    if float(fn(*args, **kwargs, reduction="sum")) != 0.0:
        _refused(fn, args, {**kwargs, "num_items": 0}, "num_items")


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_non_numeric_and_unknown_options_are_refused(entry) -> None:
    _, fn, _, args, kwargs = _setup(entry)
    for option in entry.options:
        if option.type in ("float", "int", "floats", "float|tensor"):
            _refused(fn, args, {**kwargs, option.name: "abc"}, option.name)
            if option.name != "ignore_index":  # any integer is a valid ignore_index
                _refused(fn, args, {**kwargs, option.name: math.nan}, option.name)
            if option.low is not None:
                _refused(fn, args, {**kwargs, option.name: option.low - 1}, option.name)
            if option.type in ("float", "floats") and option.default is not None:
                _refused(fn, args, {**kwargs, option.name: None}, option.name)
        elif option.type == "str":
            _refused(fn, args, {**kwargs, option.name: "bogus"}, option.name)
        elif option.type == "bool":  # "no" would read as on
            _refused(fn, args, {**kwargs, option.name: "no"}, option.name)
        elif option.type == "tensor":
            _refused(fn, args, {**kwargs, option.name: "abc"}, option.name)


_EMPTY = [c for c in CASES if c.empty]


@pytest.mark.parametrize("case", _EMPTY, ids=[c.name for c in _EMPTY])
def test_empty_batch_is_a_finite_zero(case: LossCase) -> None:
    args, kwargs = case.make(0, torch.float32, torch.Generator().manual_seed(0))
    for reduction in ("mean", "sum") if case.reductions else ("mean",):
        extra = {"reduction": reduction} if case.reductions else {}
        out = case.fn(*args, **kwargs, **extra)
        assert out.item() == 0.0


_IGNORING = [
    e
    for e in ENTRIES
    if any(o.name == "ignore_index" for o in e.options) and e.name not in ("distillation_loss", "lovasz_hinge_loss")
]


@pytest.mark.parametrize("entry", _IGNORING, ids=[e.name for e in _IGNORING])
def test_all_ignored_batch_is_a_finite_zero(entry) -> None:
    _, fn, names, args, kwargs = _setup(entry)
    slot, _ = _target_slot(entry, names, args, kwargs)
    target = _get(args, kwargs, slot)
    args, kwargs = _replace(args, kwargs, slot, torch.full_like(target, 7))
    for reduction in ("mean", "sum"):
        out = fn(*args, **{**kwargs, "ignore_index": 7, "reduction": reduction})
        assert out.item() == 0.0


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_num_items_as_python_numpy_or_tensor_count_agree(entry) -> None:
    """The good side of the ``num_items`` rule: an int, a numpy integer, a float and a one-element
    tensor divide the sum alike."""
    case, fn, _, args, kwargs = _setup(entry)
    if not case.reductions:
        return
    expected = fn(*args, **kwargs, reduction="sum") / 12
    for count in (12, np.int64(12), 12.0, np.float32(12), torch.tensor(12), torch.tensor([12.0])):
        torch.testing.assert_close(fn(*args, **kwargs, num_items=count), expected)
