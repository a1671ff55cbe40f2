r"""Metrics of ordinal predictions: mean absolute error on the level index and quadratic weighted
kappa.

Levels are integers ``0 .. K-1`` (as predicted by :func:`losskit.corn_predict` /
:func:`losskit.coral_predict`). Both metrics respect the order: predicting level 3 for a 0 costs
more than predicting 1.

Quadratic weighted kappa (Cohen 1968) is agreement beyond chance with disagreement weights
:math:`(i - j)^2`:

.. math::
    \kappa = 1 - \frac{\sum_{ij} (i-j)^2 O_{ij}}{\sum_{ij} (i-j)^2 E_{ij}},\qquad
    E = \frac{O \mathbf 1 \, \mathbf 1^\top O}{\mathbf 1^\top O \mathbf 1}

with :math:`O` the (weighted) confusion matrix over the levels ``0 .. K-1``. It equals
``sklearn.metrics.cohen_kappa_score(y_true, y_pred, weights="quadratic", labels=range(K))``;
scikit-learn without ``labels`` weighs by the position among the *observed* labels instead of
the level, which differs when a level is missing. Undefined (NaN with a warning) when all
targets and predictions sit on one level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losskit._errors import LossInputError
from losskit.evaluate._inputs import as_labels, as_sample_weight, check_length, undefined

__all__ = ["level_mae", "quadratic_weighted_kappa"]


def _levels(y_true: Any, y_pred: Any, sample_weight: Any, num_levels: int | None):
    y = as_labels("y_true", y_true)
    p = as_labels("y_pred", y_pred)
    check_length("y_pred", p, y.shape[0])
    w = as_sample_weight(sample_weight, y.shape[0])
    for name, a in (("y_true", y), ("y_pred", p)):
        if (a < 0).any():
            raise LossInputError(name, "levels >= 0", f"{int((a < 0).sum())} negative values")
    top = int(max(y.max(), p.max())) + 1
    if num_levels is None:
        num_levels = top
    elif isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < top:
        raise LossInputError("num_levels", f"an integer >= {top} (the highest level + 1)", repr(num_levels))
    return y, p, w, num_levels


def level_mae(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Mean absolute difference of the level indices (weighted mean with ``sample_weight``).

    Example:
        >>> from losskit.evaluate import level_mae
        >>> level_mae([0, 1, 2, 3], [0, 2, 2, 1])
        0.75
    """
    y, p, w, _ = _levels(y_true, y_pred, sample_weight, None)
    return float(np.average(np.abs(y - p), weights=w))


def quadratic_weighted_kappa(
    y_true: Any, y_pred: Any, *, num_levels: int | None = None, sample_weight: Any = None
) -> float:
    """Quadratic weighted kappa over levels ``0 .. num_levels - 1`` (default: up to the highest
    level seen); 1 is perfect agreement, 0 chance level (see the module docs).

    Example:
        >>> from losskit.evaluate import quadratic_weighted_kappa
        >>> quadratic_weighted_kappa([0, 1, 2, 3], [0, 2, 2, 1])
        0.375
    """
    y, p, w, k = _levels(y_true, y_pred, sample_weight, num_levels)
    observed = np.zeros((k, k))
    np.add.at(observed, (y, p), 1.0 if w is None else w)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    idx = np.arange(k)
    disagreement = (idx[:, None] - idx[None, :]) ** 2.0
    chance = float((disagreement * expected).sum())
    if chance == 0.0:
        return undefined("quadratic weighted kappa", "targets and predictions all sit on one level")
    return 1.0 - float((disagreement * observed).sum()) / chance
