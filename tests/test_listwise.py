"""Listwise ranking losses against float64 references written from the papers, scikit-learn's
ndcg_score (ApproxNDCG's limit), and the padding contract: padding never changes loss or gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score

import losskit
from losskit import LossInputError

D = torch.float64
LOSSES = [losskit.listnet_loss, losskit.listmle_loss, losskit.lambda_loss, losskit.approx_ndcg_loss]


def _lists(seed=0, n=5, length=7, levels=4):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, length))
    y = rng.integers(0, levels, size=(n, length)).astype(float)
    lengths = rng.integers(2, length + 1, size=n)
    lengths[0] = length
    mask = np.arange(length)[None, :] < lengths[:, None]
    return s, y, mask


def _valid(s, y, mask, i):
    return s[i][mask[i]], y[i][mask[i]]


# --------------------------------------------------------------------------- float64 references


def _ref_listnet(s, y):
    p = np.exp(y - y.max()) / np.exp(y - y.max()).sum()
    log_q = s - s.max() - np.log(np.exp(s - s.max()).sum())
    return -(p * log_q).sum()


def _ref_listmle(s, y):
    order = np.argsort(-y, kind="stable")
    ss = s[order]
    return sum(np.log(np.exp(ss[r:]).sum()) - ss[r] for r in range(len(ss)))


def _ranks(s):
    order = np.argsort(-s, kind="stable")
    r = np.empty(len(s), dtype=int)
    r[order] = np.arange(1, len(s) + 1)
    return r


def _ref_lambda(s, y, weighting, mu=10.0, sigma=1.0):
    gains = 2.0**y - 1
    ideal = sum(g / math.log2(1 + r) for r, g in enumerate(sorted(gains, reverse=True), start=1))
    if ideal == 0:
        return 0.0
    g, r = gains / ideal, _ranks(s)
    total = 0.0
    for i in range(len(s)):
        for j in range(len(s)):
            if y[i] <= y[j]:
                continue
            lambdarank = abs(1 / math.log2(1 + r[i]) - 1 / math.log2(1 + r[j])) * abs(g[i] - g[j])
            k = abs(r[i] - r[j])
            ndcg2 = (1 / math.log2(1 + k) - 1 / math.log2(2 + k)) * abs(g[i] - g[j])
            w = {"lambdarank": lambdarank, "ndcg2": ndcg2, "ndcg2++": mu * ndcg2 + lambdarank}[weighting]
            total += w * math.log2(1 + math.exp(-sigma * (s[i] - s[j])))
    return total


def _ref_approx_ndcg(s, y, t):
    gains = 2.0**y - 1
    ideal = sum(g / math.log2(1 + r) for r, g in enumerate(sorted(gains, reverse=True), start=1))
    if ideal == 0:
        return 0.0
    ranks = [1 + sum(1 / (1 + math.exp(-(s[j] - s[i]) / t)) for j in range(len(s)) if j != i) for i in range(len(s))]
    return 1 - sum(g / math.log2(1 + r) for g, r in zip(gains, ranks, strict=True)) / ideal


REFS = {
    "listnet": (losskit.listnet_loss, _ref_listnet, {}),
    "listmle": (losskit.listmle_loss, _ref_listmle, {}),
    "lambda-ndcg2++": (losskit.lambda_loss, lambda s, y: _ref_lambda(s, y, "ndcg2++"), {}),
    "lambda-ndcg2": (
        losskit.lambda_loss,
        lambda s, y: _ref_lambda(s, y, "ndcg2", sigma=2.0),
        {"weighting": "ndcg2", "sigma": 2.0},
    ),
    "lambda-lambdarank": (
        losskit.lambda_loss,
        lambda s, y: _ref_lambda(s, y, "lambdarank"),
        {"weighting": "lambdarank"},
    ),
    "approx_ndcg": (losskit.approx_ndcg_loss, lambda s, y: _ref_approx_ndcg(s, y, 0.5), {"temperature": 0.5}),
}


@pytest.mark.parametrize("name", list(REFS))
def test_per_list_loss_equals_float64_reference(name):
    fn, ref, options = REFS[name]
    s, y, mask = _lists(seed=1)
    got = fn(torch.tensor(s), torch.tensor(y), mask=torch.tensor(mask), reduction="none", **options)
    expected = [ref(*_valid(s, y, mask, i)) for i in range(len(s))]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", LOSSES)
def test_padding_never_changes_loss_or_gradient(fn):
    """Garbage in the padding (huge, infinite and NaN scores; negative or NaN relevance): the loss
    and the gradient of every real entry equal those of the lists computed one by one, unpadded,
    and the padding's gradient is exactly 0."""
    s, y, mask = _lists(seed=2)
    garbage_s = np.where(mask, s, np.resize([1e4, -1e4, np.inf, np.nan, 3.0], s.shape))
    garbage_y = np.where(mask, y, np.resize([7.0, -3.0, np.nan], y.shape))
    x = torch.tensor(garbage_s, requires_grad=True)
    per_list = fn(x, torch.tensor(garbage_y), mask=torch.tensor(mask), reduction="none")
    (grad,) = torch.autograd.grad(per_list.sum(), x)
    assert (grad[~torch.tensor(mask)] == 0).all()
    for i in range(len(s)):
        si, yi = _valid(s, y, mask, i)
        xi = torch.tensor(si[None], requires_grad=True)
        alone = fn(xi, torch.tensor(yi[None]), reduction="none")
        (gi,) = torch.autograd.grad(alone.sum(), xi)
        torch.testing.assert_close(per_list[i], alone[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad[i][torch.tensor(mask[i])], gi[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", LOSSES)
def test_mean_is_over_nonempty_lists_weighted(fn):
    s, y, mask = _lists(seed=3)
    mask[1] = False
    w = torch.tensor([0.5, 9.0, 1.0, 2.0, 1.5], dtype=D)
    args = (torch.tensor(s), torch.tensor(y))
    per_list = fn(*args, mask=torch.tensor(mask), reduction="none")
    assert per_list[1] == 0
    keep = torch.tensor([0, 2, 3, 4])
    expected = (per_list[keep] * w[keep]).sum() / w[keep].sum()
    torch.testing.assert_close(fn(*args, mask=torch.tensor(mask), weight=w), expected)


def test_approx_ndcg_tends_to_one_minus_sklearn_ndcg():
    """As the temperature goes to 0 the approximate ranks become exact: 1 - NDCG with gains 2^y - 1."""
    s, y, _ = _lists(seed=4)
    got = losskit.approx_ndcg_loss(torch.tensor(s), torch.tensor(y), temperature=1e-4, reduction="none")
    expected = [1 - ndcg_score([2.0 ** y[i] - 1], [s[i]]) for i in range(len(s))]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_listnet_ties_share_target_probability_and_listmle_breaks_ties_by_position():
    s = torch.tensor([[0.3, -1.0, 2.0]], dtype=D)
    tied = torch.tensor([[1.0, 1.0, 0.0]], dtype=D)
    # ListNet: swapping two tied entries' scores changes nothing about the target distribution
    swapped = s[:, [1, 0, 2]]
    torch.testing.assert_close(
        losskit.listnet_loss(s, tied) - losskit.listnet_loss(swapped, tied), torch.zeros((), dtype=D)
    )
    # ListMLE: the stable order is (0, 1, 2)
    expected = _ref_listmle(np.array([0.3, -1.0, 2.0]), np.array([1.0, 1.0, 0.0]))
    assert math.isclose(float(losskit.listmle_loss(s, tied)), expected, rel_tol=1e-12)


def test_lambda_loss_has_no_pairs_without_relevance_differences():
    s = torch.randn(2, 4, dtype=D, requires_grad=True)
    out = losskit.lambda_loss(s, torch.ones(2, 4, dtype=D))
    (g,) = torch.autograd.grad(out, s)
    assert out.item() == 0 and (g == 0).all()


@pytest.mark.parametrize("fn", LOSSES)
def test_gradient_descent_on_scores_improves_ndcg(fn):
    """The gradient points the right way (a sign error would make NDCG worse)."""
    s, y, mask = _lists(seed=5, n=8, length=10)
    x = torch.tensor(s, requires_grad=True)
    target, m = torch.tensor(y), torch.tensor(mask)

    def ndcg():
        return np.mean(
            [
                ndcg_score([2.0**yi - 1], [si])
                for si, yi in (_valid(x.detach().numpy(), y, mask, i) for i in range(8))
                if (yi > 0).any()
            ]
        )

    before = ndcg()
    opt = torch.optim.Adam([x], lr=0.1)
    for _ in range(60):
        opt.zero_grad()
        fn(x, target, mask=m, reduction="sum").backward()
        opt.step()
    assert ndcg() > before + 0.05
    assert ndcg() > 0.95


# --------------------------------------------------------------------------- pad_lists


def test_pad_lists_round_trip_and_gradient():
    scores = torch.tensor([0.5, 1.5, -0.2, 0.9, 2.0], dtype=D, requires_grad=True)
    relevance = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.0], dtype=D)
    group = torch.tensor([10, 3, 10, 10, 3])
    lists = losskit.pad_lists(scores, relevance, group)
    assert lists.input.shape == (2, 3)
    assert lists.mask.tolist() == [[True, True, False], [True, True, True]]
    torch.testing.assert_close(lists.target[1], torch.tensor([1.0, 2.0, 1.0], dtype=D))
    torch.testing.assert_close(lists.unpad(lists.input), scores)
    torch.testing.assert_close(lists.unpad(lists.target), relevance)
    # the padded loss equals the loss of each group's own list, and gradients reach the flat scores
    out = losskit.listnet_loss(lists.input, lists.target, mask=lists.mask, reduction="sum")
    (g,) = torch.autograd.grad(out, scores)
    parts = [
        losskit.listnet_loss(scores[group == k][None], relevance[group == k][None], reduction="sum") for k in (3, 10)
    ]
    torch.testing.assert_close(out, sum(parts))
    assert torch.isfinite(g).all() and (g != 0).any()


def test_pad_lists_bad_input():
    with pytest.raises(LossInputError, match="`group`"):
        losskit.pad_lists(torch.zeros(3), torch.zeros(3), torch.zeros(3))
    with pytest.raises(LossInputError, match="`target`"):
        losskit.pad_lists(torch.zeros(3), torch.zeros(2), torch.zeros(3, dtype=torch.long))
