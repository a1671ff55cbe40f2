"""The metric that picks the winner (``--metric``), and paired bootstrap intervals for it.

Names: binary ``f1``, ``precision``, ``recall``, ``average_precision``, ``roc_auc``, ``recall_at_precision=P``,
``precision_at_recall=R``, ``balanced_accuracy``, ``mcc``, ``accuracy``, ``log_loss``, ``brier``;
multi-class ``accuracy``, ``macro_f1``, ``balanced_accuracy``, ``log_loss``; regression ``mae``,
``rmse``, ``mse``, ``median_absolute_error``, ``r2``, ``poisson_deviance`` (the mean Poisson
deviance ``2 (y log(y / mu) - y + mu)`` of a non-negative target, scikit-learn's
``mean_poisson_deviance``; a prediction below ``POISSON_FLOOR`` counts as that floor, so a
model that predicts a zero or negative mean gets a large finite deviance instead of an error);
ordinal ``mae`` (on the level index), ``qwk`` (quadratic weighted kappa) and ``accuracy`` of the
predicted level, the median of the level probabilities (CORN's :func:`losskit.corn_predict`);
ranking ``ndcg@K`` (NDCG@K with gain ``2^rel - 1``, the default ``ndcg@10``), ``map@K`` and ``mrr``
(:mod:`losskit.evaluate.ranking`), each the mean over the query groups.
Threshold-dependent binary metrics are computed at the threshold tuned on validation:
``recall_at_precision=P`` tunes the threshold for the best recall with validation precision >= P
and scores the *test* recall at that threshold (so a precision target missed on new data shows
up, instead of being re-optimised on the test set).

The bootstrap is *paired*: every candidate is scored on the same resamples of the test rows,
so the fraction of resamples a candidate wins is a fair comparison even when the intervals
overlap (Efron & Tibshirani 1993, ch. 13). A resample is represented by how often it draws each
row (multinomial counts), and every metric here is computed from count-weighted sums over rows
sorted once, which equals the metric of the resampled rows (scikit-learn's ``sample_weight``
semantics) without re-sorting: O(N) per resample instead of O(N log N) plus per-call overhead.
The tests check each metric against :mod:`sklearn.metrics` with weights. For a ranking table the
resampled units are the query groups, not the rows: each metric is the weighted mean of its
per-group values, so one group's rows are never split between a resample and its complement.

:func:`score_candidates` is where every reported number about the candidates is computed, once:
the tuned threshold, the test metrics at it and at 0.5, the chosen metric with its interval and
win rate, and the winner. The renderers (report, card, console, demo) read the stored values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import xlogy

from losskit._errors import LossInputError
from losskit.lab.results import CandidateResult

__all__ = [
    "DEFAULT_METRIC",
    "RANKING_METRICS",
    "MetricSpec",
    "Scorer",
    "paired_bootstrap",
    "parse_metric",
    "score_candidates",
    "median_level",
    "metrics_of",
    "ranking_curves",
    "ranking_values",
    "tune_threshold",
]

POISSON_FLOOR = 1e-6
DEFAULT_METRIC = {
    "binary": "average_precision",
    "multiclass": "macro_f1",
    "regression": "mae",
    "ordinal": "mae",
    "ranking": "ndcg@10",
}
RANKING_CUTOFF = 10  # K of ``ndcg`` / ``map`` given without one

# name -> (higher is better, needs a threshold, takes a parameter)
_BINARY = {
    "f1": (True, True, False),
    "precision": (True, True, False),
    "recall": (True, True, False),
    "balanced_accuracy": (True, True, False),
    "mcc": (True, True, False),
    "accuracy": (True, True, False),
    "average_precision": (True, False, False),
    "roc_auc": (True, False, False),
    "recall_at_precision": (True, True, True),
    "precision_at_recall": (True, True, True),
    "log_loss": (False, False, False),
    "brier": (False, False, False),
}
_MULTICLASS = {
    "accuracy": (True, False, False),
    "macro_f1": (True, False, False),
    "balanced_accuracy": (True, False, False),
    "log_loss": (False, False, False),
}
_REGRESSION = {
    "mae": (False, False, False),
    "rmse": (False, False, False),
    "mse": (False, False, False),
    "median_absolute_error": (False, False, False),
    "r2": (True, False, False),
    "poisson_deviance": (False, False, False),
}
_ORDINAL = {
    "mae": (False, False, False),
    "qwk": (True, False, False),
    "accuracy": (True, False, False),
}
_RANKING = {
    "ndcg": (True, False, True),
    "map": (True, False, True),
    "mrr": (True, False, False),
}
_TABLES = {
    "binary": _BINARY,
    "multiclass": _MULTICLASS,
    "regression": _REGRESSION,
    "ordinal": _ORDINAL,
    "ranking": _RANKING,
}


@dataclass(frozen=True)
class MetricSpec:
    """A parsed ``--metric``: ``name``, optional ``param`` and which direction is better."""

    name: str
    task: str
    higher_is_better: bool
    needs_threshold: bool
    param: float | None = None

    @property
    def label(self) -> str:
        if self.param is None:
            return self.name
        return f"{self.name}@{self.param:g}" if self.task == "ranking" else f"{self.name}={self.param:g}"

    def __call__(
        self, y: np.ndarray, scores: np.ndarray, threshold: float | None = None, groups: np.ndarray | None = None
    ) -> float:
        """The metric of ``scores`` (probabilities / predictions) against ``y`` (the rows' query
        ``groups`` for ranking); NaN if undefined."""
        return Scorer(self, y, scores, threshold, groups)()

    def tuning(self) -> dict[str, Any]:
        """Keyword arguments of :func:`losskit.evaluate.tune_threshold` that optimise this metric.

        Balanced accuracy is maximised by Youden's J (``(TPR + TNR) / 2 = (1 + J) / 2``), accuracy by
        unit costs; metrics without a threshold of their own (PR-AUC, ...) get the F1 threshold.
        """
        if self.name == "recall_at_precision":
            return {"objective": "recall_at_precision", "min_precision": self.param}
        if self.name == "precision_at_recall":
            return {"objective": "precision_at_recall", "min_recall": self.param}
        if self.name == "balanced_accuracy":
            return {"objective": "youden"}
        if self.name == "accuracy":
            return {"objective": "cost", "cost_fp": 1.0, "cost_fn": 1.0}
        return {"objective": "f1"}

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b`` (NaN never wins)."""
        if np.isnan(a):
            return False
        if np.isnan(b):
            return True
        return a > b if self.higher_is_better else a < b


def parse_metric(text: str | None, task: str) -> MetricSpec:
    """Parse ``name`` or ``name=value`` (``name@K`` for ranking) for ``task``; ``None`` gives the
    task's default."""
    text = text or DEFAULT_METRIC[task]
    name, eq, value = text.strip().lower().partition("@" if task == "ranking" else "=")
    table = _TABLES[task]
    if name not in table:
        raise LossInputError("metric", f"one of {sorted(table)} for a {task} task", repr(text))
    higher, thresh, takes = table[name]
    param = None
    if takes and task == "ranking":
        if not eq:
            value = str(RANKING_CUTOFF)
        if not value.isdigit() or int(value) < 1:
            raise LossInputError("metric", f"{name} or {name}@<positive whole number>", repr(text))
        param = float(int(value))
    elif takes:
        try:
            param = float(value)
        except ValueError:
            raise LossInputError("metric", f"{name}=<number in (0, 1)>", repr(text)) from None
        if not 0.0 < param < 1.0:
            raise LossInputError("metric", f"{name}=<number in (0, 1)>", repr(text))
    elif eq:
        raise LossInputError("metric", f"{name} without a value", repr(text))
    return MetricSpec(name=name, task=task, higher_is_better=higher, needs_threshold=thresh, param=param)


class Scorer:
    """One metric of fixed ``(y, scores)``, evaluated under any row weights (bootstrap counts)."""

    def __init__(
        self,
        spec: MetricSpec,
        y: np.ndarray,
        scores: np.ndarray,
        threshold: float | None = None,
        groups: np.ndarray | None = None,
    ) -> None:
        self.spec, self.y, self.scores = spec, np.asarray(y), np.asarray(scores, dtype=np.float64)
        self.threshold = 0.5 if threshold is None else float(threshold)
        self.units = len(self.y)  # what a bootstrap resamples: rows, or the query groups of a ranking
        if spec.task == "ranking":
            if groups is None:
                raise LossInputError("groups", "the query id of every row for a ranking metric", "None")
            self.per_group = ranking_values(spec, self.y, self.scores, np.asarray(groups))
            self.units = len(self.per_group)
        elif spec.task == "binary" and spec.name in ("average_precision", "roc_auc"):
            self.order = np.argsort(-self.scores, kind="stable")
            ranked = self.scores[self.order]
            self.ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # last row of each tied group
            self.y_ranked = self.y[self.order].astype(np.float64)
        elif spec.task == "binary":
            self.pred = (self.scores >= self.threshold).astype(np.float64)
        elif spec.task == "multiclass":
            self.pred = self.scores.argmax(axis=1)
        elif spec.task == "ordinal":
            self.pred = median_level(self.scores)
        elif spec.name == "poisson_deviance":
            if np.any(self.y < 0):
                raise LossInputError("metric", "a non-negative target for poisson_deviance", "negative targets")
            mu = np.maximum(self.scores, POISSON_FLOOR)
            self.deviance = 2.0 * (xlogy(self.y, self.y / mu) - self.y + mu)
        elif spec.name == "median_absolute_error":
            self.abs_sorted = np.sort(np.abs(self.scores - self.y))
            self.order = np.argsort(np.abs(self.scores - self.y), kind="stable")

    def __call__(self, weight: np.ndarray | None = None) -> float:
        """The metric with ``weight`` per unit (row, or query group for ranking): bootstrap counts."""
        w = np.ones(self.units) if weight is None else np.asarray(weight, dtype=np.float64)
        if self.spec.task == "ranking":
            return float(np.sum(w * self.per_group) / w.sum())
        if self.spec.task == "binary":
            return self._binary(w)
        if self.spec.task == "multiclass":
            return self._multiclass(w)
        if self.spec.task == "ordinal":
            return self._ordinal(w)
        return self._regression(w)

    def _binary(self, w: np.ndarray) -> float:
        name, y = self.spec.name, self.y
        if name in ("average_precision", "roc_auc"):
            wr = w[self.order]
            tp = np.cumsum(wr * self.y_ranked)[self.ends]
            fp = np.cumsum(wr * (1.0 - self.y_ranked))[self.ends]
            pos, neg = tp[-1], fp[-1]
            if pos <= 0 or (name == "roc_auc" and neg <= 0):
                return float("nan")
            if name == "average_precision":  # sum over thresholds of (R_k - R_{k-1}) P_k
                precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
                return float(np.sum(np.diff(np.r_[0.0, tp / pos]) * precision))
            return float(np.trapezoid(np.r_[0.0, tp / pos], np.r_[0.0, fp / neg]))
        p = self.scores
        if name == "log_loss":
            q = np.clip(p, 1e-15, 1 - 1e-15)
            return float(-np.sum(w * (y * np.log(q) + (1 - y) * np.log1p(-q))) / w.sum())
        if name == "brier":
            return float(np.sum(w * (p - y) ** 2) / w.sum())
        pred = self.pred
        tp, fp = np.sum(w * pred * y), np.sum(w * pred * (1 - y))
        fn, tn = np.sum(w * (1 - pred) * y), np.sum(w * (1 - pred) * (1 - y))
        return _from_counts(name, tp, fp, fn, tn)

    def _multiclass(self, w: np.ndarray) -> float:
        name, y, p = self.spec.name, self.y, self.scores
        if name == "log_loss":
            picked = np.clip(p[np.arange(len(y)), y], 1e-15, 1.0)
            return float(-np.sum(w * np.log(picked)) / w.sum())
        correct = (self.pred == y).astype(np.float64)
        if name == "accuracy":
            return float(np.sum(w * correct) / w.sum())
        c = p.shape[1]
        tp = np.bincount(y, weights=w * correct, minlength=c)
        support = np.bincount(y, weights=w, minlength=c)
        predicted = np.bincount(self.pred, weights=w, minlength=c)
        if name == "balanced_accuracy":
            seen = support > 0
            return float(np.mean(tp[seen] / support[seen]))
        denom = support + predicted  # macro F1: 2 TP / (2 TP + FP + FN) per class, 0 where undefined
        return float(np.mean(np.divide(2 * tp, denom, out=np.zeros(c), where=denom > 0)))

    def _ordinal(self, w: np.ndarray) -> float:
        name, y, pred = self.spec.name, self.y, self.pred
        if name == "mae":
            return float(np.sum(w * np.abs(pred - y)) / w.sum())
        if name == "accuracy":
            return float(np.sum(w * (pred == y)) / w.sum())
        k = self.scores.shape[1]  # quadratic weighted kappa over the levels 0 .. K-1
        observed = np.bincount(y * k + pred, weights=w, minlength=k * k).reshape(k, k)
        expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
        levels = np.arange(k)
        weights = (levels[:, None] - levels[None, :]) ** 2
        denom = np.sum(weights * expected)
        return float(1.0 - np.sum(weights * observed) / denom) if denom > 0 else float("nan")

    def _regression(self, w: np.ndarray) -> float:
        name, err = self.spec.name, self.scores - self.y
        total = w.sum()
        if name == "mae":
            return float(np.sum(w * np.abs(err)) / total)
        if name in ("mse", "rmse"):
            mse = float(np.sum(w * err**2) / total)
            return mse if name == "mse" else float(np.sqrt(mse))
        if name == "poisson_deviance":
            return float(np.sum(w * self.deviance) / total)
        if name == "median_absolute_error":  # the smallest error whose cumulative weight reaches half
            cum = np.cumsum(w[self.order])
            return float(self.abs_sorted[np.searchsorted(cum, 0.5 * total)])
        mean = np.sum(w * self.y) / total
        ss_tot = np.sum(w * (self.y - mean) ** 2)
        return float(1.0 - np.sum(w * err**2) / ss_tot) if ss_tot > 0 else float("nan")


def ranking_values(spec: MetricSpec, y: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``(G,)`` the ranking metric of each query group (:mod:`losskit.evaluate.ranking`)."""
    import torch

    from losskit.evaluate import map_at_k, mrr, ndcg_at_k
    from losskit.functional.listwise import pad_lists

    f64 = torch.float64
    lists = pad_lists(torch.as_tensor(scores, dtype=f64), torch.as_tensor(y, dtype=f64), torch.as_tensor(groups))
    rel, score, mask = lists.target.numpy(), lists.input.numpy(), lists.mask.numpy()
    k = None if spec.param is None else int(spec.param)
    if spec.name == "ndcg":
        return ndcg_at_k(rel, score, k=k, mask=mask, reduction="none")
    if spec.name == "map":
        return map_at_k(rel, score, k=k, mask=mask, reduction="none")
    return mrr(rel, score, mask=mask, reduction="none")


def ranking_curves(y: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """What the report plots for a ranking candidate: NDCG@1 to NDCG@10 and per-query NDCG@10."""
    at = [ranking_values(parse_metric(f"ndcg@{k}", "ranking"), y, scores, groups) for k in range(1, 11)]
    return {"ndcg_at_k": [float(v.mean()) for v in at], "ndcg@10_per_query": at[-1].tolist()}


def _from_counts(name: str, tp: float, fp: float, fn: float, tn: float) -> float:
    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else 0.0

    if name in ("precision", "precision_at_recall"):
        return ratio(tp, tp + fp)
    if name in ("recall", "recall_at_precision"):
        return ratio(tp, tp + fn)
    if name == "f1":
        return ratio(2 * tp, 2 * tp + fp + fn)
    if name == "accuracy":
        return ratio(tp + tn, tp + fp + fn + tn)
    if name == "balanced_accuracy":
        return 0.5 * (ratio(tp, tp + fn) + ratio(tn, tn + fp))
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))  # mcc
    return float((tp * tn - fp * fn) / denom) if denom > 0 else 0.0


def paired_bootstrap(
    spec: MetricSpec,
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    thresholds: dict[str, float | None],
    *,
    n_resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """Percentile intervals per candidate and the fraction of resamples each one is best
    (resampling rows, or whole query ``groups`` for a ranking metric).

    Returns:
        ``(intervals, win_rate)``: ``intervals[name] = (low, high)`` at ``level``;
        ``win_rate[name]`` the share of resamples where ``name`` scores best (ties split).
    """
    rng = np.random.default_rng(seed)
    names = list(scores)
    scorers = [Scorer(spec, y, scores[name], thresholds.get(name), groups) for name in names]
    values = np.full((n_resamples, len(names)), np.nan)
    n = scorers[0].units if scorers else len(y)
    for b in range(n_resamples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        for j, scorer in enumerate(scorers):
            values[b, j] = scorer(counts)
    alpha = (1.0 - level) / 2.0
    intervals = {}
    for j, name in enumerate(names):
        col = values[:, j][~np.isnan(values[:, j])]
        nan = float("nan")
        intervals[name] = (
            (float(np.quantile(col, alpha)), float(np.quantile(col, 1 - alpha))) if col.size else (nan, nan)
        )
    signed = values if spec.higher_is_better else -values
    signed = np.where(np.isnan(signed), -np.inf, signed)
    winners = (signed == signed.max(axis=1, keepdims=True)).astype(np.float64)
    winners /= winners.sum(axis=1, keepdims=True)
    win_rate = {name: float(winners[:, j].mean()) for j, name in enumerate(names)}
    return intervals, win_rate


def tune_threshold(metric: MetricSpec, y: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that optimises the metric on validation scores (see :meth:`MetricSpec.tuning`).

    When no threshold meets a constraint (``recall_at_precision`` out of reach) it falls back to F1.
    """
    from losskit.evaluate import tune_threshold as tune

    threshold = float(tune(y, scores, **metric.tuning()).threshold)
    if not np.isfinite(threshold):
        threshold = float(tune(y, scores, objective="f1").threshold)
    return threshold if np.isfinite(threshold) else 0.5


def median_level(probabilities: np.ndarray) -> np.ndarray:
    """``(N,)`` the median level of ``(N, K)`` level probabilities: the first level whose cumulative
    probability reaches 1/2 (for CORN, the level :func:`losskit.corn_predict` gives)."""
    cdf = np.cumsum(probabilities, axis=1)
    return np.minimum((cdf < 0.5).sum(axis=1), probabilities.shape[1] - 1)


#: The ranking metrics every ranking candidate reports (the report's columns).
RANKING_METRICS = ("ndcg@10", "ndcg@5", "map@10", "mrr")


def metrics_of(
    task: str, y: np.ndarray, scores: np.ndarray, threshold: float | None, groups: np.ndarray | None = None
) -> dict[str, float]:
    """:func:`losskit.evaluate.metrics` of ``scores`` (undefined ones, e.g. precision with no
    predicted positive, without warnings); for ordinal levels :func:`losskit.evaluate.level_mae`,
    :func:`~losskit.evaluate.quadratic_weighted_kappa` and the accuracy of the median level; for
    ranking :data:`RANKING_METRICS` over the query ``groups``."""
    from losskit.evaluate import level_mae, metrics, quadratic_weighted_kappa

    if task == "ranking":
        return {name: parse_metric(name, task)(y, scores, groups=groups) for name in RANKING_METRICS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "ordinal":
            pred, k = median_level(scores), scores.shape[1]
            return {
                "mae": float(level_mae(y, pred)),
                "qwk": float(quadratic_weighted_kappa(y, pred, num_levels=k)),
                "accuracy": float(np.mean(pred == y)),
            }
        return metrics(y, scores, task=task, threshold=threshold)


def score_candidates(
    results: list[CandidateResult],
    metric: MetricSpec,
    y_val: np.ndarray,
    y_test: np.ndarray,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    groups_test: np.ndarray | None = None,
) -> CandidateResult:
    """Fill every candidate's threshold, test metrics, metric value, interval and win rate; return
    the winner (the best value; the first candidate on ties).

    Binary candidates get their threshold tuned on the validation (out-of-fold) scores ``y_val``,
    their test metrics at it and, for comparison, at the default 0.5 (``metrics_at_half``). A
    ranking table's test rows carry their query ids in ``groups_test``.
    """
    task = metric.task
    for res in results:
        if task == "binary":
            res.threshold = tune_threshold(metric, y_val, res.val_scores)
            res.metrics_at_half = metrics_of(task, y_test, res.test_scores, 0.5)
        res.test_metrics = metrics_of(task, y_test, res.test_scores, res.threshold, groups_test)
        if task == "ranking":
            res.curves = ranking_curves(y_test, res.test_scores, groups_test)
    scores = {r.candidate.label: r.test_scores for r in results}
    thresholds = {r.candidate.label: r.threshold for r in results}
    intervals, wins = paired_bootstrap(
        metric, y_test, scores, thresholds, n_resamples=n_resamples, seed=seed, groups=groups_test
    )
    for res in results:
        label = res.candidate.label
        res.value = metric(y_test, res.test_scores, res.threshold, groups_test)
        res.interval, res.win_rate = intervals[label], wins[label]
    winner = results[0]
    for res in results[1:]:
        if metric.better(res.value, winner.value):
            winner = res
    return winner
