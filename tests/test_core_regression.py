"""Regression losses against PyTorch, scikit-learn and float64 direct formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_pinball_loss

import losskit

f64 = torch.float64


def _pair(seed=0, shape=(6, 3), scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g, dtype=f64), scale * torch.randn(*shape, generator=g, dtype=f64)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize(
    ("ours", "ref"),
    [
        (losskit.mse_loss, F.mse_loss),
        (losskit.mae_loss, F.l1_loss),
        (
            lambda x, y, **k: losskit.huber_loss(x, y, delta=0.6, **k),
            lambda x, y, **k: F.huber_loss(x, y, delta=0.6, **k),
        ),
        (
            lambda x, y, **k: losskit.smooth_l1_loss(x, y, beta=0.4, **k),
            lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.4, **k),
        ),
        (
            lambda x, y, **k: losskit.smooth_l1_loss(x, y, beta=0.0, **k),
            lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.0, **k),
        ),
    ],
    ids=["mse", "mae", "huber", "smooth_l1", "smooth_l1-beta0"],
)
def test_matches_torch(ours, ref, reduction):
    x, y = _pair()
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, expected = ours(a, y, reduction=reduction), ref(b, y, reduction=reduction)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_log_cosh_direct_formula_and_no_overflow():
    x, y = _pair(scale=3.0)
    torch.testing.assert_close(losskit.log_cosh_loss(x, y, reduction="none"), torch.log(torch.cosh(x - y)))
    big = torch.tensor([200.0, -500.0], requires_grad=True)
    out = losskit.log_cosh_loss(big, torch.zeros(2))
    assert torch.isfinite(out)
    assert out.item() == pytest.approx((200 + 500) / 2 - math.log(2), rel=1e-6)
    (g,) = torch.autograd.grad(out, big)
    torch.testing.assert_close(g, torch.tensor([0.5, -0.5]))


def test_weighted_mean_is_sum_w_l_over_sum_w():
    x, y = _pair()
    w = torch.rand(6, 1, dtype=f64) + 0.1
    expected = (w * (x - y) ** 2).sum() / (w.expand_as(x)).sum()
    torch.testing.assert_close(losskit.mse_loss(x, y, weight=w), expected)


@pytest.mark.parametrize("q", [0.05, 0.5, 0.9])
def test_pinball_single_quantile_matches_sklearn(q):
    rng = np.random.default_rng(0)
    y, pred, w = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.1, 2, size=50)
    ours = losskit.pinball_loss(torch.tensor(pred).unsqueeze(-1), torch.tensor(y), [q])
    assert ours.item() == pytest.approx(mean_pinball_loss(y, pred, alpha=q))
    ours_w = losskit.pinball_loss(torch.tensor(pred).unsqueeze(-1), torch.tensor(y), [q], weight=torch.tensor(w))
    assert ours_w.item() == pytest.approx(mean_pinball_loss(y, pred, alpha=q, sample_weight=w))


def test_pinball_many_quantiles_is_average_of_single_ones():
    rng = np.random.default_rng(1)
    qs = [0.1, 0.5, 0.9]
    y, pred = rng.normal(size=30), rng.normal(size=(30, 3))
    ours = losskit.pinball_loss(torch.tensor(pred), torch.tensor(y), qs)
    ref = np.mean([mean_pinball_loss(y, pred[:, i], alpha=q) for i, q in enumerate(qs)])
    assert ours.item() == pytest.approx(ref)


def test_pinball_monotone_rearranges_crossing_quantiles():
    pred = torch.tensor([[2.0, 1.0, 0.0]], requires_grad=True)  # crossed: q10 above q90
    y = torch.tensor([1.5])
    out = losskit.pinball_loss(pred, y, [0.1, 0.5, 0.9], monotone=True, reduction="none")
    sorted_ref = losskit.pinball_loss(pred.detach().sort(-1).values, y, [0.1, 0.5, 0.9], reduction="none")
    torch.testing.assert_close(out, sorted_ref)
    crossed = losskit.pinball_loss(pred, y, [0.1, 0.5, 0.9])
    assert out.mean() <= crossed  # rearrangement never increases the loss
    (g,) = torch.autograd.grad(out.sum(), pred)
    # sorted slots (0, 1, 2) are filled by predictions (0.0, 1.0, 2.0) = indices (2, 1, 0); with y = 1.5 the
    # slot gradients are -q below y and 1 - q above: (-0.1, -0.5, 1 - 0.9), routed back to their indices
    torch.testing.assert_close(g, torch.tensor([[0.1, -0.5, -0.1]]))


def test_pinball_quantile_checks_for_sequences_and_tensors():
    x, y = torch.randn(4, 3), torch.randn(4)
    tensor_q = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    torch.testing.assert_close(losskit.pinball_loss(x, y, tensor_q), losskit.pinball_loss(x, y, [0.1, 0.5, 0.9]))
    np_q = np.array([0.1, 0.5, 0.9], dtype=np.float32)
    torch.testing.assert_close(losskit.pinball_loss(x, y, np_q), losskit.pinball_loss(x, y, tensor_q.float()))
    bad_cases = (([0.1, float("nan"), 0.9], False), ([0.1, 0.5, 0.5], True), (torch.tensor([0.1, 0.5, 1.0]), False))
    for bad, monotone in bad_cases:
        with pytest.raises(losskit.LossInputError, match="`quantiles`"):
            losskit.pinball_loss(x, y, bad, monotone=monotone)
    with losskit.validation(False):
        losskit.pinball_loss(x, y, torch.tensor([0.9, 0.5, 0.1]), monotone=True)  # a tensor's values are not read
        with pytest.raises(losskit.LossInputError, match="`quantiles`"):  # a Python sequence is checked for free
            losskit.pinball_loss(x, y, [0.1, 0.5, 1.5])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 15),
    q=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_pinball_properties(n, q, seed):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(n, len(q), generator=g, dtype=f64)
    y = torch.randn(n, generator=g, dtype=f64)
    none = losskit.pinball_loss(pred, y, q, reduction="none")
    assert (none >= 0).all()
    torch.testing.assert_close(
        losskit.pinball_loss(pred, y, q, reduction="sum"), losskit.pinball_loss(pred, y, q) * none.numel()
    )
    # a perfect prediction has zero loss
    assert losskit.pinball_loss(y.unsqueeze(-1).expand(n, len(q)), y, q).item() == 0.0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20), seed=st.integers(0, 2**16), delta=st.floats(0.05, 5.0))
def test_regression_properties(n, seed, delta):
    """Non-negative, zero at a perfect fit, Huber between 0 and MSE/2, log-cosh below MAE."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, generator=g, dtype=f64) * 5, torch.randn(n, generator=g, dtype=f64) * 5
    for fn in (losskit.mse_loss, losskit.mae_loss, losskit.huber_loss, losskit.log_cosh_loss, losskit.smooth_l1_loss):
        assert fn(x, y, reduction="none").min() >= 0
        assert fn(x, x).item() == 0.0
    hub = losskit.huber_loss(x, y, delta=delta, reduction="none")
    assert (hub <= 0.5 * (x - y) ** 2 + 1e-12).all()
    assert (losskit.log_cosh_loss(x, y, reduction="none") <= (x - y).abs() + 1e-12).all()
    torch.testing.assert_close(losskit.smooth_l1_loss(x, y, beta=delta) * delta, losskit.huber_loss(x, y, delta=delta))


def test_log_cosh_relative_accuracy_for_small_residuals_in_float32():
    """d = 1e-4 gave exactly 0 in float32 (true value 5e-9): the tail form cancels near 0."""
    d64 = torch.logspace(-8, 1.5, 200, dtype=f64)
    d64 = torch.cat([d64, -d64, torch.tensor([9.999, 10.0, 10.001, 60.0], dtype=f64)])
    d32 = d64.float().requires_grad_()
    out = losskit.log_cosh_loss(d32, torch.zeros_like(d32), reduction="none")
    # float64 reference at the float32 points: Taylor series d^2/2 - d^4/12 + d^6/45 where
    # log(cosh(d)) itself would cancel (|d| < 1e-3), the direct formula elsewhere.
    d = d32.detach().double()
    series = d**2 / 2 - d**4 / 12 + d**6 / 45
    expected = torch.where(d.abs() < 1e-3, series, torch.log(torch.cosh(d)))
    rel = ((out.double() - expected) / expected).abs()
    assert float(rel.max()) < 1e-6
    assert losskit.log_cosh_loss(torch.tensor([1e-4]), torch.zeros(1)).item() == pytest.approx(5e-9, rel=1e-6)
    out.sum().backward()
    torch.testing.assert_close(d32.grad, torch.tanh(d32.detach()))
    x = torch.tensor([1e-3, 0.5, 9.9, 10.1, 30.0], dtype=f64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: losskit.log_cosh_loss(z, torch.zeros(5, dtype=f64)), (x,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "mae_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss"])
def test_nan_prediction_is_refused_under_every_reduction(name: str, reduction: str) -> None:
    """The NaN check reads the reduced result ("mean"/"sum": no extra pass) or the input ("none")."""
    x = torch.tensor([0.5, float("nan"), 1.0])
    with pytest.raises(losskit.LossInputError, match=r"`input`.*NaN"):
        getattr(losskit, name)(x, torch.zeros(3), reduction=reduction)
    with losskit.validation(False):
        assert torch.isnan(getattr(losskit, name)(x, torch.zeros(3), reduction=reduction)).any()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nan_logit_is_refused_by_bce_under_every_reduction(reduction: str) -> None:
    x = torch.tensor([0.5, float("nan"), 1.0])
    with pytest.raises(losskit.LossInputError, match=r"`input`.*NaN"):
        losskit.binary_cross_entropy_with_logits(x, torch.zeros(3), reduction=reduction)
