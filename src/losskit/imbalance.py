"""Class-imbalance helpers: class weights and ``pos_weight`` from label counts.

Inputs may be NumPy arrays, lists or tensors; results are float32 tensors ready to pass as
``weight=`` / ``pos_weight=`` to the losses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._validation import check_choice, check_scalar_range

__all__ = ["class_weights", "pos_weight"]

_METHODS = ("balanced", "inverse", "effective_number")


def _as_numpy(y: Any, name: str) -> np.ndarray:
    arr = y.detach().cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)
    if arr.size == 0:
        raise LossInputError(name, "a non-empty array of labels", "an empty array")
    return arr


def class_weights(
    y: Any,
    *,
    num_classes: int | None = None,
    method: str = "balanced",
    beta: float = 0.999,
) -> Tensor:
    r"""Per-class weights ``(C,)`` from integer class labels.

    * ``"balanced"``: scikit-learn's :math:`n / (C \cdot n_c)`.
    * ``"inverse"``: :math:`1 / n_c`, normalised to sum to ``C``.
    * ``"effective_number"``: Cui et al. 2019, "Class-Balanced Loss Based on Effective Number
      of Samples": :math:`(1 - \beta) / (1 - \beta^{n_c})`, normalised to sum to ``C``.

    Args:
        y: class indices ``0 .. C-1``, shape ``(N,)``.
        num_classes: ``C``; default ``max(y) + 1``.
        method: one of the above.
        beta: for ``"effective_number"``, in ``[0, 1)``.

    Raises:
        LossInputError: a class with zero samples (its weight would be infinite), labels that
            are not non-negative integers, or an unknown method.

    Example:
        >>> import torch
        >>> class_weights(torch.tensor([0, 0, 0, 1]), num_classes=2)  # n / (C * n_c)
        tensor([0.6667, 2.0000])
    """
    check_choice("method", method, _METHODS)
    check_scalar_range("beta", beta, 0.0, 1.0, high_inclusive=False)
    arr = _as_numpy(y, "y").reshape(-1)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise LossInputError("y", "integer class indices", f"dtype {arr.dtype}")
    if arr.min() < 0:
        raise LossInputError("y", "non-negative class indices", f"minimum {int(arr.min())}")
    c = int(num_classes) if num_classes is not None else int(arr.max()) + 1
    if arr.max() >= c:
        raise LossInputError("y", f"class indices below num_classes={c}", f"maximum {int(arr.max())}")
    counts = np.bincount(arr, minlength=c).astype(np.float64)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise LossInputError("y", "at least one sample of every class", f"no samples of class(es) {missing}")
    if method == "balanced":
        w = arr.size / (c * counts)
    elif method == "inverse":
        w = 1.0 / counts
        w = w * c / w.sum()
    else:
        w = (1.0 - beta) / (1.0 - np.power(beta, counts)) if beta > 0 else np.ones(c)
        w = w * c / w.sum()
    return torch.as_tensor(w, dtype=torch.float32)


def pos_weight(y: Any) -> Tensor:
    r"""``n_neg / n_pos`` per label for binary ``(N,)`` or multi-label ``(N, L)`` 0/1 targets.

    Pass it as ``pos_weight=`` to :func:`losskit.binary_cross_entropy_with_logits` so that
    positives and negatives of each label carry equal total weight.

    Raises:
        LossInputError: targets other than 0/1, or a label without positives (or negatives).

    Example:
        >>> import torch
        >>> pos_weight(torch.tensor([[1.0], [0.0], [0.0], [0.0]]))  # n_neg / n_pos
        tensor([3.])
    """
    arr = _as_numpy(y, "y").astype(np.float64)
    if not np.all((arr == 0) | (arr == 1)):
        raise LossInputError("y", "binary 0/1 targets", "other values")
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    pos = flat.sum(axis=0)
    neg = flat.shape[0] - pos
    if (pos == 0).any() or (neg == 0).any():
        bad = np.flatnonzero((pos == 0) | (neg == 0)).tolist()
        raise LossInputError("y", "both positive and negative samples for every label", f"label(s) {bad} with only one")
    w = neg / pos
    out = torch.as_tensor(w, dtype=torch.float32)
    return out.reshape(()) if arr.ndim == 1 else out.reshape(arr.shape[1:])
