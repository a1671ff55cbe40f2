"""Suites that every registered loss gets (see ``registry.py``)."""

from __future__ import annotations

import pytest
import torch

from losskit import LossInputError
from registry import CASES, LossCase, default_split

ids = [c.name for c in CASES]


def _make(case: LossCase, n: int = 8, dtype: torch.dtype = torch.float32, seed: int = 0):
    return case.make(n, dtype, torch.Generator().manual_seed(seed))


def _with_grad(case: LossCase, args):
    args = list(args)
    for i in case.diff:
        args[i] = args[i].detach().clone().requires_grad_(True)
    return tuple(args)


def _call(case: LossCase, args, kwargs, **extra):
    return case.fn(*args, **{**kwargs, **extra})


def _grads(case: LossCase, args, out):
    ins = [args[i] for i in case.diff]
    return torch.autograd.grad(out, ins, allow_unused=True)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_finite_value_and_gradient(case: LossCase) -> None:
    args, kwargs = _make(case)
    args = _with_grad(case, args)
    out = _call(case, args, kwargs)
    assert out.dim() == 0 and torch.isfinite(out)
    for g in _grads(case, args, out):
        assert g is not None and torch.isfinite(g).all()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_gradcheck_float64(case: LossCase) -> None:
    args, kwargs = _make(case, n=4, dtype=torch.float64, seed=1)
    args = _with_grad(case, args)

    def f(*diff_inputs):
        full = list(args)
        for i, t in zip(case.diff, diff_inputs, strict=True):
            full[i] = t
        return _call(case, tuple(full), kwargs)

    assert torch.autograd.gradcheck(f, tuple(args[i] for i in case.diff), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.reductions], ids=[c.name for c in CASES if c.reductions])
def test_reductions_agree(case: LossCase) -> None:
    args, kwargs = _make(case, dtype=torch.float64)
    none = _call(case, args, kwargs, reduction="none")
    total = _call(case, args, kwargs, reduction="sum")
    mean = _call(case, args, kwargs, reduction="mean")
    torch.testing.assert_close(none.sum(), total)
    count = case.count(args, kwargs) if case.count else none.numel()
    torch.testing.assert_close(mean * count, total)


_SEP = [c for c in CASES if c.reductions and c.batch_separable]


@pytest.mark.parametrize("case", _SEP, ids=[c.name for c in _SEP])
def test_num_items_accumulation_equals_full_batch(case: LossCase) -> None:
    """Two uneven micro-batches, each divided by the full count, sum to the full mean."""
    args, kwargs = _make(case, n=10, dtype=torch.float64)
    full = _call(case, args, kwargs)
    count = case.count(args, kwargs) if case.count else _call(case, args, kwargs, reduction="none").numel()
    split = case.split or default_split
    a = split(args, kwargs, torch.arange(0, 3))
    b = split(args, kwargs, torch.arange(3, 10))
    parts = _call(case, *a, num_items=count) + _call(case, *b, num_items=torch.tensor(float(count)))
    torch.testing.assert_close(parts, full)


_EMPTY = [c for c in CASES if c.empty]


@pytest.mark.parametrize("case", _EMPTY, ids=[c.name for c in _EMPTY])
def test_empty_batch_is_zero_and_connected(case: LossCase) -> None:
    args, kwargs = _make(case, n=0)
    args = _with_grad(case, args)
    out = _call(case, args, kwargs)
    assert out.item() == 0.0
    assert out.requires_grad
    for g in _grads(case, args, out):
        assert g is not None and (g == 0).all()


_HALF = [c for c in CASES if c.half]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", _HALF, ids=[c.name for c in _HALF])
def test_half_precision_is_finite_and_close(case: LossCase, dtype: torch.dtype) -> None:
    args32, kwargs = _make(case)
    ref = _call(case, args32, kwargs)
    args = tuple(a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args32)
    args = _with_grad(case, args)
    out = _call(case, args, kwargs)
    assert out.dtype == dtype
    assert torch.isfinite(out)
    torch.testing.assert_close(out.float(), ref, atol=case.half_atol, rtol=case.half_atol)
    for g in _grads(case, args, out):
        assert g is not None and torch.isfinite(g.float()).all()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_torch_compile_matches_eager(case: LossCase) -> None:
    """Value and gradient under ``torch.compile`` (AOTAutograd) equal eager mode; losses marked
    ``fullgraph`` compile without a single graph break (value checks step aside while tracing)."""
    torch._dynamo.reset()
    args, kwargs = _make(case)
    args = _with_grad(case, args)
    compiled = torch.compile(lambda *a: _call(case, a, kwargs), backend="aot_eager", fullgraph=case.fullgraph)
    out, ref = compiled(*args), _call(case, args, kwargs)
    torch.testing.assert_close(out, ref)
    for g, g_ref in zip(_grads(case, args, out), _grads(case, args, ref), strict=True):
        torch.testing.assert_close(g, g_ref)


_MOD = [c for c in CASES if c.module is not None]


@pytest.mark.parametrize("case", _MOD, ids=[c.name for c in _MOD])
def test_module_matches_functional(case: LossCase) -> None:
    cls, init = case.module
    args, kwargs = _make(case)
    torch.testing.assert_close(cls(**init)(*args, **kwargs), case.fn(*args, **init, **kwargs))


_BAD = [(c, b) for c in CASES for b in c.bad]


@pytest.mark.parametrize(("case", "bad"), _BAD, ids=[f"{c.name}-{b.label}" for c, b in _BAD])
def test_bad_input_raises_naming_argument(case: LossCase, bad) -> None:
    args, kwargs = bad.make()
    with pytest.raises(LossInputError) as info:
        case.fn(*args, **kwargs)
    assert f"`{bad.argument}`" in str(info.value)
    assert isinstance(info.value, ValueError)


def _to_meta(value):
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_to_meta(v) for v in value)
    return value


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_meta_tensors_give_a_result_or_a_loss_input_error(case: LossCase) -> None:
    """Shape inference on the meta device: value checks cannot read meta tensors, so they step
    aside; the loss either infers the result's shape or refuses with LossInputError (never a raw
    ``.item()`` error)."""
    args, kwargs = _make(case)
    expected = _call(case, args, kwargs)
    meta_args, meta_kwargs = tuple(_to_meta(a) for a in args), {k: _to_meta(v) for k, v in kwargs.items()}
    try:
        out = _call(case, meta_args, meta_kwargs)
    except LossInputError:
        return
    assert out.is_meta and out.shape == expected.shape and out.dtype == expected.dtype


def _tensor_slots(args, kwargs):
    """(position or keyword, value) of every tensor argument after the first (none for a loss
    of one tensor, such as ``ntxent``)."""
    slots = [(i, a) for i, a in enumerate(args) if i > 0 and isinstance(a, torch.Tensor)]
    return slots + [(k, v) for k, v in kwargs.items() if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_tensors_on_another_device_give_a_loss_input_error(case: LossCase) -> None:
    """Each tensor argument moved alone to another device (``meta`` stands for a second device on
    a CPU-only machine) is refused with LossInputError naming it, before any computation."""
    args, kwargs = _make(case)
    for slot, value in _tensor_slots(args, kwargs):
        moved_args, moved_kwargs = list(args), dict(kwargs)
        if isinstance(slot, int):
            moved_args[slot] = value.to("meta")
        else:
            moved_kwargs[slot] = value.to("meta")
        with pytest.raises(LossInputError, match="device") as info:
            _call(case, tuple(moved_args), moved_kwargs)
        assert "`" in str(info.value)
