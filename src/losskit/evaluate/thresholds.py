"""Decision-threshold tuning, exact on the validation scores.

A sample is predicted positive when ``y_score >= threshold``. Every distinct score is a
candidate threshold (plus ``inf``, which predicts nothing positive), so the chosen threshold is
the best the validation data allows, not the best point of a grid. The scores are sorted once
and the weighted confusion counts of every candidate come from cumulative sums: O(n log n).

Objectives (maximised unless stated), with weighted counts TP, FP, FN, TN:

* ``"f1"``: ``2 TP / (2 TP + FP + FN)``.
* ``"f_beta"`` (``beta``): ``(1 + β²) TP / ((1 + β²) TP + β² FN + FP)``.
* ``"precision_at_recall"`` (``min_recall``): the highest precision with recall ≥ ``min_recall``
  (ties: higher recall).
* ``"recall_at_precision"`` (``min_precision``): the highest recall with precision ≥
  ``min_precision`` (ties: higher precision).
* ``"cost"`` (``cost_fp``, ``cost_fn``, optional ``gain_tp``, ``gain_tn``; minimised): the mean
  cost per unit of sample weight, ``(c_fp FP + c_fn FN - g_tp TP - g_tn TN) / (P + N)``.
* ``"youden"``: Youden's J = TPR - FPR (Youden 1950).

Remaining ties go to the highest threshold. Tune on validation or out-of-fold scores, never on
the training data. Reference: Lipton, Elkan & Naryanaswamy, "Optimal Thresholding of Classifiers
to Maximize F1 Measure", ECML PKDD 2014.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from losskit._errors import LossInputError
from losskit._validation import check_choice, check_scalar_range
from losskit.evaluate._inputs import as_array, as_sample_weight, check_binary_labels, check_length

__all__ = ["OBJECTIVES", "MultiLabelThresholdResult", "ThresholdCurve", "ThresholdResult", "tune_threshold"]

OBJECTIVES = ("f1", "f_beta", "precision_at_recall", "recall_at_precision", "cost", "youden")

# Which optional argument each objective reads; any other one given is refused.
_PARAMETERS = {
    "f1": (),
    "f_beta": ("beta",),
    "precision_at_recall": ("min_recall",),
    "recall_at_precision": ("min_precision",),
    "cost": ("cost_fp", "cost_fn", "gain_tp", "gain_tn"),
    "youden": (),
}


@dataclass(frozen=True)
class ThresholdCurve:
    """Weighted confusion counts and rates at every candidate threshold (descending thresholds).

    ``objective`` holds the objective's value per candidate, NaN where it is undefined or the
    candidate breaks the objective's constraint.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fpr: np.ndarray
    objective: np.ndarray


@dataclass(frozen=True)
class ThresholdResult:
    """The chosen threshold, the objective's value there, the metrics there and the whole curve.

    ``threshold`` is NaN (and ``score`` too) when no candidate satisfies the objective.
    """

    threshold: float
    objective: str
    score: float
    metrics: dict[str, float]
    curve: ThresholdCurve


@dataclass(frozen=True)
class MultiLabelThresholdResult:
    """One :class:`ThresholdResult` per label; ``threshold`` and ``score`` gather them as arrays."""

    threshold: np.ndarray
    score: np.ndarray
    objective: str
    per_label: tuple[ThresholdResult, ...]


def tune_threshold(
    y_true: Any,
    y_score: Any,
    *,
    objective: str = "f1",
    beta: float | None = None,
    min_recall: float | None = None,
    min_precision: float | None = None,
    cost_fp: float | None = None,
    cost_fn: float | None = None,
    gain_tp: float | None = None,
    gain_tn: float | None = None,
    sample_weight: Any | None = None,
) -> ThresholdResult | MultiLabelThresholdResult:
    """Choose the decision threshold that optimises ``objective`` on validation scores.

    Args:
        y_true: ``(N,)`` 0/1 labels (binary) or ``(N, L)`` 0/1 indicators (multi-label: one
            threshold per label).
        y_score: scores of the same shape; any real values (probabilities, logits, margins).
        objective: one of :data:`OBJECTIVES` (see the module docstring).
        beta: β > 0 of ``"f_beta"`` (required there).
        min_recall: recall floor in [0, 1] of ``"precision_at_recall"`` (required there).
        min_precision: precision floor in [0, 1] of ``"recall_at_precision"`` (required there).
        cost_fp, cost_fn: costs ≥ 0 of a false positive / false negative for ``"cost"``
            (default 1 each, which minimises the weighted error rate).
        gain_tp, gain_tn: gains ≥ 0 of a true positive / true negative for ``"cost"`` (default 0).
        sample_weight: optional ``(N,)`` non-negative weights.

    Returns:
        :class:`ThresholdResult` (binary) or :class:`MultiLabelThresholdResult` (multi-label).
        ``metrics`` holds threshold, precision, recall, f1, fpr, tp, fp, fn, tn and the
        objective's value at the chosen threshold.

    Example:
        >>> from losskit.evaluate import tune_threshold
        >>> r = tune_threshold([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7])
        >>> float(r.threshold), r.score
        (0.35, 0.8571428571428571)
    """
    check_choice("objective", objective, OBJECTIVES)
    params = _check_parameters(
        objective,
        beta=beta,
        min_recall=min_recall,
        min_precision=min_precision,
        cost_fp=cost_fp,
        cost_fn=cost_fn,
        gain_tp=gain_tp,
        gain_tn=gain_tn,
    )
    yt = as_array("y_true", y_true, ndim=(1, 2))
    ys = as_array("y_score", y_score, ndim=(1, 2))
    if ys.shape != yt.shape:
        check_length("y_score", ys, yt.shape[0])
        raise LossInputError("y_score", f"of shape {yt.shape} (the shape of y_true)", f"shape {ys.shape}")
    y = check_binary_labels("y_true", yt)
    w = as_sample_weight(sample_weight, y.shape[0])
    if y.ndim == 1:
        return _tune_binary(y, ys, w, objective, params)
    per_label = tuple(_tune_binary(y[:, j], ys[:, j], w, objective, params, label=j) for j in range(y.shape[1]))
    return MultiLabelThresholdResult(
        threshold=np.array([r.threshold for r in per_label]),
        score=np.array([r.score for r in per_label]),
        objective=objective,
        per_label=per_label,
    )


def _check_parameters(objective: str, **given: float | None) -> dict[str, float]:
    used = _PARAMETERS[objective]
    for name, value in given.items():
        if value is not None and name not in used:
            raise LossInputError(name, f"None for objective {objective!r}", value)
    params: dict[str, float] = {}
    for name in used:
        value = given[name]
        if value is None:
            if objective != "cost":
                raise LossInputError(name, f"a number for objective {objective!r}", None)
            value = 1.0 if name.startswith("cost") else 0.0
        if name == "beta":
            check_scalar_range(name, value, 0.0, math.inf, low_inclusive=False, high_inclusive=False)
        elif name.startswith("min_"):
            check_scalar_range(name, value, 0.0, 1.0)
        else:
            check_scalar_range(name, value, 0.0, math.inf, high_inclusive=False)
        params[name] = float(value)
    return params


def _divide(num: np.ndarray, den: np.ndarray | float) -> np.ndarray:
    """``num / den`` with NaN where the denominator is zero."""
    den = np.broadcast_to(np.asarray(den, dtype=np.float64), num.shape)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _curve_counts(y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (``inf`` then distinct scores, descending) and the weighted TP, FP at each."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    w_sorted = np.ones_like(s_sorted) if w is None else w[order]
    tp = np.cumsum(w_sorted * y_sorted)
    fp = np.cumsum(w_sorted * (1 - y_sorted))
    group_end = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    return np.r_[np.inf, s_sorted[group_end]], np.r_[0.0, tp[group_end]], np.r_[0.0, fp[group_end]]


def _objective(name: str, params: dict[str, float], c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """The value to maximise per candidate (NaN: undefined or infeasible) and a tie-breaker."""
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    if name == "f1":
        return _divide(2 * tp, 2 * tp + fp + fn), None
    if name == "f_beta":
        b2 = params["beta"] ** 2
        return _divide((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp), None
    if name == "precision_at_recall":
        feasible = c["recall"] >= params["min_recall"]
        return np.where(feasible, c["precision"], np.nan), c["recall"]
    if name == "recall_at_precision":
        feasible = c["precision"] >= params["min_precision"]
        return np.where(feasible, c["recall"], np.nan), c["precision"]
    if name == "cost":
        cost = params["cost_fp"] * fp + params["cost_fn"] * fn - params["gain_tp"] * tp - params["gain_tn"] * tn
        return -cost / (tp + fp + fn + tn), None
    return c["recall"] - c["fpr"], None


def _best(value: np.ndarray, tie: np.ndarray | None) -> int | None:
    """Index of the best candidate: max value, then max tie-breaker, then the first (highest threshold)."""
    if np.isnan(value).all():
        return None
    top = np.nanmax(value)
    near = value >= top - 1e-12 * max(1.0, abs(top))
    if tie is not None:
        tie = np.where(near, np.nan_to_num(tie, nan=-np.inf), -np.inf)
        near &= tie >= tie.max() - 1e-12
    return int(np.flatnonzero(near)[0])


def _tune_binary(
    y: np.ndarray,
    s: np.ndarray,
    w: np.ndarray | None,
    objective: str,
    params: dict[str, float],
    label: int | None = None,
) -> ThresholdResult:
    where = "" if label is None else f" (label {label})"
    thresholds, tp, fp = _curve_counts(y, s, w)
    positives, negatives = tp[-1], fp[-1]
    if positives == 0 or negatives == 0:
        warnings.warn(
            f"y_true{where} holds only one class; the {objective!r} curve is degenerate.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    counts = {"tp": tp, "fp": fp, "fn": positives - tp, "tn": negatives - fp}
    counts |= {
        "precision": _divide(tp, tp + fp),
        "recall": _divide(tp, positives),
        "fpr": _divide(fp, negatives),
    }
    value, tie = _objective(objective, params, counts)
    reported = -value if objective == "cost" else value
    curve = ThresholdCurve(thresholds=thresholds, objective=reported, **counts)
    best = _best(value, tie)
    if best is None:
        warnings.warn(
            f"no threshold{where} gives a defined {objective!r} that meets its constraint {params}; "
            "returning a NaN threshold.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        nan_metrics = dict.fromkeys(("threshold", "precision", "recall", "f1", "fpr", "tp", "fp", "fn", "tn"), math.nan)
        return ThresholdResult(math.nan, objective, math.nan, nan_metrics | {objective: math.nan}, curve)
    at = {key: float(arr[best]) for key, arr in counts.items()}
    at["f1"] = float(_divide(np.array([2 * at["tp"]]), 2 * at["tp"] + at["fp"] + at["fn"])[0])
    at = {"threshold": float(thresholds[best])} | at | {objective: float(reported[best])}
    return ThresholdResult(float(thresholds[best]), objective, float(reported[best]), at, curve)
