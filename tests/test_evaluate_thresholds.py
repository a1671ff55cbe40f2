"""tune_threshold against a brute-force search over every threshold, for every objective."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from losskit import LossInputError
from losskit.evaluate import MultiLabelThresholdResult, ThresholdResult, tune_threshold

OBJECTIVE_CASES = [
    ("f1", {}),
    ("f_beta", {"beta": 2.0}),
    ("f_beta", {"beta": 0.5}),
    ("precision_at_recall", {"min_recall": 0.8}),
    ("recall_at_precision", {"min_precision": 0.7}),
    ("cost", {"cost_fp": 1.0, "cost_fn": 5.0}),
    ("cost", {"cost_fp": 2.0, "cost_fn": 1.0, "gain_tp": 3.0, "gain_tn": 0.5}),
    ("youden", {}),
]


def _brute_value(objective, params, y, s, w, t):
    """The objective at threshold ``t``, counted directly (maximised; None if undefined)."""
    w = np.ones(len(y)) if w is None else w
    pred = s >= t
    tp, fp = w[pred & (y == 1)].sum(), w[pred & (y == 0)].sum()
    fn, tn = w[~pred & (y == 1)].sum(), w[~pred & (y == 0)].sum()
    if objective in ("f1", "f_beta"):
        b2 = params.get("beta", 1.0) ** 2
        den = (1 + b2) * tp + b2 * fn + fp
        return (1 + b2) * tp / den if den > 0 else None
    precision = tp / (tp + fp) if tp + fp > 0 else None
    recall = tp / (tp + fn) if tp + fn > 0 else None
    if objective == "precision_at_recall":
        ok = None not in (precision, recall) and recall >= params["min_recall"]
        return precision if ok else None
    if objective == "recall_at_precision":
        ok = None not in (precision, recall) and precision >= params["min_precision"]
        return recall if ok else None
    if objective == "cost":
        g = params.get("gain_tp", 0.0), params.get("gain_tn", 0.0)
        cost = params["cost_fp"] * fp + params["cost_fn"] * fn - g[0] * tp - g[1] * tn
        return -cost / (tp + fp + fn + tn)
    return recall - fp / (fp + tn) if recall is not None and fp + tn > 0 else None


def _brute_force(objective, params, y, s, w):
    values = [_brute_value(objective, params, y, s, w, t) for t in [*np.unique(s), np.inf]]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _data(seed, n=80, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    s = rng.normal(size=n) + 1.2 * y
    if ties:
        s = np.round(s, 0)
    return y, s, rng.random(n) + 0.05


@pytest.mark.parametrize(("objective", "params"), OBJECTIVE_CASES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_brute_force(objective, params, ties, weighted):
    y, s, w = _data(11, ties=ties)
    w = w if weighted else None
    r = tune_threshold(y, s, objective=objective, sample_weight=w, **params)
    best = _brute_force(objective, params, y, s, w)
    sign = -1 if objective == "cost" else 1
    assert sign * r.score == pytest.approx(best, rel=1e-9, abs=1e-12)
    # The returned threshold really attains it, and the reported metrics are sklearn's there.
    assert _brute_value(objective, params, y, s, w, r.threshold) == pytest.approx(best, rel=1e-9, abs=1e-12)
    pred = (s >= r.threshold).astype(int)
    assert r.metrics["precision"] == pytest.approx(skm.precision_score(y, pred, sample_weight=w, zero_division=np.nan))
    assert r.metrics["recall"] == pytest.approx(skm.recall_score(y, pred, sample_weight=w))
    assert r.metrics["f1"] == pytest.approx(skm.f1_score(y, pred, sample_weight=w))
    assert r.metrics[objective] == r.score and r.metrics["threshold"] == r.threshold


def test_hand_derived_f1():
    # Threshold 0.35 predicts {0.4, 0.35, 0.8, 0.7} positive: TP 3, FP 1, FN 0 -> F1 = 6/7;
    # 0.7 gives TP 2, FN 1 -> 4/5; 0.4 gives TP 2, FP 1, FN 1 -> 2/3.
    r = tune_threshold([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7])
    assert r.threshold == 0.35 and r.score == pytest.approx(6 / 7)
    assert (r.metrics["tp"], r.metrics["fp"], r.metrics["fn"], r.metrics["tn"]) == (3, 1, 0, 2)


def test_curve_matches_sklearn_roc_and_pr_curves():
    y, s, w = _data(12, ties=True)
    r = tune_threshold(y, s, sample_weight=w)
    fpr, tpr, thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(r.curve.thresholds, thr)
    np.testing.assert_allclose(r.curve.fpr, fpr)
    np.testing.assert_allclose(r.curve.recall, tpr)
    precision, _, pr_thr = skm.precision_recall_curve(y, s, sample_weight=w)
    # sklearn's PR curve is ascending in threshold and ends with the (1, 0) point.
    np.testing.assert_allclose(r.curve.precision[1:][::-1], precision[:-1])
    np.testing.assert_allclose(r.curve.thresholds[1:][::-1], pr_thr)


def test_cost_prefers_predicting_nothing_when_false_positives_are_dear():
    # Any threshold at or below 0.9 costs a false positive (10) against two misses (2) for none.
    r = tune_threshold([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1], objective="cost", cost_fp=10.0, cost_fn=1.0)
    assert r.threshold == math.inf and r.metrics["tp"] == 0 and r.metrics["fp"] == 0
    assert r.score == 0.5  # two misses over four samples


def test_multilabel_one_threshold_per_label():
    y0, s0, _ = _data(14)
    y1, s1, _ = _data(15)
    r = tune_threshold(np.stack([y0, y1], 1), np.stack([s0, s1], 1), objective="f_beta", beta=2.0)
    assert isinstance(r, MultiLabelThresholdResult) and r.threshold.shape == (2,)
    for j, (y, s) in enumerate([(y0, s0), (y1, s1)]):
        single = tune_threshold(y, s, objective="f_beta", beta=2.0)
        assert isinstance(single, ThresholdResult)
        assert r.threshold[j] == single.threshold and r.score[j] == single.score
        assert r.per_label[j].metrics == single.metrics


def test_infeasible_constraint_gives_nan_threshold_with_warning():
    y = np.array([0, 1, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.1])  # the top score is a negative: precision 1 is out of reach
    with pytest.warns(UndefinedMetricWarning, match="no threshold"):
        r = tune_threshold(y, s, objective="recall_at_precision", min_precision=1.0)
    assert math.isnan(r.threshold) and math.isnan(r.score)


def test_one_class_warns():
    with pytest.warns(UndefinedMetricWarning, match="only one class"):
        r = tune_threshold([1, 1, 1], [0.2, 0.5, 0.9])
    assert r.score == 1.0 and r.threshold == 0.2


def test_all_equal_scores_have_two_candidates():
    r = tune_threshold([0, 1, 1, 0], [0.3] * 4, objective="youden")
    assert r.curve.thresholds.tolist() == [math.inf, 0.3]
    assert r.score == 0.0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"objective": "accuracy"}, "objective"),
        ({"objective": "precision_at_recall"}, "min_recall"),
        ({"objective": "recall_at_precision", "min_precision": 1.5}, "min_precision"),
        ({"objective": "f_beta"}, "beta"),
        ({"objective": "f_beta", "beta": 0.0}, "beta"),
        ({"objective": "f1", "min_recall": 0.5}, "min_recall"),
        ({"objective": "cost", "cost_fp": -1.0}, "cost_fp"),
        ({"y_score": [0.1, 0.2]}, "y_score"),
        ({"y_score": [0.1, np.nan, 0.3]}, "y_score"),
        ({"y_true": [0, 2, 1]}, "y_true"),
        ({"sample_weight": [1.0, 1.0]}, "sample_weight"),
    ],
)
def test_bad_input_names_the_argument(kwargs, argument):
    args = {"y_true": [0, 1, 1], "y_score": [0.1, 0.5, 0.3]} | kwargs
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        tune_threshold(**args)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(-3, 3), st.integers(1, 4)), min_size=2, max_size=25),
    st.sampled_from(OBJECTIVE_CASES),
)
def test_property_never_beaten_by_any_threshold(rows, case):
    objective, params = case
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] / 2 for r in rows])
    w = np.array([r[2] for r in rows], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        r = tune_threshold(y, s, objective=objective, sample_weight=w, **params)
    best = _brute_force(objective, params, y, s, w)
    if best is None:
        assert math.isnan(r.score)
    else:
        assert (-1 if objective == "cost" else 1) * r.score == pytest.approx(best, rel=1e-9, abs=1e-12)
