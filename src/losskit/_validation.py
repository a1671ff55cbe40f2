"""Shared input validation.

Two tiers, as in torchmetrics:

* **Cheap checks** look only at metadata (shape, dtype, Python scalars) and always run.
* **Value checks** read tensor contents (class indices in range, targets in [0, 1], ...).
  They force a device synchronisation, so they can be switched off on hot paths with
  :func:`set_validation` or the :func:`validation` context manager. They are also skipped
  while ``torch.compile`` traces, so compiled code never graph-breaks on them.

Every failure raises :class:`losskit.LossInputError` naming the argument, the expectation
and what was given.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from losskit._errors import LossInputError

__all__ = [
    "check_broadcastable",
    "check_choice",
    "check_class_indices",
    "check_finite",
    "check_float",
    "check_integer",
    "check_reduction",
    "check_same_shape",
    "check_scalar_range",
    "check_values_in_range",
    "describe",
    "set_validation",
    "validation",
    "validation_enabled",
    "values_checked",
]

REDUCTIONS = ("mean", "sum", "none")

_ENABLED = True


def set_validation(enabled: bool) -> None:
    """Turn the value checks (those that read tensor contents) on or off globally."""
    global _ENABLED
    _ENABLED = bool(enabled)


def validation_enabled() -> bool:
    """Whether the value checks are on."""
    return _ENABLED


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager that sets the value checks on or off and restores the old state."""
    previous = _ENABLED
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


def values_checked() -> bool:
    """True when value checks should run now: enabled and not inside a compiled trace."""
    return _ENABLED and not torch.compiler.is_compiling()


def describe(t: object) -> str:
    """Short description of a value for error messages: shape and dtype for tensors."""
    if isinstance(t, Tensor):
        return f"a tensor of shape {tuple(t.shape)} and dtype {t.dtype}"
    return repr(t)


def check_reduction(reduction: str) -> None:
    check_choice("reduction", reduction, REDUCTIONS)


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Refuse a string option that is not one of ``choices`` (a typo never selects another mode)."""
    if value not in choices:
        raise LossInputError(name, "one of " + ", ".join(repr(c) for c in choices), repr(value))


def check_float(name: str, t: object) -> None:
    """``t`` must be a floating-point tensor."""
    if not isinstance(t, Tensor):
        raise LossInputError(name, "a torch.Tensor", type(t).__name__)
    if not t.is_floating_point():
        raise LossInputError(name, "a floating-point tensor (logits or predictions)", describe(t))


def check_integer(name: str, t: Tensor) -> None:
    """``t`` must hold integer class indices."""
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise LossInputError(name, "an integer tensor of class indices", describe(t))


def check_same_shape(name: str, t: Tensor, expected: Sequence[int], what: str) -> None:
    """``t.shape`` must equal ``expected`` (``what`` names where that shape comes from)."""
    if tuple(t.shape) != tuple(expected):
        raise LossInputError(name, f"of shape {tuple(expected)} ({what})", f"shape {tuple(t.shape)}")


def check_broadcastable(name: str, t: Tensor, shape: Sequence[int], what: str) -> None:
    """``t`` must broadcast to ``shape`` without changing it."""
    try:
        out = torch.broadcast_shapes(tuple(t.shape), tuple(shape))
    except RuntimeError:
        out = None
    if out != tuple(shape):
        raise LossInputError(name, f"broadcastable to {tuple(shape)} ({what})", f"shape {tuple(t.shape)}")


def check_scalar_range(
    name: str,
    value: float,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """A Python number must lie in the given interval."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise LossInputError(name, "a number", describe(value))
        value = float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        raise LossInputError(name, "a number", repr(value))
    ok_low = value >= low if low_inclusive else value > low
    ok_high = value <= high if high_inclusive else value < high
    if not (ok_low and ok_high):
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise LossInputError(name, f"in {interval}", value)


def check_values_in_range(
    name: str,
    t: Tensor,
    low: float,
    high: float,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Value check: every element of ``t`` lies in the interval (NaN fails)."""
    if not values_checked() or t.numel() == 0:
        return
    lo, hi = torch.aminmax(t.detach())  # one pass; NaN propagates and fails below
    ok = (lo >= low if low_inclusive else lo > low) and (hi <= high if high_inclusive else hi < high)
    if not bool(ok):
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        ok_low = t >= low if low_inclusive else t > low
        ok_high = t <= high if high_inclusive else t < high
        bad = ~(ok_low & ok_high)
        first = t[bad].flatten()[0].item()
        raise LossInputError(
            name, f"with every value in {interval}", f"{int(bad.sum())} values outside it (e.g. {first})"
        )


def check_class_indices(name: str, target: Tensor, num_classes: int, ignore_index: int | None) -> None:
    """Value check: class indices in [0, num_classes), apart from ``ignore_index``."""
    if not values_checked() or target.numel() == 0:
        return
    lo, hi = torch.aminmax(target)
    if int(lo) >= 0 and int(hi) < num_classes:  # one pass when no index is ignored or bad
        return
    bad = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bool(bad.any()):
        first = int(target[bad].flatten()[0])
        extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise LossInputError(name, f"class indices in [0, {num_classes - 1}]{extra}", f"index {first}")


def check_finite(name: str, t: Tensor) -> None:
    """Value check: no NaN or infinity."""
    if not values_checked() or t.numel() == 0 or not t.is_floating_point():
        return
    if not bool(torch.isfinite(t).all()):
        raise LossInputError(name, "finite (no NaN or inf)", f"{int((~torch.isfinite(t)).sum())} non-finite values")
