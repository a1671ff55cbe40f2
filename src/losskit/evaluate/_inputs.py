"""Input conversion and checks shared by the evaluation functions.

Evaluation runs on the host in float64: every array-like (NumPy array, list, torch tensor on
any device) is converted once here, and every bad input raises
:class:`losskit.LossInputError` naming the argument.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import UndefinedMetricWarning

from losskit._errors import LossInputError

__all__ = [
    "as_array",
    "as_labels",
    "as_sample_weight",
    "check_binary_labels",
    "check_length",
    "check_probabilities",
    "check_simplex",
    "check_threshold",
    "undefined",
]

_SIMPLEX_ATOL = 1e-4


def _describe(a: np.ndarray) -> str:
    return f"an array of shape {a.shape} and dtype {a.dtype}"


def as_array(name: str, x: Any, *, ndim: tuple[int, ...] = (1,), allow_empty: bool = False) -> np.ndarray:
    """Convert ``x`` to a finite float64 array with one of the allowed numbers of dimensions."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise LossInputError(name, "numeric array-like", type(x).__name__) from None
    if a.ndim not in ndim:
        dims = " or ".join(f"{d}-D" for d in ndim)
        raise LossInputError(name, f"a {dims} array", _describe(a))
    if not allow_empty and a.shape[0] == 0:
        raise LossInputError(name, "non-empty (at least one sample)", "0 samples")
    if not np.isfinite(a).all():
        raise LossInputError(name, "finite (no NaN or inf)", f"{int((~np.isfinite(a)).sum())} non-finite values")
    return a


def as_labels(name: str, x: Any, *, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    """Convert integer-valued labels (ints, bools or whole floats) to an int64 array."""
    a = as_array(name, x, ndim=ndim)
    if not np.array_equal(a, np.round(a)):
        raise LossInputError(name, "integer class labels", "non-integer values")
    return a.astype(np.int64)


def check_length(name: str, a: np.ndarray, n: int, what: str = "the length of y_true") -> None:
    if a.shape[0] != n:
        raise LossInputError(name, f"of length {n} ({what})", f"length {a.shape[0]}")


def as_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """Non-negative finite per-sample weights of length ``n`` with a positive total, or None."""
    if sample_weight is None:
        return None
    w = as_array("sample_weight", sample_weight)
    check_length("sample_weight", w, n)
    if (w < 0).any():
        raise LossInputError("sample_weight", "non-negative", f"{int((w < 0).sum())} negative values")
    if w.sum() <= 0:
        raise LossInputError("sample_weight", "weights with a positive sum", "all zeros")
    return w


def check_binary_labels(name: str, y: np.ndarray) -> np.ndarray:
    """Labels must be 0/1 (or booleans); returns them as int64."""
    if not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:3].tolist()
        raise LossInputError(name, "binary labels in {0, 1}", f"values such as {bad}")
    return y.astype(np.int64)


def check_probabilities(name: str, p: np.ndarray, hint: str = "apply a sigmoid to logits") -> None:
    if ((p < 0) | (p > 1)).any():
        bad = p[(p < 0) | (p > 1)].ravel()
        raise LossInputError(name, f"probabilities in [0, 1] ({hint})", f"{bad.size} values outside it (e.g. {bad[0]})")


def check_simplex(name: str, p: np.ndarray) -> None:
    """Rows of a 2-D array must be probability vectors (entries in [0, 1] summing to 1)."""
    check_probabilities(name, p, "apply a softmax to logits")
    sums = p.sum(axis=1)
    off = np.abs(sums - 1) > _SIMPLEX_ATOL
    if off.any():
        raise LossInputError(
            name,
            "class probabilities whose rows sum to 1 (apply a softmax to logits)",
            f"a row summing to {sums[off][0]}",
        )


def check_threshold(threshold: Any, name: str = "threshold") -> float:
    """A decision threshold: any real number except NaN (``inf`` predicts nothing positive)."""
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise LossInputError(name, "a number", repr(threshold))
    if math.isnan(threshold):
        raise LossInputError(name, "a number", "nan")
    return float(threshold)


def undefined(metric: str, reason: str) -> float:
    """Warn that ``metric`` is undefined for this input, and return NaN in its place."""
    warnings.warn(f"{metric} is undefined: {reason}; returning NaN.", UndefinedMetricWarning, stacklevel=3)
    return math.nan
