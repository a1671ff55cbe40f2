"""The metrics a practitioner reports, per task, computed with :mod:`sklearn.metrics`.

:func:`metrics` returns one flat ``dict[str, float]``. Which metrics depends on the task:

=============  ==========================================================================
task           keys
=============  ==========================================================================
binary         accuracy, balanced_accuracy, precision, recall, f1, roc_auc,
               average_precision (PR-AUC), log_loss, brier
multiclass     accuracy, macro_f1, weighted_f1, top_{k}_accuracy (when k < classes), log_loss
multilabel     subset_accuracy, hamming_loss, micro_f1, macro_f1, average_precision_{j} per
               label j, average_precision_macro
regression     mae, mse, rmse, r2, median_absolute_error
quantile       pinball_{q} and coverage_{q} (share of ``y_true <= prediction``) per level q,
               pinball_mean, and for every central pair (q, 1 - q): interval_coverage_{q}_{1-q}
               and interval_width_{q}_{1-q}
=============  ==========================================================================

A metric that is undefined for the input (ROC-AUC with one class present, precision with
nothing predicted positive, R² of a constant target, ...) comes back as NaN with an
:class:`sklearn.exceptions.UndefinedMetricWarning` that says why; it never raises.

Hard predictions use ``y_score >= threshold`` (scikit-learn's convention in its curves), so a
threshold from :func:`losskit.evaluate.tune_threshold` reproduces its metrics exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils.multiclass import type_of_target

from losskit._errors import LossInputError
from losskit._validation import check_choice
from losskit.evaluate._inputs import (
    as_array,
    as_labels,
    as_sample_weight,
    check_binary_labels,
    check_length,
    check_probabilities,
    check_simplex,
    check_threshold,
    undefined,
)
from losskit.tasks import infer_task as target_task

__all__ = ["TASKS", "infer_task", "metrics"]

TASKS = ("binary", "multiclass", "multilabel", "regression", "quantile")


def metrics(
    y_true: Any,
    y_score: Any,
    *,
    task: str | None = None,
    threshold: float | Any | None = None,
    sample_weight: Any | None = None,
    quantiles: Any | None = None,
    top_k: int = 5,
) -> dict[str, float]:
    """Compute the standard metrics of a task in one call.

    Args:
        y_true: labels or targets. Binary: ``(N,)`` in {0, 1}. Multi-class: ``(N,)`` class
            indices. Multi-label: ``(N, L)`` in {0, 1}. Regression: ``(N,)`` or ``(N, D)``.
            Quantile: ``(N,)``.
        y_score: predictions. Binary: ``(N,)`` probability of the positive class (or
            ``(N, 2)`` class probabilities). Multi-class: ``(N, C)`` class probabilities.
            Multi-label: ``(N, L)`` per-label probabilities. Regression: same shape as
            ``y_true``. Quantile: ``(N, Q)``, one column per level in ``quantiles``.
        task: one of :data:`TASKS`; inferred by :func:`infer_task` when None.
        threshold: decision threshold for the hard predictions of the binary (default 0.5)
            and multi-label tasks (a number or one per label).
        sample_weight: optional ``(N,)`` non-negative weights.
        quantiles: the levels in (0, 1), strictly increasing, of the columns of ``y_score``;
            giving them selects the quantile task.
        top_k: ``k`` of the multi-class top-k accuracy.

    Returns:
        A flat dict of floats (see the module docstring for the keys).

    Raises:
        LossInputError: mismatched lengths, NaN, probabilities outside [0, 1], labels that do
            not fit the task, an unknown task.

    Example:
        >>> from losskit.evaluate import metrics
        >>> m = metrics([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4])
        >>> m["accuracy"], m["roc_auc"]
        (1.0, 1.0)
    """
    yt = as_array("y_true", y_true, ndim=(1, 2))
    ys = as_array("y_score", y_score, ndim=(1, 2))
    check_length("y_score", ys, yt.shape[0])
    w = as_sample_weight(sample_weight, yt.shape[0])
    if task is None:
        task = _infer(yt, ys, quantiles)
    check_choice("task", task, TASKS)
    if threshold is not None and task not in ("binary", "multilabel"):
        raise LossInputError("threshold", f"None for task {task!r} (it applies to binary and multilabel)", threshold)
    if quantiles is not None and task != "quantile":
        raise LossInputError("quantiles", f"None for task {task!r}", "levels")
    if task == "binary":
        return _binary(yt, ys, threshold, w)
    if task == "multiclass":
        return _multiclass(yt, ys, w, top_k)
    if task == "multilabel":
        return _multilabel(yt, ys, threshold, w)
    if task == "regression":
        return _regression(yt, ys, w)
    return _quantile(yt, ys, quantiles, w)


def infer_task(y_true: Any, y_score: Any, *, quantiles: Any | None = None) -> str:
    """Tell the task from the targets (:func:`sklearn.utils.multiclass.type_of_target`) and score shape.

    * ``quantiles`` given: ``"quantile"``.
    * 2-D 0/1 targets: ``"multilabel"``.
    * 0/1 targets with ``(N,)``, ``(N, 1)`` or ``(N, 2)`` scores: ``"binary"``.
    * integer targets with ``(N, C)`` scores, ``C > 2`` (or non-0/1 labels): ``"multiclass"``.
    * continuous targets, or integer targets that :func:`losskit.tasks.infer_task` (the task
      rule the advisor and the lab use) reads as a quantity, with one score per target:
      ``"regression"``; integer targets that rule reads as classes, with one score per row,
      are ambiguous and raise, asking for ``task``.

    A continuous 1-D target with 2-D predictions is ambiguous (quantiles or nothing): it raises
    and asks for ``quantiles``.
    """
    return _infer(as_array("y_true", y_true, ndim=(1, 2)), as_array("y_score", y_score, ndim=(1, 2)), quantiles)


def _infer(yt: np.ndarray, ys: np.ndarray, quantiles: Any | None) -> str:
    if quantiles is not None:
        return "quantile"
    kind = type_of_target(yt)
    if kind == "multilabel-indicator":
        return "multilabel"
    if kind in ("binary", "multiclass") and yt.ndim == 1:
        zero_one = bool(np.isin(yt, (0, 1)).all())
        if ys.ndim == 2 and (ys.shape[1] > 2 or not zero_one):
            return "multiclass"
        if zero_one and (ys.ndim == 1 or ys.shape[1] <= 2):
            return "binary"
        if ys.ndim == 1 and target_task(yt) != "regression":
            raise LossInputError(
                "task", "given: one score per row of a class-label target (read them as classes or values?)", None
            )
    if yt.ndim == 1 and ys.ndim == 2 and ys.shape[1] > 1:
        raise LossInputError(
            "quantiles", "the level of each column of y_score (2-D predictions of a 1-D continuous target)", None
        )
    return "regression"


def _safe(name: str, fn: Callable[[], float], reason: str | None = None) -> float:
    """Run one scikit-learn metric; an undefined one (known ``reason`` or sklearn's warning) is NaN."""
    if reason is not None:
        return undefined(name, reason)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        try:
            value = float(fn())
        except UndefinedMetricWarning as exc:
            return undefined(name, str(exc))
    if math.isnan(value):
        return undefined(name, "scikit-learn returned NaN (a 0/0 for this input)")
    return value


def _weighted_count(mask: np.ndarray, w: np.ndarray | None) -> float:
    return float(mask.sum() if w is None else w[mask].sum())


def _binary(yt: np.ndarray, ys: np.ndarray, threshold: Any, w: np.ndarray | None) -> dict[str, float]:
    if yt.ndim != 1:
        raise LossInputError("y_true", "a 1-D array of 0/1 labels for task 'binary'", f"shape {yt.shape}")
    y = check_binary_labels("y_true", yt)
    if ys.ndim == 2:
        if ys.shape[1] == 2:
            check_simplex("y_score", ys)
        elif ys.shape[1] != 1:
            raise LossInputError("y_score", "of shape (N,), (N, 1) or (N, 2) for task 'binary'", f"shape {ys.shape}")
        ys = ys[:, -1]
    check_probabilities("y_score", ys)
    t = 0.5 if threshold is None else check_threshold(threshold)
    pred = (ys >= t).astype(np.int64)
    pos, neg, pred_pos = _weighted_count(y == 1, w), _weighted_count(y == 0, w), _weighted_count(pred == 1, w)
    one_class = None if pos > 0 and neg > 0 else f"y_true holds only class {int(pos > 0)}"
    no_pos = None if pos > 0 else "y_true has no positive samples"
    return {
        "accuracy": _safe("accuracy", lambda: skm.accuracy_score(y, pred, sample_weight=w)),
        "balanced_accuracy": _safe(
            "balanced_accuracy", lambda: skm.balanced_accuracy_score(y, pred, sample_weight=w), one_class
        ),
        "precision": _safe(
            "precision",
            lambda: skm.precision_score(y, pred, sample_weight=w, zero_division=np.nan),
            None if pred_pos > 0 else f"no sample is predicted positive at threshold {t}",
        ),
        "recall": _safe("recall", lambda: skm.recall_score(y, pred, sample_weight=w, zero_division=np.nan), no_pos),
        "f1": _safe(
            "f1",
            lambda: skm.f1_score(y, pred, sample_weight=w, zero_division=np.nan),
            None if pos > 0 or pred_pos > 0 else f"no positive samples and none predicted at threshold {t}",
        ),
        "roc_auc": _safe("roc_auc", lambda: skm.roc_auc_score(y, ys, sample_weight=w), one_class),
        "average_precision": _safe(
            "average_precision", lambda: skm.average_precision_score(y, ys, sample_weight=w), no_pos
        ),
        "log_loss": _safe("log_loss", lambda: skm.log_loss(y, ys, sample_weight=w, labels=[0, 1])),
        "brier": _safe("brier", lambda: skm.brier_score_loss(y, ys, sample_weight=w, pos_label=1)),
    }


def _multiclass(yt: np.ndarray, ys: np.ndarray, w: np.ndarray | None, top_k: int) -> dict[str, float]:
    if yt.ndim != 1:
        raise LossInputError("y_true", "a 1-D array of class indices for task 'multiclass'", f"shape {yt.shape}")
    if ys.ndim != 2 or ys.shape[1] < 2:
        raise LossInputError("y_score", "class probabilities of shape (N, C), C >= 2", f"shape {ys.shape}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise LossInputError("top_k", "a positive integer", repr(top_k))
    y = as_labels("y_true", yt)
    n_classes = ys.shape[1]
    if ((y < 0) | (y >= n_classes)).any():
        raise LossInputError(
            "y_true",
            f"class indices in [0, {n_classes - 1}] (y_score has {n_classes} columns)",
            f"{y.min()}..{y.max()}",
        )
    check_simplex("y_score", ys)
    labels = np.arange(n_classes)
    pred = ys.argmax(axis=1)
    out = {
        "accuracy": _safe("accuracy", lambda: skm.accuracy_score(y, pred, sample_weight=w)),
        "macro_f1": _safe(
            "macro_f1",
            lambda: skm.f1_score(y, pred, labels=labels, average="macro", sample_weight=w, zero_division=np.nan),
        ),
        "weighted_f1": _safe(
            "weighted_f1",
            lambda: skm.f1_score(y, pred, labels=labels, average="weighted", sample_weight=w, zero_division=np.nan),
        ),
    }
    if top_k < n_classes:
        out[f"top_{top_k}_accuracy"] = _safe(
            f"top_{top_k}_accuracy",
            lambda: skm.top_k_accuracy_score(y, ys, k=top_k, labels=labels, sample_weight=w),
        )
    out["log_loss"] = _safe("log_loss", lambda: skm.log_loss(y, ys, sample_weight=w, labels=labels))
    return out


def _label_thresholds(threshold: Any, n_labels: int) -> np.ndarray:
    if threshold is None:
        return np.full(n_labels, 0.5)
    if np.ndim(threshold) == 0:
        return np.full(n_labels, check_threshold(threshold))
    t = as_array("threshold", threshold)
    check_length("threshold", t, n_labels, "one per label")
    return t


def _multilabel(yt: np.ndarray, ys: np.ndarray, threshold: Any, w: np.ndarray | None) -> dict[str, float]:
    if yt.ndim != 2:
        raise LossInputError("y_true", "a 2-D (N, L) 0/1 indicator array for task 'multilabel'", f"shape {yt.shape}")
    if ys.shape != yt.shape:
        raise LossInputError("y_score", f"of shape {yt.shape} (the shape of y_true)", f"shape {ys.shape}")
    y = check_binary_labels("y_true", yt)
    check_probabilities("y_score", ys)
    pred = (ys >= _label_thresholds(threshold, y.shape[1])).astype(np.int64)
    out = {
        "subset_accuracy": _safe("subset_accuracy", lambda: skm.accuracy_score(y, pred, sample_weight=w)),
        "hamming_loss": _safe("hamming_loss", lambda: skm.hamming_loss(y, pred, sample_weight=w)),
        "micro_f1": _safe(
            "micro_f1", lambda: skm.f1_score(y, pred, average="micro", sample_weight=w, zero_division=np.nan)
        ),
        "macro_f1": _safe(
            "macro_f1", lambda: skm.f1_score(y, pred, average="macro", sample_weight=w, zero_division=np.nan)
        ),
    }
    aps = []
    for j in range(y.shape[1]):
        yj, sj = y[:, j], ys[:, j]
        reason = None if _weighted_count(yj == 1, w) > 0 else f"label {j} has no positive samples"
        aps.append(
            _safe(
                f"average_precision_{j}",
                lambda yj=yj, sj=sj: skm.average_precision_score(yj, sj, sample_weight=w),
                reason,
            )
        )
        out[f"average_precision_{j}"] = aps[-1]
    defined = [a for a in aps if not math.isnan(a)]
    out["average_precision_macro"] = (
        float(np.mean(defined)) if defined else undefined("average_precision_macro", "no label has positive samples")
    )
    return out


def _regression(yt: np.ndarray, ys: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    if ys.shape != yt.shape:
        raise LossInputError("y_score", f"of shape {yt.shape} (the shape of y_true)", f"shape {ys.shape}")
    variance = np.average((yt - np.average(yt, axis=0, weights=w)) ** 2, axis=0, weights=w)
    r2_reason = None
    if yt.shape[0] < 2:
        r2_reason = "fewer than two samples"
    elif (variance == 0).any():
        r2_reason = "y_true is constant (zero variance)"
    return {
        "mae": _safe("mae", lambda: skm.mean_absolute_error(yt, ys, sample_weight=w)),
        "mse": _safe("mse", lambda: skm.mean_squared_error(yt, ys, sample_weight=w)),
        "rmse": _safe("rmse", lambda: skm.root_mean_squared_error(yt, ys, sample_weight=w)),
        "r2": _safe("r2", lambda: skm.r2_score(yt, ys, sample_weight=w, force_finite=False), r2_reason),
        "median_absolute_error": _safe(
            "median_absolute_error", lambda: skm.median_absolute_error(yt, ys, sample_weight=w)
        ),
    }


def _level(q: float) -> str:
    return f"{q:g}"


def _quantile(yt: np.ndarray, ys: np.ndarray, quantiles: Any, w: np.ndarray | None) -> dict[str, float]:
    if quantiles is None:
        raise LossInputError("quantiles", "the levels of the columns of y_score for task 'quantile'", None)
    q = np.atleast_1d(as_array("quantiles", quantiles, ndim=(0, 1), allow_empty=True))
    if q.size == 0 or ((q <= 0) | (q >= 1)).any() or (np.diff(q) <= 0).any():
        raise LossInputError("quantiles", "strictly increasing levels in (0, 1)", q.tolist())
    if yt.ndim != 1:
        raise LossInputError("y_true", "a 1-D array of targets for task 'quantile'", f"shape {yt.shape}")
    if ys.ndim == 1:
        ys = ys[:, None]
    if ys.shape[1] != q.size:
        raise LossInputError("y_score", f"of shape (N, {q.size}) (one column per quantile level)", f"shape {ys.shape}")
    out: dict[str, float] = {}
    pinballs = []
    for j, level in enumerate(q):
        pinballs.append(
            _safe(
                f"pinball_{_level(level)}",
                lambda j=j, level=level: skm.mean_pinball_loss(yt, ys[:, j], alpha=level, sample_weight=w),
            )
        )
        out[f"pinball_{_level(level)}"] = pinballs[-1]
        out[f"coverage_{_level(level)}"] = float(np.average(yt <= ys[:, j], weights=w))
    out["pinball_mean"] = float(np.mean(pinballs))
    for j, low in enumerate(q):
        partner = np.flatnonzero(np.isclose(q, 1.0 - low))
        if low >= 0.5 or partner.size == 0:
            continue
        lo, hi = ys[:, j], ys[:, partner[0]]
        name = f"{_level(low)}_{_level(q[partner[0]])}"
        out[f"interval_coverage_{name}"] = float(np.average((yt >= lo) & (yt <= hi), weights=w))
        out[f"interval_width_{name}"] = float(np.average(hi - lo, weights=w))
    return out
