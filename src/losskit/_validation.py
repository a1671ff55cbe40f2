"""Shared input validation.

Two tiers, as in torchmetrics:

* **Cheap checks** look only at metadata (shape, dtype, Python scalars) and always run.
* **Value checks** read tensor contents (class indices in range, targets in [0, 1], sample
  weights non-negative, ...). They force a device synchronisation, so they can be switched off
  on hot paths with :func:`set_validation` or the :func:`validation` context manager. They are
  also skipped while ``torch.compile`` traces, so compiled code never graph-breaks on them, and
  for tensors on the ``meta`` device, which have no values (shape inference still runs).

The switch is per thread and per :mod:`contextvars` context (an ``asyncio`` task sees its own):
``validation(False)`` in one thread never turns the checks off in another, and every new
thread starts with them on. ``docs/validation.md`` lists what each tier checks.

Every failure raises :class:`losskit.LossInputError` naming the argument, the expectation
and what was given.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from losskit._errors import LossInputError

__all__ = [
    "as_class_indices",
    "check_bool",
    "check_broadcastable",
    "check_choice",
    "check_class_indices",
    "check_finite",
    "check_float",
    "check_has_values",
    "check_ignore_index",
    "check_input",
    "check_input_after",
    "check_integer",
    "check_label_smoothing",
    "check_real",
    "check_reduction",
    "check_same_device",
    "check_same_shape",
    "check_sample_weight",
    "check_scalar_range",
    "check_values_in_range",
    "describe",
    "reads_values",
    "set_validation",
    "validation",
    "validation_enabled",
    "values_checked",
]

REDUCTIONS = ("mean", "sum", "none")

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("losskit_validation", default=True)


def set_validation(enabled: bool) -> None:
    """Turn the value checks (those that read tensor contents) on or off in this thread / context.

    Other threads are not affected, and a new thread starts with the checks on.

    Example:
        >>> import losskit
        >>> losskit.set_validation(False)
        >>> losskit.validation_enabled()
        False
        >>> losskit.set_validation(True)
    """
    _ENABLED.set(bool(enabled))


def validation_enabled() -> bool:
    """Whether the value checks are on in this thread / context."""
    return _ENABLED.get()


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager that sets the value checks on or off in this thread and restores them.

    Example:
        >>> import torch, losskit
        >>> with losskit.validation(False):  # no device sync for the target-range check
        ...     loss = losskit.binary_cross_entropy_with_logits(torch.zeros(2), torch.ones(2))
        >>> losskit.validation_enabled()
        True
    """
    token = _ENABLED.set(bool(enabled))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def values_checked() -> bool:
    """True when value checks should run now: enabled and not inside a compiled trace."""
    return not torch.compiler.is_compiling() and _ENABLED.get()  # no ContextVar read while tracing


def reads_values(t: Tensor) -> bool:
    """Whether a value check should read ``t`` now: checks on, not tracing, ``t`` non-empty and
    not on the meta device (meta tensors have no values)."""
    return values_checked() and t.numel() > 0 and not t.is_meta


def describe(t: object) -> str:
    """Short description of a value for error messages: shape and dtype for tensors."""
    if isinstance(t, Tensor):
        return f"a tensor of shape {tuple(t.shape)} and dtype {t.dtype}"
    return repr(t)


def check_reduction(reduction: str) -> None:
    check_choice("reduction", reduction, REDUCTIONS)


def check_bool(name: str, value: object) -> None:
    """A switch must be a bool (Python or numpy): ``"no"`` or ``"False"`` would read as on."""
    if not isinstance(value, (bool, np.bool_)):
        raise LossInputError(name, "True or False", repr(value))


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


def check_input(name: str, t: object) -> None:
    """The rule for predictions (logits, scores, embeddings, boxes): a floating-point tensor with
    no NaN (value check). A NaN prediction has no loss, and a loss that clips or masks would hide
    it in a finite number. Infinities are left to the loss (``-inf`` logits mask classes)."""
    check_float(name, t)
    if not reads_values(t):  # type: ignore[arg-type]
        return
    # A sum is NaN whenever an element is (and also for +inf beside -inf): one pass, no
    # input-sized temporary; only then count the NaNs exactly.
    if bool(torch.isnan(t.detach().sum())):  # type: ignore[union-attr]
        n = int(torch.isnan(t.detach()).sum())  # type: ignore[union-attr]
        if n:
            raise LossInputError(name, "free of NaN (a prediction with NaN has no loss)", f"{n} NaN values")


def check_input_after(out: Tensor, name: str, t: Tensor) -> None:
    """:func:`check_input`'s NaN rule, read from a reduced result instead of the prediction.

    For losses whose ``"mean"``/``"sum"`` is NaN whenever a prediction is (element-wise losses
    with no masking): a finite scalar result proves the prediction NaN-free without another pass
    over it, so the check costs nothing on good input. Other results (``"none"``) get the full
    check. Call :func:`check_float` on ``t`` before computing ``out``.
    """
    if not reads_values(t):
        return
    if out.dim() != 0 or bool(torch.isnan(out.detach())):
        check_input(name, t)


def check_integer(name: str, t: Tensor) -> None:
    """``t`` must hold integer class indices."""
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise LossInputError(name, "an integer tensor of class indices", describe(t))


def as_class_indices(name: str, t: Tensor) -> Tensor:
    """The one rule for integer targets: every integer dtype is accepted and read as int64.

    (``uint8`` is never a boolean mask, ``int8``/``int16``/``int32`` never reach a raw torch
    error.) Bool, floating and complex tensors are refused.
    """
    check_integer(name, t)
    return t if t.dtype == torch.int64 else t.to(torch.int64)


def check_ignore_index(ignore_index: object) -> int | None:
    """``ignore_index`` must be an integer (Python or numpy) or None; returns it as an int."""
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise LossInputError("ignore_index", "an integer or None", repr(ignore_index))
    return int(ignore_index)


def check_label_smoothing(label_smoothing: object) -> None:
    """The one range rule for label smoothing: ``eps`` in ``[0, 1)``.

    ``eps = 1`` would replace every target with the uniform distribution (nothing left to learn
    from the labels), so it is refused everywhere.
    """
    check_scalar_range("label_smoothing", label_smoothing, 0.0, 1.0, high_inclusive=False)


def check_has_values(name: str, t: Tensor, why: str) -> None:
    """Refuse a meta tensor where the computation itself reads values (``why`` says which)."""
    if t.is_meta:
        raise LossInputError(name, f"a tensor with values, not on the meta device ({why})", describe(t))


def check_same_device(name: str, t: Tensor, like: Tensor, like_name: str = "input") -> None:
    """``t`` must live on the same device as ``like``."""
    if t.device != like.device:
        raise LossInputError(name, f"on the device of `{like_name}` ({like.device})", f"a tensor on {t.device}")


def check_sample_weight(name: str, weight: object, shape: Sequence[int], what: str, like: Tensor) -> None:
    """The one rule for sample and class weights: a floating tensor on ``like``'s device,
    broadcastable to ``shape``, every value finite and ``>= 0`` (value check; a negative weight
    would turn a loss into a gain)."""
    check_float(name, weight)
    check_same_device(name, weight, like)  # type: ignore[arg-type]
    check_broadcastable(name, weight, shape, what)  # type: ignore[arg-type]
    check_values_in_range(name, weight, 0.0, math.inf, high_inclusive=False)  # type: ignore[arg-type]


def check_real(name: str, t: Tensor, what: str) -> None:
    """``t`` must hold real numbers (integer, bool or floating; ``what`` says what they mean)."""
    if t.is_complex():
        raise LossInputError(name, f"a real tensor of {what}", describe(t))


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
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isnan(value):
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
    if not reads_values(t):
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
    if not reads_values(target):
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
    if not reads_values(t) or not t.is_floating_point():
        return
    if not bool(torch.isfinite(t).all()):
        raise LossInputError(name, "finite (no NaN or inf)", f"{int((~torch.isfinite(t)).sum())} non-finite values")
