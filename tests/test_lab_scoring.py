"""The lab's count-weighted metrics equal scikit-learn's on the resampled rows; the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from losskit._errors import LossInputError
from losskit.lab.scoring import Scorer, paired_bootstrap, parse_metric

RNG = np.random.default_rng(0)
N = 301
Y_BIN = (RNG.random(N) < 0.2).astype(np.int64)
# rounded scores: many ties, which is where ranking metrics usually go wrong
P_BIN = np.round(np.clip(0.3 * Y_BIN + RNG.random(N) * 0.7, 0, 1), 2)
Y_MC = RNG.integers(0, 3, N)
P_MC = RNG.dirichlet(np.ones(3), N)
P_MC[np.arange(N), Y_MC] += 0.3
P_MC /= P_MC.sum(1, keepdims=True)
Y_REG = RNG.normal(size=N) * 3
P_REG = Y_REG + RNG.standard_t(2, size=N)


def _resample() -> tuple[np.ndarray, np.ndarray]:
    idx = np.random.default_rng(1).integers(0, N, N)
    return idx, np.bincount(idx, minlength=N).astype(float)


# name -> scikit-learn on the explicitly resampled rows (an independent implementation)
BINARY_REFERENCES = {
    "average_precision": lambda y, p, t: skm.average_precision_score(y, p),
    "roc_auc": lambda y, p, t: skm.roc_auc_score(y, p),
    "f1": lambda y, p, t: skm.f1_score(y, p >= t),
    "precision": lambda y, p, t: skm.precision_score(y, p >= t),
    "recall": lambda y, p, t: skm.recall_score(y, p >= t),
    "mcc": lambda y, p, t: skm.matthews_corrcoef(y, p >= t),
    "balanced_accuracy": lambda y, p, t: skm.balanced_accuracy_score(y, p >= t),
    "accuracy": lambda y, p, t: skm.accuracy_score(y, p >= t),
    "log_loss": lambda y, p, t: skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)),
    "brier": lambda y, p, t: skm.brier_score_loss(y, p),
    "recall_at_precision=0.5": lambda y, p, t: skm.recall_score(y, p >= t),
}


@pytest.mark.parametrize("name", sorted(BINARY_REFERENCES))
def test_binary_metric_on_counts_equals_sklearn_on_resampled_rows(name: str) -> None:
    idx, counts = _resample()
    spec = parse_metric(name, "binary")
    got = Scorer(spec, Y_BIN, P_BIN, threshold=0.45)(counts)
    expected = BINARY_REFERENCES[name](Y_BIN[idx], P_BIN[idx], 0.45)
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert Scorer(spec, Y_BIN, P_BIN, 0.45)() == pytest.approx(BINARY_REFERENCES[name](Y_BIN, P_BIN, 0.45), rel=1e-10)


MULTICLASS_REFERENCES = {
    "accuracy": lambda y, p: skm.accuracy_score(y, p.argmax(1)),
    "macro_f1": lambda y, p: skm.f1_score(y, p.argmax(1), average="macro", labels=[0, 1, 2]),
    "balanced_accuracy": lambda y, p: skm.balanced_accuracy_score(y, p.argmax(1)),
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=[0, 1, 2]),
}


@pytest.mark.parametrize("name", sorted(MULTICLASS_REFERENCES))
def test_multiclass_metric_on_counts_equals_sklearn(name: str) -> None:
    idx, counts = _resample()
    got = Scorer(parse_metric(name, "multiclass"), Y_MC, P_MC)(counts)
    assert got == pytest.approx(MULTICLASS_REFERENCES[name](Y_MC[idx], P_MC[idx]), rel=1e-10)


REGRESSION_REFERENCES = {
    "mae": skm.mean_absolute_error,
    "mse": skm.mean_squared_error,
    "rmse": skm.root_mean_squared_error,
    "r2": skm.r2_score,
    "median_absolute_error": skm.median_absolute_error,  # N is odd: the median is one of the errors
}


@pytest.mark.parametrize("name", sorted(REGRESSION_REFERENCES))
def test_regression_metric_on_counts_equals_sklearn(name: str) -> None:
    idx, counts = _resample()
    got = Scorer(parse_metric(name, "regression"), Y_REG, P_REG)(counts)
    assert got == pytest.approx(REGRESSION_REFERENCES[name](Y_REG[idx], P_REG[idx]), rel=1e-10)


def test_paired_bootstrap_intervals_and_win_rates() -> None:
    spec = parse_metric("mae", "regression")
    good = Y_REG + RNG.normal(scale=0.5, size=N)
    scores = {"good": good, "bad": good + 1.0, "same": good.copy()}
    intervals, wins = paired_bootstrap(spec, Y_REG, scores, {}, n_resamples=100, seed=0)
    assert wins["bad"] == 0.0  # uniformly worse on every row: never best in any resample
    assert wins["good"] == pytest.approx(0.5) and wins["same"] == pytest.approx(0.5)  # ties split
    low, high = intervals["good"]
    assert low < spec(Y_REG, good) < high


def test_parse_metric_errors_name_the_option() -> None:
    with pytest.raises(LossInputError, match="`metric`"):
        parse_metric("average_precision", "regression")
    with pytest.raises(LossInputError, match="`metric`"):
        parse_metric("recall_at_precision=1.5", "binary")
    assert parse_metric("recall_at_precision=0.9", "binary").tuning() == {
        "objective": "recall_at_precision",
        "min_precision": 0.9,
    }
