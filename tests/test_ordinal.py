"""CORAL and CORN against the coral-pytorch package (the papers' reference implementation)."""

from __future__ import annotations

import pytest
import torch
from coral_pytorch.dataset import corn_label_from_logits, levels_from_labelbatch, proba_to_label
from coral_pytorch.losses import coral_loss as ref_coral
from coral_pytorch.losses import corn_loss as ref_corn

import losskit

K = 6


def _data(n=64, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(n, K - 1, generator=gen, dtype=dtype)
    y = torch.randint(0, K, (n,), generator=gen)
    return x, y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_coral_equals_reference(reduction):
    x, y = _data()
    imp = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    levels = levels_from_labelbatch(y, K, dtype=torch.float64)
    expected = ref_coral(x, levels, importance_weights=imp, reduction=None if reduction == "none" else reduction)
    torch.testing.assert_close(losskit.coral_loss(x, y, task_weight=imp, reduction=reduction), expected)


def test_coral_gradient_equals_reference():
    x, y = _data(seed=1)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    losskit.coral_loss(x1, y).backward()
    ref_coral(x2, levels_from_labelbatch(y, K, dtype=torch.float64)).backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_corn_value_and_gradient_equal_reference():
    x, y = _data(seed=2)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    got, expected = losskit.corn_loss(x1, y), ref_corn(x2, y, K)
    torch.testing.assert_close(got, expected)
    got.backward()
    expected.backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_corn_with_unit_weights_equals_unweighted_and_weights_act_per_item():
    x, y = _data(seed=3)
    torch.testing.assert_close(
        losskit.corn_loss(x, y, weight=torch.ones(len(y), dtype=x.dtype)), losskit.corn_loss(x, y)
    )
    # an integer weight is the same as repeating the item
    w = torch.ones(len(y), dtype=x.dtype)
    w[0] = 3.0
    rep = torch.cat([x[:1], x[:1], x])
    rep_y = torch.cat([y[:1], y[:1], y])
    torch.testing.assert_close(losskit.corn_loss(x, y, weight=w), ref_corn(rep, rep_y, K))


def test_prediction_rules_equal_reference():
    x, _ = _data(n=500, seed=4, dtype=torch.float32)
    torch.testing.assert_close(losskit.coral_predict(x), proba_to_label(torch.sigmoid(x)))
    torch.testing.assert_close(losskit.corn_predict(x), corn_label_from_logits(x))


def test_corn_prediction_is_rank_consistent_and_recovers_levels():
    """Confident conditional logits recover the level exactly; P(y > k) never increases in k."""
    y = torch.arange(K).repeat(3)
    x = torch.where(y[:, None] > torch.arange(K - 1), 8.0, -8.0)
    assert torch.equal(losskit.corn_predict(x), y)
    assert torch.equal(losskit.coral_predict(x), y)
    x, _ = _data(seed=5)
    p_above = torch.cumprod(torch.sigmoid(x), dim=1)
    assert (p_above[:, 1:] <= p_above[:, :-1]).all()


def test_corn_trains_a_linear_model_better_than_chance():
    """End to end: a linear CORN head on a latent-score problem reaches a low level MAE."""
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(300, 4, generator=gen)
    latent = feats @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.3 * torch.randn(300, generator=gen)
    y = torch.bucketize(latent, torch.tensor([-2.0, -0.7, 0.7, 2.0]))
    model = torch.nn.Linear(4, 4)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(60):
        opt.zero_grad()
        losskit.corn_loss(model(feats), y).backward()
        opt.step()
    mae = (losskit.corn_predict(model(feats)) - y).abs().float().mean()
    baseline = (y - y.median()).abs().float().mean()
    assert mae < 0.35 * baseline
