"""NumPy input checks for the GBDT objectives.

Shape checks always run; checks that read every value (finite labels, label domain, non-negative
weights) follow :func:`losskit.set_validation` like the PyTorch losses. Every failure raises
:class:`losskit.LossInputError` naming the argument.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from losskit._errors import LossInputError
from losskit._validation import values_checked

__all__ = [
    "as_init_score",
    "as_labels",
    "as_raw_score",
    "as_weight",
    "check_binary",
    "check_class_labels",
    "check_unit_interval",
]


def _shape(a: np.ndarray) -> str:
    return f"an array of shape {a.shape}"


def _as_float64(name: str, x: npt.ArrayLike) -> np.ndarray:
    """``x`` as a float64 array; strings and other non-numeric values are refused by name."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        kind = np.asarray(x).dtype if not isinstance(x, (str, bytes)) else type(x).__name__
        raise LossInputError(name, "numeric values (encode string labels as numbers first)", f"{kind} values") from None


def as_init_score(init_score: float | npt.ArrayLike, num_outputs: int) -> np.ndarray:
    """A starting raw score for an objective with ``num_outputs`` outputs: a number (or ``(1,)``)
    for one output, a vector ``(K,)`` for ``K``."""
    init = _as_float64("init_score", init_score)
    if num_outputs == 1:
        if init.size != 1 or init.ndim > 1:
            raise LossInputError("init_score", "a number (the objective has one output)", _shape(init))
        init = init.reshape(())
    elif init.shape != (num_outputs,):
        raise LossInputError("init_score", f"a vector of shape ({num_outputs},) (one start per class)", _shape(init))
    if not np.isfinite(init).all():
        raise LossInputError("init_score", "finite (no NaN or inf)", init.tolist())
    return init


def as_raw_score(raw_score: npt.ArrayLike, num_outputs: int) -> np.ndarray:
    """Raw scores as float64: ``(n,)`` for one output, ``(n, K)`` for ``K`` outputs."""
    z = _as_float64("raw_score", raw_score)
    if num_outputs == 1:
        if z.ndim == 2 and z.shape[1] == 1:
            z = z[:, 0]
        if z.ndim != 1:
            raise LossInputError("raw_score", "of shape (n,) (one raw score per row)", _shape(z))
    elif z.ndim != 2 or z.shape[1] != num_outputs:
        raise LossInputError("raw_score", f"of shape (n, {num_outputs}) (one raw score per class)", _shape(z))
    if values_checked() and not np.isfinite(z).all():
        raise LossInputError("raw_score", "finite (no NaN or inf)", f"{int((~np.isfinite(z)).sum())} non-finite values")
    return z


def as_labels(y_true: npt.ArrayLike, n: int | None) -> np.ndarray:
    """Labels as a float64 vector of length ``n`` (any length when ``n`` is None), all finite."""
    y = _as_float64("y_true", y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        expected = "a vector of shape (n,)" if n is None else f"of shape ({n},) (one label per row of `raw_score`)"
        raise LossInputError("y_true", expected, _shape(y))
    if values_checked() and not np.isfinite(y).all():
        raise LossInputError("y_true", "finite labels (no NaN or inf)", f"{int((~np.isfinite(y)).sum())} non-finite")
    return y


def as_weight(sample_weight: npt.ArrayLike | None, n: int) -> np.ndarray | None:
    """Sample weights as a float64 vector of length ``n``, finite and non-negative (empty means none)."""
    if sample_weight is None:
        return None
    w = _as_float64("sample_weight", sample_weight)
    if w.size == 0:
        return None
    if w.ndim != 1 or w.shape[0] != n:
        raise LossInputError("sample_weight", f"of shape ({n},) (one weight per row)", _shape(w))
    if values_checked() and not (np.isfinite(w).all() and (w >= 0).all()):
        raise LossInputError("sample_weight", "finite and non-negative", f"{int((~(w >= 0)).sum())} negative or NaN")
    return w


def check_unit_interval(y: np.ndarray) -> None:
    """Binary labels, possibly soft: every value in [0, 1]."""
    if values_checked():
        bad = (y < 0) | (y > 1)
        if bad.any():
            raise LossInputError("y_true", "labels in [0, 1]", f"{int(bad.sum())} outside it (e.g. {y[bad][0]})")


def check_binary(y: np.ndarray) -> None:
    """Hard binary labels: every value 0 or 1."""
    if values_checked():
        bad = (y != 0) & (y != 1)
        if bad.any():
            raise LossInputError("y_true", "labels 0 or 1", f"{int(bad.sum())} other values (e.g. {y[bad][0]})")


def check_class_labels(y: np.ndarray, num_class: int) -> np.ndarray:
    """Class indices ``0 .. num_class - 1`` stored as floats; returns them as integers."""
    if values_checked():
        bad = (y < 0) | (y >= num_class) | (y != np.floor(y))
        if bad.any():
            raise LossInputError(
                "y_true", f"class indices in 0..{num_class - 1}", f"{int(bad.sum())} other values (e.g. {y[bad][0]})"
            )
    return y.astype(np.intp)
