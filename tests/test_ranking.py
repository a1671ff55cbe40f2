"""Ranking losses against torch and a brute-force RankNet reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import losskit
from embedding_reference import ref_pairwise_logistic
from losskit import nn as lnn


@pytest.mark.parametrize("margin", [0.0, 0.5, -0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_ranking_loss_matches_torch(margin, reduction):
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(3, 7, generator=gen, requires_grad=True)
    x2 = torch.randn(3, 7, generator=gen, requires_grad=True)
    target = torch.where(torch.rand(3, 7, generator=gen) < 0.5, -1.0, 1.0)
    ours = losskit.margin_ranking_loss(x1, x2, target, margin=margin, reduction=reduction)
    ref = TF.margin_ranking_loss(x1, x2, target, margin=margin, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    g_ours = torch.autograd.grad(ours.sum(), (x1, x2))
    g_ref = torch.autograd.grad(ref.sum(), (x1, x2))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b)


def test_margin_ranking_accepts_integer_targets_and_module():
    x1, x2 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.0, 2.0])
    target = torch.tensor([1, 1, -1])
    # [0.5 - 1]_+ = 0, [0.5 + 1]_+ = 1.5, [0.5 + 0]_+ = 0.5
    out = lnn.MarginRankingLoss(margin=0.5, reduction="none")(x1, x2, target)
    torch.testing.assert_close(out, torch.tensor([0.0, 1.5, 0.5]))


def test_pairwise_logistic_hand_computed():
    # One group: relevances 2 > 1 > 0 with scores 0, 0, 0 -> three pairs, each log(2).
    scores = torch.zeros(3)
    relevance = torch.tensor([2, 1, 0])
    torch.testing.assert_close(losskit.pairwise_logistic_loss(scores, relevance), torch.tensor(math.log(2.0)))
    # "none": item 0 leads two pairs, item 1 one, item 2 none.
    per_item = losskit.pairwise_logistic_loss(scores, relevance, reduction="none")
    torch.testing.assert_close(per_item, torch.tensor([2.0, 1.0, 0.0]) * math.log(2.0))


@pytest.mark.parametrize("sigma", [1.0, 2.5])
def test_pairwise_logistic_matches_brute_force_with_scattered_groups(sigma):
    gen = torch.Generator().manual_seed(1)
    scores = torch.randn(17, generator=gen, dtype=torch.float64, requires_grad=True)
    relevance = torch.randint(0, 4, (17,), generator=gen)
    group = torch.randint(0, 4, (17,), generator=gen) * 10 - 5  # non-contiguous, negative ids
    ref_items, pairs = ref_pairwise_logistic(scores, relevance, group, sigma)
    ours_items = losskit.pairwise_logistic_loss(scores, relevance, group=group, sigma=sigma, reduction="none")
    torch.testing.assert_close(ours_items, ref_items)
    ours = losskit.pairwise_logistic_loss(scores, relevance, group=group, sigma=sigma)
    ref = ref_items.sum() / pairs
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, scores)[0], torch.autograd.grad(ref, scores)[0])


def test_pairwise_logistic_rows_equal_flat_groups():
    gen = torch.Generator().manual_seed(2)
    scores = torch.randn(4, 6, generator=gen)
    relevance = torch.rand(4, 6, generator=gen).round(decimals=1)  # float grades with ties
    group = torch.arange(4).repeat_interleave(6)
    torch.testing.assert_close(
        losskit.pairwise_logistic_loss(scores, relevance),
        losskit.pairwise_logistic_loss(scores.reshape(-1), relevance.reshape(-1), group=group),
    )


def test_pairwise_logistic_extreme_scores_are_finite():
    scores = torch.tensor([-1e4, 1e4, 0.0], requires_grad=True)
    relevance = torch.tensor([2, 0, 1])
    out = losskit.pairwise_logistic_loss(scores, relevance)
    (g,) = torch.autograd.grad(out, scores)
    assert torch.isfinite(out) and torch.isfinite(g).all()
    assert out.item() > 1e3  # badly misordered pairs cost about the score gap


def test_pairwise_logistic_without_pairs_is_connected_zero():
    scores = torch.randn(5, requires_grad=True)
    for relevance, group in [(torch.ones(5), None), (torch.arange(5), torch.arange(5))]:
        out = losskit.pairwise_logistic_loss(scores, relevance, group=group)
        assert out.item() == 0.0 and out.requires_grad
        assert (torch.autograd.grad(out, scores)[0] == 0).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12))
def test_pairwise_logistic_properties(seed, n):
    """Invariant to item order and to a shift of all scores; perfectly ordered scores cost less
    than reversed ones."""
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, generator=gen, dtype=torch.float64)
    relevance = torch.randint(0, 3, (n,), generator=gen)
    group = torch.randint(0, 2, (n,), generator=gen)
    perm = torch.randperm(n, generator=gen)
    base = losskit.pairwise_logistic_loss(scores, relevance, group=group)
    torch.testing.assert_close(losskit.pairwise_logistic_loss(scores[perm], relevance[perm], group=group[perm]), base)
    torch.testing.assert_close(losskit.pairwise_logistic_loss(scores + 7.0, relevance, group=group), base)
    ordered = losskit.pairwise_logistic_loss(relevance.double(), relevance, group=group)
    reversed_ = losskit.pairwise_logistic_loss(-relevance.double(), relevance, group=group)
    assert ordered <= reversed_
