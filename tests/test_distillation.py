"""Distillation loss against torch.nn.functional.kl_div and cross_entropy in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losskit

TOL = {"atol": 1e-6, "rtol": 1e-6}


def _reference(s, t, temperature, alpha=None, target=None):
    kd = F.kl_div(F.log_softmax(s / temperature, 1), F.log_softmax(t / temperature, 1), log_target=True,
                  reduction="batchmean") * temperature**2
    if target is None:
        return kd
    return alpha * kd + (1 - alpha) * F.cross_entropy(s, target)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_matches_kl_div_and_cross_entropy(gen, temperature):
    s = 3 * torch.randn(16, 10, generator=gen, dtype=torch.float64)
    t = 3 * torch.randn(16, 10, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=gen)
    sa, sb = s.clone().requires_grad_(), s.clone().requires_grad_()
    ours = losskit.distillation_loss(sa, t, temperature=temperature)
    ref = _reference(sb, t, temperature)
    torch.testing.assert_close(ours, ref, **TOL)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(sa.grad, sb.grad, **TOL)
    torch.testing.assert_close(
        losskit.distillation_loss(s, t, temperature=temperature, alpha=0.3, target=y),
        _reference(s, t, temperature, 0.3, y),
        **TOL,
    )


def test_teacher_as_log_probabilities_gives_the_same_loss(gen):
    s, t = torch.randn(8, 6, generator=gen, dtype=torch.float64), torch.randn(8, 6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        losskit.distillation_loss(s, t.log_softmax(1), temperature=2.0),
        losskit.distillation_loss(s, t, temperature=2.0),
        **TOL,
    )


def test_token_level_ignore_index_excludes_padding(gen):
    """(B, V, L) logits; padded tokens change nothing and do not count in the mean."""
    s = torch.randn(2, 7, 5, generator=gen, dtype=torch.float64)
    t = torch.randn(2, 7, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 7, (2, 5), generator=gen)
    y[1, 3:] = -100
    keep = y != -100
    flat_s, flat_t = s.movedim(1, -1)[keep], t.movedim(1, -1)[keep]
    ref = _reference(flat_s, flat_t, 2.0, 0.6, y[keep])
    torch.testing.assert_close(losskit.distillation_loss(s, t, temperature=2.0, alpha=0.6, target=y), ref, **TOL)
    # garbage at padded positions leaks nowhere
    s2 = s.clone()
    s2[1, :, 3:] = 1e4
    torch.testing.assert_close(losskit.distillation_loss(s2, t, temperature=2.0, alpha=0.6, target=y), ref, **TOL)


def test_teacher_with_zero_probabilities_is_finite():
    s = torch.randn(2, 4, requires_grad=True)
    t = torch.tensor([[0.0, -float("inf"), 1.0, 2.0], [-float("inf"), -float("inf"), 0.0, 0.0]], requires_grad=True)
    out = losskit.distillation_loss(s, t, temperature=2.0)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(s.grad).all() and torch.isfinite(t.grad).all()
    q = torch.softmax(t.detach() / 2.0, 1)
    ref = (torch.xlogy(q, q) - q * torch.log_softmax(s.detach() / 2.0, 1)).sum(1).mean() * 4
    torch.testing.assert_close(out, ref)


def test_bf16_gradient_matches_float32_on_the_same_inputs(gen):
    """Computed in float32: the bf16 gradient is the float32 one rounded, not a bf16 KL's."""
    s = torch.randn(64, 1000, generator=gen).bfloat16()
    t = (s.float() + 0.05 * torch.randn(64, 1000, generator=gen)).bfloat16()  # a close teacher
    sb = s.clone().requires_grad_()
    losskit.distillation_loss(sb, t, temperature=2.0).backward()
    s32 = s.float().requires_grad_()
    _reference(s32, t.float(), 2.0).backward()
    err = (sb.grad.float() - s32.grad).norm() / s32.grad.norm()
    assert sb.grad.dtype == torch.bfloat16 and err < 1e-2


def test_empty_batch_with_labels_is_zero_and_connected():
    s = torch.randn(0, 5, requires_grad=True)
    out = losskit.distillation_loss(s, torch.randn(0, 5), target=torch.zeros(0, dtype=torch.long))
    assert out.item() == 0.0 and out.requires_grad
