"""Asymmetric loss and PolyLoss against float64 formulas and the reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit

TOL = {"atol": 1e-6, "rtol": 1e-6}


def _asl_reference(x, y, gamma_pos, gamma_neg, clip, eps=1e-8):
    """The AsymmetricLoss forward of Ridnik et al.'s reference code (per element, not summed)."""
    xs_pos = torch.sigmoid(x)
    xs_neg = 1 - xs_pos
    if clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    loss = y * torch.log(xs_pos.clamp(min=eps)) + (1 - y) * torch.log(xs_neg.clamp(min=eps))
    pt = xs_pos * y + xs_neg * (1 - y)
    gamma = gamma_pos * y + gamma_neg * (1 - y)
    return -loss * torch.pow(1 - pt, gamma)


@pytest.mark.parametrize(
    ("gamma_pos", "gamma_neg", "clip"), [(0.0, 4.0, 0.05), (1.0, 2.0, 0.0), (0.5, 3.0, 0.2), (0.0, 0.0, 0.0)]
)
def test_asymmetric_matches_reference_value_and_gradient(gen, gamma_pos, gamma_neg, clip):
    x = 3 * torch.randn(16, 7, generator=gen, dtype=torch.float64)
    y = (torch.rand(16, 7, generator=gen) < 0.2).double()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = losskit.asymmetric_loss(xa, y, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction="none")
    ref = _asl_reference(xb, y, gamma_pos, gamma_neg, clip)
    torch.testing.assert_close(ours, ref, **TOL)
    ours.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, **TOL)


def test_asymmetric_without_focusing_or_margin_is_bce(gen):
    x = torch.randn(8, 5, generator=gen, dtype=torch.float64)
    y = torch.rand(8, 5, generator=gen, dtype=torch.float64)
    ours = losskit.asymmetric_loss(x, y, gamma_pos=0.0, gamma_neg=0.0, clip=0.0)
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(x, y), **TOL)


def test_asymmetric_discards_easy_negatives():
    """A negative with p < clip contributes exactly 0 (and no gradient)."""
    x = torch.tensor([[-5.0]], dtype=torch.float64, requires_grad=True)  # p = 0.0067 < 0.05
    out = losskit.asymmetric_loss(x, torch.zeros(1, 1, dtype=torch.float64))
    out.backward()
    assert out.item() == 0.0 and x.grad.item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("clip", [0.0, 0.05])
def test_asymmetric_finite_at_extreme_logits_and_half_precision(dtype, clip):
    x = torch.tensor([[1e4, -1e4, 3.0, -3.0], [-1e4, 1e4, 0.0, 20.0]]).to(dtype).requires_grad_()
    y = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]]).to(dtype)
    out = losskit.asymmetric_loss(x, y, gamma_pos=0.5, gamma_neg=4.0, clip=clip)
    out.backward()
    assert out.dtype == dtype and torch.isfinite(out)
    assert torch.isfinite(x.grad).all()
    # the wrong positive at -1e4 costs 1e4 / 8 on the mean and keeps its slope of -1 / 8
    assert x.grad[0, 1].float().item() == pytest.approx(-1 / 8, rel=1e-2)
    # the reference formula clamps p at 1e-8 and its gradient there is lost
    xr = x.detach().double().requires_grad_()
    _asl_reference(xr, y.double(), 0.5, 4.0, clip).mean().backward()
    assert xr.grad[0, 1].item() == 0.0


def _poly_reference(x, t, epsilon, gamma=0.0, alpha=None, weight=None):
    logp = torch.log_softmax(x, 1).gather(1, t[:, None])[:, 0]
    pt = logp.exp()
    base = -((1 - pt) ** gamma) * logp
    if alpha is not None:
        base = alpha * base
    loss = base + epsilon * (1 - pt) ** (gamma + 1)
    if weight is None:
        return loss.mean()
    return (weight[t] * loss).sum() / weight[t].sum()


@pytest.mark.parametrize(("epsilon", "gamma", "alpha"), [(1.0, 0.0, None), (-1.0, 0.0, None), (2.0, 2.0, 0.25)])
def test_poly_matches_formula(gen, epsilon, gamma, alpha):
    x = 2 * torch.randn(12, 5, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 5, (12,), generator=gen)
    w = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5
    for weight in (None, w):
        ours = losskit.poly_loss(x, t, epsilon=epsilon, gamma=gamma, alpha=alpha, weight=weight)
        torch.testing.assert_close(ours, _poly_reference(x, t, epsilon, gamma, alpha, weight), **TOL)


def test_poly_with_smoothing_and_soft_targets(gen):
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 4, (6,), generator=gen)
    y = F.one_hot(t, 4).double() * 0.9 + 0.1 / 4
    pt = (torch.softmax(x, 1) * y).sum(1)
    ref = F.cross_entropy(x, t, label_smoothing=0.1, reduction="none") + 0.5 * (1 - pt)
    torch.testing.assert_close(
        losskit.poly_loss(x, t, epsilon=0.5, label_smoothing=0.1, reduction="none"), ref, **TOL
    )
    torch.testing.assert_close(losskit.poly_loss(x, y, epsilon=0.5, reduction="none"), ref, **TOL)


def test_poly_epsilon_zero_is_cross_entropy_and_focal(gen):
    x = torch.randn(6, 4, 3, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 4, (6, 3), generator=gen)
    t[0, 0] = -100
    sw = torch.rand(6, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        losskit.poly_loss(x, t, epsilon=0.0, sample_weight=sw), losskit.cross_entropy(x, t, sample_weight=sw), **TOL
    )
    torch.testing.assert_close(
        losskit.poly_loss(x, t, epsilon=0.0, gamma=2.0), losskit.focal_loss(x, t, gamma=2.0), **TOL
    )


def test_poly_finite_at_saturated_logits():
    x = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], requires_grad=True)
    out = losskit.poly_loss(x, torch.tensor([0, 0]), gamma=0.5)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(x.grad).all()


def test_advisor_offers_asymmetric_loss_for_rare_labels():
    rng = np.random.default_rng(0)
    y = (rng.random((800, 5)) < [0.3, 0.1, 0.02, 0.01, 0.5]).astype(int)
    advice = losskit.advise(y)
    alt = next(a for a in advice.alternatives if a.name == "asymmetric_loss")
    assert alt.options == {"gamma_neg": 4.0, "clip": 0.05} and "rare labels" in alt.reason
    module = alt.entry.module_class()(**alt.options)
    assert torch.isfinite(module(torch.randn(8, 5), torch.as_tensor(y[:8], dtype=torch.float32)))
