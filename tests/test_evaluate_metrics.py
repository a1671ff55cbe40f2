"""losskit.evaluate.metrics against scikit-learn, on random and edge inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from losskit import LossInputError
from losskit.evaluate import infer_task, metrics


def _binary_data(seed: int, n: int = 60, ties: bool = False):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    if ties:
        p = np.round(p, 1)
    y = (rng.random(n) < p).astype(int)
    w = rng.random(n) + 0.1
    return y, p, w


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_binary_matches_sklearn(seed, weighted, ties):
    y, p, w = _binary_data(seed, ties=ties)
    w = w if weighted else None
    pred = (p >= 0.3).astype(int)
    got = metrics(y, p, threshold=0.3, sample_weight=w)
    expected = {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w),
        "recall": skm.recall_score(y, pred, sample_weight=w),
        "f1": skm.f1_score(y, pred, sample_weight=w),
        "roc_auc": skm.roc_auc_score(y, p, sample_weight=w),
        "average_precision": skm.average_precision_score(y, p, sample_weight=w),
        "log_loss": skm.log_loss(y, p, sample_weight=w),
        "brier": skm.brier_score_loss(y, p, sample_weight=w),
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


def test_binary_two_column_and_tensor_inputs_agree():
    y, p, _ = _binary_data(3)
    base = metrics(y, p)
    assert metrics(y, np.stack([1 - p, p], axis=1)) == pytest.approx(base)
    assert metrics(torch.tensor(y), torch.tensor(p, dtype=torch.float32)) == pytest.approx(base, rel=1e-6)


def test_binary_default_threshold_is_half_inclusive():
    # 0.5 itself is predicted positive: sklearn's `score >= threshold` convention.
    m = metrics([0, 1, 1], [0.2, 0.5, 0.9])
    assert m["accuracy"] == 1.0


def test_all_equal_scores():
    # Constant scores rank nothing: ROC-AUC 0.5, AP = the positive rate, every sample predicted positive.
    y = np.array([0, 1, 1, 0, 1])
    m = metrics(y, np.full(5, 0.5))
    assert m["roc_auc"] == 0.5
    assert m["average_precision"] == pytest.approx(0.6)
    assert m["recall"] == 1.0 and m["precision"] == pytest.approx(0.6)


def test_one_class_gives_nan_with_reason_not_a_crash():
    with pytest.warns(UndefinedMetricWarning) as record:
        m = metrics(np.zeros(4), [0.1, 0.2, 0.3, 0.4])
    messages = " ".join(str(r.message) for r in record)
    assert "roc_auc is undefined: y_true holds only class 0" in messages
    for key in ("roc_auc", "balanced_accuracy", "recall", "average_precision", "precision", "f1"):
        assert math.isnan(m[key]), key
    assert m["accuracy"] == 1.0
    assert m["log_loss"] == pytest.approx(skm.log_loss([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], labels=[0, 1]))
    # With a false positive, precision and F1 are defined (0), recall still is not.
    with pytest.warns(UndefinedMetricWarning):
        m = metrics(np.zeros(3), [0.1, 0.7, 0.3])
    assert m["precision"] == 0.0 and m["f1"] == 0.0 and math.isnan(m["recall"])


def test_zero_weight_class_counts_as_absent():
    with pytest.warns(UndefinedMetricWarning) as record:
        m = metrics([0, 1, 0], [0.2, 0.9, 0.4], sample_weight=[1.0, 0.0, 1.0])
    assert any("roc_auc is undefined: y_true holds only class 0" in str(r.message) for r in record)
    assert math.isnan(m["roc_auc"]) and m["accuracy"] == 1.0


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_matches_sklearn(weighted):
    rng = np.random.default_rng(4)
    proba = rng.dirichlet(np.ones(6), size=80)
    y = rng.integers(0, 6, 80)
    w = rng.random(80) if weighted else None
    pred = proba.argmax(1)
    got = metrics(y, proba, sample_weight=w, top_k=3)
    assert got == pytest.approx(
        {
            "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
            "macro_f1": skm.f1_score(y, pred, average="macro", sample_weight=w),
            "weighted_f1": skm.f1_score(y, pred, average="weighted", sample_weight=w),
            "top_3_accuracy": skm.top_k_accuracy_score(y, proba, k=3, sample_weight=w),
            "log_loss": skm.log_loss(y, proba, sample_weight=w),
        },
        rel=1e-12,
    )


def test_multiclass_top_k_reported_only_below_class_count_and_absent_class():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    m = metrics([0, 1, 1], proba)  # top_k=5 >= 3 classes: meaningless, left out
    assert "top_5_accuracy" not in m
    # Class 2 is neither present nor predicted: undefined, left out of the macro mean.
    # F1(class 0) = 2/3, F1(class 1) = 2/3 -> macro 2/3 (sklearn's default would count class 2 as 0).
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["log_loss"] == pytest.approx(skm.log_loss([0, 1, 1], proba, labels=[0, 1, 2]))


@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_matches_sklearn(weighted):
    rng = np.random.default_rng(5)
    y = (rng.random((50, 4)) < 0.4).astype(int)
    s = np.clip(y * 0.3 + rng.random((50, 4)) * 0.7, 0, 1)
    w = rng.random(50) if weighted else None
    thr = np.array([0.3, 0.5, 0.5, 0.7])
    pred = (s >= thr).astype(int)
    got = metrics(y, s, threshold=thr, sample_weight=w)
    aps = [skm.average_precision_score(y[:, j], s[:, j], sample_weight=w) for j in range(4)]
    expected = {
        "subset_accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "hamming_loss": skm.hamming_loss(y, pred, sample_weight=w),
        "micro_f1": skm.f1_score(y, pred, average="micro", sample_weight=w),
        "macro_f1": skm.f1_score(y, pred, average="macro", sample_weight=w),
        **{f"average_precision_{j}": a for j, a in enumerate(aps)},
        "average_precision_macro": skm.average_precision_score(y, s, average="macro", sample_weight=w),
    }
    assert got == pytest.approx(expected, rel=1e-12)


def test_multilabel_label_without_positives():
    y = np.array([[1, 0], [0, 0], [1, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.2]])
    with pytest.warns(UndefinedMetricWarning, match="label 1 has no positive samples"):
        m = metrics(y, s)
    assert math.isnan(m["average_precision_1"])
    assert m["average_precision_macro"] == m["average_precision_0"] == 1.0


@pytest.mark.parametrize("shape", [(40,), (40, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_matches_sklearn(shape, weighted):
    rng = np.random.default_rng(6)
    y = rng.normal(size=shape)
    pred = y + rng.normal(scale=0.5, size=shape)
    w = rng.random(40) if weighted else None
    got = metrics(y, pred, sample_weight=w)
    assert got == pytest.approx(
        {
            "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
            "mse": skm.mean_squared_error(y, pred, sample_weight=w),
            "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
            "r2": skm.r2_score(y, pred, sample_weight=w),
            "median_absolute_error": skm.median_absolute_error(y, pred, sample_weight=w),
        },
        rel=1e-12,
    )


def test_regression_constant_target_and_single_sample():
    with pytest.warns(UndefinedMetricWarning, match="y_true is constant"):
        m = metrics([2.5, 2.5, 2.5], [2.0, 2.5, 3.0])
    assert math.isnan(m["r2"]) and m["mae"] == pytest.approx(1 / 3)
    with pytest.warns(UndefinedMetricWarning, match="fewer than two samples"):
        m = metrics([1.5], [1.0])
    assert math.isnan(m["r2"]) and m["mse"] == 0.25


def test_quantile_hand_derived():
    # Targets 0..9; the 0.1, 0.5, 0.9 predictions are the constants 1.5, 4.5, 8.5.
    y = np.arange(10.0)
    pred = np.tile([1.5, 4.5, 8.5], (10, 1))
    m = metrics(y, pred, quantiles=[0.1, 0.5, 0.9])
    assert m["coverage_0.1"] == 0.2  # 0 and 1 lie at or below 1.5
    assert m["coverage_0.5"] == 0.5
    assert m["coverage_0.9"] == 0.9
    assert m["interval_coverage_0.1_0.9"] == 0.7  # 2..8
    assert m["interval_width_0.1_0.9"] == 7.0
    for j, q in enumerate([0.1, 0.5, 0.9]):
        assert m[f"pinball_{q:g}"] == pytest.approx(skm.mean_pinball_loss(y, pred[:, j], alpha=q))
    assert m["pinball_mean"] == pytest.approx(np.mean([m["pinball_0.1"], m["pinball_0.5"], m["pinball_0.9"]]))


def test_quantile_weighted_and_single_level():
    rng = np.random.default_rng(7)
    y, q, w = rng.normal(size=30), rng.normal(size=30), rng.random(30)
    m = metrics(y, q, quantiles=0.8, sample_weight=w)
    assert m["pinball_0.8"] == pytest.approx(skm.mean_pinball_loss(y, q, alpha=0.8, sample_weight=w))
    assert m["coverage_0.8"] == pytest.approx(w[y <= q].sum() / w.sum())
    assert not any(k.startswith("interval") for k in m)


@pytest.mark.parametrize(
    ("y_true", "y_score", "kwargs", "task"),
    [
        ([0, 1, 1], [0.1, 0.8, 0.6], {}, "binary"),
        ([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]], {}, "binary"),
        ([0, 1, 1], np.full((3, 4), 0.25), {}, "multiclass"),
        ([0, 2, 1], np.full((3, 3), 1 / 3), {}, "multiclass"),
        ([[0, 1], [1, 1]], [[0.1, 0.8], [0.7, 0.6]], {}, "multilabel"),
        ([0.5, 1.5, 2.0], [0.4, 1.2, 2.2], {}, "regression"),
        ([3, 1, 7], [2.5, 1.0, 6.0], {}, "regression"),  # integer targets, one score each: counts
        ([0.5, 1.5], [[0.1, 0.9], [1.0, 2.0]], {"quantiles": [0.1, 0.9]}, "quantile"),
    ],
)
def test_infer_task(y_true, y_score, kwargs, task):
    assert infer_task(y_true, y_score, **kwargs) == task


def test_infer_task_asks_for_quantiles():
    with pytest.raises(LossInputError, match="`quantiles`"):
        metrics([0.5, 1.5], [[0.1, 0.9], [1.0, 2.0]])


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        (([0, 1, 1], [0.1, 0.9]), {}, "y_score"),  # mismatched lengths
        (([0, 1], [0.1, np.nan]), {}, "y_score"),
        (([0, np.nan], [0.1, 0.2]), {}, "y_true"),
        (([0, 1], [0.1, 1.3]), {}, "y_score"),  # a logit where a probability is required
        (([0, 2], [0.1, 0.3]), {"task": "binary"}, "y_true"),
        (([0, 1], [[0.5, 0.6], [0.3, 0.7]]), {}, "y_score"),  # rows do not sum to 1
        (([0, 3], np.full((2, 3), 1 / 3)), {}, "y_true"),  # class index out of range
        (([0, 1], [0.1, 0.9]), {"task": "ranking"}, "task"),
        (([0.5, 1.0], [0.4, 1.1]), {"threshold": 0.5}, "threshold"),
        (([0, 1], [0.1, 0.9]), {"sample_weight": [1.0]}, "sample_weight"),
        (([0, 1], [0.1, 0.9]), {"sample_weight": [1.0, -1.0]}, "sample_weight"),
        (([0, 1], [0.1, 0.9]), {"threshold": float("nan")}, "threshold"),
        (([0.5, 1.0], [[1, 2], [3, 4]]), {"quantiles": [0.9, 0.1]}, "quantiles"),
        (([0.5, 1.0], [[1, 2], [3, 4]]), {"quantiles": [0.1, 0.5, 0.9]}, "y_score"),
        (([0.5, 1.0], [0.4, 1.1]), {"task": "quantile"}, "quantiles"),
        (([], []), {}, "y_true"),
        (([0, 1, 1], np.full((3, 4), 0.25)), {"top_k": 0}, "top_k"),
    ],
)
def test_bad_input_names_the_argument(args, kwargs, argument):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        metrics(*args, **kwargs)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 10), st.integers(1, 3)), min_size=4, max_size=30),
    st.randoms(use_true_random=False),
)
def test_properties_order_invariance_unit_weights_and_integer_weights(rows, rnd):
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] / 10 for r in rows])
    reps = np.array([r[2] for r in rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        base = metrics(y, p)
        perm = list(range(len(rows)))
        rnd.shuffle(perm)
        shuffled = metrics(y[perm], p[perm])
        ones = metrics(y, p, sample_weight=np.ones(len(rows)))
        weighted = metrics(y, p, sample_weight=reps.astype(float))
        repeated = metrics(np.repeat(y, reps), np.repeat(p, reps))
    assert shuffled == pytest.approx(base, nan_ok=True)
    assert ones == pytest.approx(base, nan_ok=True)
    assert weighted == pytest.approx(repeated, nan_ok=True)
