r"""Ranking metrics on padded lists: NDCG@k, MRR and MAP@k.

Inputs are ``N`` lists padded to a common length ``L`` (the layout of the listwise losses and
:func:`losskit.pad_lists`): relevance ``y_true`` ``(N, L)``, scores ``y_score`` ``(N, L)`` and an
optional boolean ``mask`` ``(N, L)`` marking the real entries (padding is ignored whatever it
holds). Each metric is computed per list and averaged over the lists (weighted by
``sample_weight``, one weight per list); ``reduction="none"`` returns the ``(N,)`` per-list values
instead (what a bootstrap over queries resamples). A list without a relevant entry scores 0 in
every metric, as in scikit-learn's ``ndcg_score``.

* **NDCG@k** (Järvelin & Kekäläinen 2002): DCG of the top ``k`` by score over the ideal DCG, with
  discount :math:`1/\log_2(1 + \text{rank})` and gain ``2^y - 1`` (``gain="exponential"``, the
  convention of LightGBM, XGBoost and the LambdaLoss paper) or ``y`` (``gain="linear"``,
  scikit-learn's). Tied scores share their positions' discounts equally (their gains are
  averaged), exactly as ``sklearn.metrics.ndcg_score`` does, so a constant scorer gets the
  expected NDCG of a random order, not a lucky one.
* **MRR**: the reciprocal rank of the first relevant entry (``y_true > 0``).
* **MAP@k**: mean over lists of :math:`\frac{1}{\min(k, R)}\sum_{i \le k} P@i \cdot
  \text{rel}_i`, with ``R`` relevant entries in the list (``k=None``: the whole list, which is
  ``sklearn.metrics.average_precision_score`` of the list).

MRR and MAP break ties in scores *against* the relevant entries (a relevant entry tied with
irrelevant ones ranks after them), so ties never flatter a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losskit._errors import LossInputError
from losskit._validation import check_choice
from losskit.evaluate._inputs import _describe as _describe_array
from losskit.evaluate._inputs import as_sample_weight

__all__ = ["GAINS", "map_at_k", "mrr", "ndcg_at_k"]

GAINS = ("exponential", "linear")
REDUCTIONS = ("mean", "none")


def _reduce(values: list[float], w: np.ndarray, reduction: str) -> float | np.ndarray:
    if reduction == "none":
        return np.asarray(values, dtype=np.float64)
    return float(np.average(values, weights=w))


def _as_2d(name: str, x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 2:
        raise LossInputError(name, "a 2-D array (N lists, L entries)", _describe_array(a))
    return a


def _lists(y_true: Any, y_score: Any, mask: Any, sample_weight: Any, k: int | None):
    y = _as_2d("y_true", y_true).astype(np.float64)
    s = _as_2d("y_score", y_score).astype(np.float64)
    if s.shape != y.shape:
        raise LossInputError("y_score", f"of shape {y.shape} (the shape of y_true)", f"shape {s.shape}")
    if y.shape[0] == 0:
        raise LossInputError("y_true", "at least one list", "0 lists")
    m = np.ones(y.shape, dtype=bool) if mask is None else _as_2d("mask", mask)
    if m.dtype != np.bool_ or m.shape != y.shape:
        raise LossInputError("mask", f"a boolean array of shape {y.shape}", _describe_array(m))
    for name, a in (("y_true", y), ("y_score", s)):
        if not np.isfinite(a[m]).all():
            bad = int((~np.isfinite(a[m])).sum())
            raise LossInputError(name, "finite values at the real entries", f"{bad} NaN or inf")
    if (y[m] < 0).any():
        raise LossInputError("y_true", "non-negative relevance", f"{int((y[m] < 0).sum())} negative values")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise LossInputError("k", "a positive integer or None", repr(k))
    w = as_sample_weight(sample_weight, y.shape[0])
    return [(y[i][m[i]], s[i][m[i]]) for i in range(y.shape[0])], w


def _discounts(n: int, k: int | None) -> np.ndarray:
    d = 1.0 / np.log2(np.arange(2, n + 2))
    if k is not None:
        d[k:] = 0.0
    return d


def _tie_averaged_dcg(gains: np.ndarray, scores: np.ndarray, k: int | None) -> float:
    """DCG of ``gains`` ordered by ``scores``, tied scores sharing their positions' discounts."""
    _, inverse, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    group_gain = np.zeros(len(counts))
    np.add.at(group_gain, inverse, gains)
    cumulative = np.concatenate([[0.0], np.cumsum(_discounts(len(gains), k))])
    ends = np.cumsum(counts)
    group_discount = cumulative[ends] - cumulative[ends - counts]
    return float((group_gain / counts * group_discount).sum())


def ndcg_at_k(
    y_true: Any,
    y_score: Any,
    *,
    k: int | None = None,
    mask: Any = None,
    gain: str = "exponential",
    sample_weight: Any = None,
    reduction: str = "mean",
) -> float | np.ndarray:
    """Mean NDCG@k over the lists (see the module docs); ``k=None`` uses whole lists.

    Example:
        >>> from losskit.evaluate import ndcg_at_k
        >>> round(ndcg_at_k([[3, 2, 0, 1]], [[0.9, 0.1, 0.5, 0.3]], k=3, gain="linear"), 4)
        0.735
    """
    check_choice("gain", gain, GAINS)
    check_choice("reduction", reduction, REDUCTIONS)
    lists, w = _lists(y_true, y_score, mask, sample_weight, k)
    values = []
    for y, s in lists:
        g = np.expm1(y * np.log(2.0)) if gain == "exponential" else y
        ideal = float((np.sort(g)[::-1] * _discounts(len(g), k)).sum())
        values.append(_tie_averaged_dcg(g, s, k) / ideal if ideal > 0 else 0.0)
    return _reduce(values, w, reduction)


def _relevant_in_rank_order(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Relevance flags sorted by score, descending, ties broken against relevant entries."""
    relevant = y > 0
    order = np.lexsort((relevant, -s))  # primary key: -score; among ties, irrelevant first
    return relevant[order]


def mrr(
    y_true: Any, y_score: Any, *, mask: Any = None, sample_weight: Any = None, reduction: str = "mean"
) -> float | np.ndarray:
    """Mean reciprocal rank of the first relevant entry (``y_true > 0``) over the lists.

    Example:
        >>> from losskit.evaluate import mrr
        >>> mrr([[0, 1, 0], [1, 0, 0]], [[0.9, 0.5, 0.1], [0.2, 0.3, 0.1]])
        0.5
    """
    check_choice("reduction", reduction, REDUCTIONS)
    lists, w = _lists(y_true, y_score, mask, sample_weight, None)
    values = []
    for y, s in lists:
        hits = np.flatnonzero(_relevant_in_rank_order(y, s))
        values.append(1.0 / (hits[0] + 1) if hits.size else 0.0)
    return _reduce(values, w, reduction)


def map_at_k(
    y_true: Any,
    y_score: Any,
    *,
    k: int | None = None,
    mask: Any = None,
    sample_weight: Any = None,
    reduction: str = "mean",
) -> float | np.ndarray:
    """Mean average precision at ``k`` over the lists (see the module docs).

    Example:
        >>> from losskit.evaluate import map_at_k
        >>> map_at_k([[1, 0, 1, 0]], [[0.9, 0.8, 0.7, 0.1]])  # (1/1 + 2/3) / 2
        0.8333333333333333
    """
    check_choice("reduction", reduction, REDUCTIONS)
    lists, w = _lists(y_true, y_score, mask, sample_weight, k)
    values = []
    for y, s in lists:
        hit = _relevant_in_rank_order(y, s).astype(np.float64)
        total = hit.sum()
        if total == 0:
            values.append(0.0)
            continue
        cut = len(hit) if k is None else min(k, len(hit))
        precision = np.cumsum(hit) / np.arange(1, len(hit) + 1)
        values.append(float((precision * hit)[:cut].sum() / min(cut if k is not None else total, total)))
    return _reduce(values, w, reduction)
