"""Calibration errors, reliability curve and temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.calibration import calibration_curve
from torchmetrics.classification import BinaryCalibrationError, MulticlassCalibrationError

from losskit import LossInputError
from losskit.evaluate import calibration, temperature_scale


def _calibrated(n, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return (rng.random(n) < p).astype(int), p


def _logit(p):
    return np.log(p) - np.log1p(-p)


def test_hand_derived():
    # Bin at 0.2: confidence 0.2, frequency 0.5 (gap 0.3, half the samples);
    # bin at 0.8: confidence 0.8, frequency 1.0 (gap 0.2). ECE = 0.15 + 0.1, MCE = 0.3.
    r = calibration([0, 1, 1, 1], [0.2, 0.2, 0.8, 0.8], n_bins=5)
    assert r.ece == pytest.approx(0.25) and r.mce == pytest.approx(0.3)
    # calibration_curve's rule: a value on an edge falls in the lower bin (0.2 in [0, 0.2]).
    assert r.bin_counts.tolist() == [2, 0, 0, 2, 0]
    assert np.isnan(r.prob_true[[1, 2, 4]]).all()


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_curve_matches_sklearn(strategy):
    y, p = _calibrated(500, 0)
    p = np.round(p, 2)  # ties and values on bin edges
    r = calibration(y, p, n_bins=10, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    filled = r.bin_counts > 0
    np.testing.assert_allclose(r.prob_true[filled], prob_true)
    np.testing.assert_allclose(r.prob_pred[filled], prob_pred)
    assert r.bin_counts.sum() == 500 and r.bin_edges.shape == (11,)


def test_ece_matches_torchmetrics_binary_and_multiclass():
    y, p = _calibrated(2000, 1)
    expected = BinaryCalibrationError(n_bins=15)(torch.tensor(p), torch.tensor(y))
    assert calibration(y, p).ece == pytest.approx(float(expected), abs=1e-6)
    rng = np.random.default_rng(2)
    proba = rng.dirichlet(np.ones(4) * 0.5, size=2000)
    yc = rng.integers(0, 4, 2000)
    metric = MulticlassCalibrationError(num_classes=4, n_bins=15)
    expected = metric(torch.tensor(proba), torch.tensor(yc))
    r = calibration(yc, proba)
    assert r.ece == pytest.approx(float(expected), abs=1e-6)
    # Top-label binning: the curve of (correct?, confidence).
    prob_true, _ = calibration_curve(proba.argmax(1) == yc, proba.max(1), n_bins=15)
    np.testing.assert_allclose(r.prob_true[r.bin_counts > 0], prob_true)


def test_perfectly_calibrated_scores_have_ece_near_zero():
    y, p = _calibrated(20000, 3)
    r = calibration(y, p)
    assert r.ece < 0.02  # sampling noise only: about sqrt(p(1-p)/n_bin) per bin
    assert r.mce < 0.05


def test_over_confident_scores_are_detected():
    y, p = _calibrated(20000, 4)
    over = 1 / (1 + np.exp(-3 * _logit(p)))  # logits tripled: pushed to 0 and 1
    r = calibration(y, over)
    assert r.ece > 0.1
    assert r.mce >= r.ece
    # Over-confidence: in the top bins the predicted probability exceeds the observed frequency.
    top = r.bin_counts.size - 1
    assert r.prob_pred[top] > r.prob_true[top]


@pytest.mark.parametrize("n_classes", [None, 5])
def test_temperature_recovers_known_temperature(n_classes):
    # Labels drawn from softmax(z / 2): the NLL-optimal temperature of the logits z is 2.
    g = torch.Generator().manual_seed(0)
    if n_classes is None:
        z = 4 * torch.randn(6000, generator=g, dtype=torch.float64)
        y = (torch.rand(6000, generator=g, dtype=torch.float64) < torch.sigmoid(z / 2)).long()
    else:
        z = 4 * torch.randn(6000, n_classes, generator=g, dtype=torch.float64)
        y = torch.multinomial(torch.softmax(z / 2, dim=1), 1, generator=g).squeeze(1)
    t = temperature_scale(z.float(), y)
    assert t == pytest.approx(2.0, rel=0.1)

    def nll(temp):
        if n_classes is None:
            return float(torch.nn.functional.binary_cross_entropy_with_logits(z / temp, y.double()))
        return float(torch.nn.functional.cross_entropy(z / temp, y))

    # A local optimum of the (PyTorch-computed) NLL.
    assert nll(t) <= min(nll(t * 1.02), nll(t / 1.02))


def test_temperature_of_calibrated_logits_is_one():
    g = torch.Generator().manual_seed(1)
    z = 2 * torch.randn(8000, 3, generator=g)
    y = torch.multinomial(torch.softmax(z, dim=1), 1, generator=g).squeeze(1)
    assert temperature_scale(z, y) == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        (([0, 1], [0.2, 1.2]), {}, "y_prob"),
        (([0, 1], [0.2, np.nan]), {}, "y_prob"),
        (([0, 1, 1], [0.2, 0.4]), {}, "y_prob"),
        (([0, 2], [0.2, 0.4]), {}, "y_true"),
        (([0, 3], np.full((2, 3), 1 / 3)), {}, "y_true"),
        (([0, 1], [[0.6, 0.6], [0.5, 0.5]]), {}, "y_prob"),
        (([0, 1], [0.2, 0.4]), {"n_bins": 0}, "n_bins"),
        (([0, 1], [0.2, 0.4]), {"strategy": "kmeans"}, "strategy"),
    ],
)
def test_calibration_bad_input(args, kwargs, argument):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        calibration(*args, **kwargs)


@pytest.mark.parametrize(
    ("logits", "y", "argument"),
    [
        (np.zeros(3), torch.tensor([0, 1, 1]), "logits"),
        (torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]), "logits"),
        (torch.tensor([0.0, float("nan")]), torch.tensor([0, 1]), "logits"),
        (torch.zeros(3), torch.tensor([0, 1]), "y_true"),
        (torch.zeros(3), torch.tensor([0, 2, 1]), "y_true"),
        (torch.zeros(3, 4), torch.tensor([0, 4, 1]), "y_true"),
        (torch.zeros(2), [0, 1], "y_true"),
    ],
)
def test_temperature_bad_input(logits, y, argument):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        temperature_scale(logits, y)


@pytest.mark.parametrize("n_classes", [None, 5])
def test_temperature_reaches_the_float64_optimum(n_classes):
    """L-BFGS with its default tolerances stopped about 3e-5 short; the optimum is the root of
    the NLL's derivative in T, found here by scipy's brentq on a float64 autograd derivative."""
    from scipy.optimize import brentq

    g = torch.Generator().manual_seed(3)
    if n_classes is None:
        z = 3 * torch.randn(3000, generator=g, dtype=torch.float64)
        y = (torch.rand(3000, generator=g, dtype=torch.float64) < torch.sigmoid(z / 1.7)).long()
    else:
        z = 3 * torch.randn(3000, n_classes, generator=g, dtype=torch.float64)
        y = torch.multinomial(torch.softmax(z / 1.7, dim=1), 1, generator=g).squeeze(1)

    def slope(temp):
        t = torch.tensor(temp, dtype=torch.float64, requires_grad=True)
        if n_classes is None:
            nll = torch.nn.functional.binary_cross_entropy_with_logits(z / t, y.double())
        else:
            nll = torch.nn.functional.cross_entropy(z / t, y)
        (d,) = torch.autograd.grad(nll, t)
        return float(d)

    expected = brentq(slope, 0.5, 5.0, xtol=1e-15, rtol=1e-15)
    assert temperature_scale(z, y) == pytest.approx(expected, rel=1e-10)


def test_edge_probabilities_bin_alike_in_calibration_and_streaming():
    """p = 0.2 lies on an edge of 5 bins: both put it in the bin below (0.45, not 0.525)."""
    from losskit.evaluate import streaming_metrics

    p, y = [0.15, 0.2, 0.25, 0.6], [0, 1, 1, 1]
    assert calibration(y, p, n_bins=5).ece == pytest.approx(0.45)
    for dtype in (torch.float64, torch.float32):
        m = streaming_metrics("binary", n_bins=5)
        pt = torch.tensor(p, dtype=dtype)
        m.update(pt, torch.tensor(y))
        assert float(m.compute()["ece"]) == pytest.approx(calibration(y, pt, n_bins=5).ece, abs=1e-7)
    proba = torch.tensor([[0.6, 0.4], [0.2, 0.8], [0.4, 0.6], [0.5, 0.5]], dtype=torch.float64)
    target = torch.tensor([0, 1, 0, 1])
    m = streaming_metrics("multiclass", num_classes=2, n_bins=5)
    m.update(proba, target)
    assert float(m.compute()["ece"]) == pytest.approx(calibration(target, proba, n_bins=5).ece)
