"""Metric-learning losses against independent references, edge cases and invariants.

The generic suites (gradcheck, reductions, empty batch, half precision, bad inputs) run over
the cases in ``cases_embedding.py``; this file checks values and behaviour specific to each loss.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

import losskit
from embedding_reference import ref_arcface_logits, ref_info_nce, ref_triplet
from losskit import nn as lnn
from losskit.embedding import miners

MININGS = ["batch_hard", "semi_hard", "batch_all"]
DISTANCES = ["euclidean", "squared_euclidean", "cosine"]


def _batch(n=12, dim=5, classes=3, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=dtype)
    labels = torch.randint(0, classes, (n,), generator=gen)
    return x, labels


# --------------------------------------------------------------------------------------
# triplet_margin_loss: value-compatible with torch
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_margin_loss_matches_torch(p, swap, reduction):
    gen = torch.Generator().manual_seed(1)
    a, pos, neg = (torch.randn(9, 4, generator=gen) for _ in range(3))
    ours = losskit.triplet_margin_loss(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction)
    ref = TF.triplet_margin_loss(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction)
    torch.testing.assert_close(ours, ref)


def test_triplet_margin_loss_single_triplet_and_gradients_match_torch():
    gen = torch.Generator().manual_seed(2)
    ins = [torch.randn(6, generator=gen, requires_grad=True) for _ in range(3)]
    ours = losskit.triplet_margin_loss(*ins, margin=3.0)
    g_ours = torch.autograd.grad(ours, ins)
    ref = TF.triplet_margin_loss(*ins, margin=3.0)
    g_ref = torch.autograd.grad(ref, ins)
    torch.testing.assert_close(ours, ref)
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------------------
# triplet_loss: mined triplets against brute force
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mining", MININGS)
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("soft_margin", [False, True])
def test_triplet_loss_matches_brute_force(mining, distance, soft_margin):
    x, labels = _batch(seed=3)
    x_ref = x.clone().requires_grad_(True)
    per_anchor_ref, count = ref_triplet(
        x_ref, labels, margin=0.3, mining=mining, distance=distance, soft_margin=soft_margin
    )
    mean_ref = per_anchor_ref.sum() / count
    (g_ref,) = torch.autograd.grad(mean_ref, x_ref)

    x_ours = x.clone().requires_grad_(True)
    kw = {"margin": 0.3, "mining": mining, "distance": distance, "soft_margin": soft_margin}
    torch.testing.assert_close(losskit.triplet_loss(x, labels, **kw, reduction="none"), per_anchor_ref.detach())
    mean = losskit.triplet_loss(x_ours, labels, **kw)
    (g,) = torch.autograd.grad(mean, x_ours)
    torch.testing.assert_close(mean, mean_ref.detach())
    torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
@pytest.mark.parametrize("scan", [True, False])
@pytest.mark.parametrize("classes", [2, 4])
def test_index_miners_in_small_blocks_and_both_search_paths(monkeypatch, mining, scan, classes):
    """Anchor blocks of two rows and both semi-hard searches (scanning, sorting) agree with brute force."""
    x, labels = _batch(n=14, classes=classes, seed=classes)
    expected, _ = ref_triplet(x, labels, margin=0.3, mining=mining)
    monkeypatch.setattr(miners, "_BLOCK_ELEMENTS", 2 * 14)
    monkeypatch.setattr(miners, "_prefer_scanning", lambda most, n: scan)
    torch.testing.assert_close(losskit.triplet_loss(x, labels, margin=0.3, mining=mining, reduction="none"), expected)


def test_batch_hard_hand_computed():
    # On a line: anchor 0 at 0 with positive at 3 and negatives at 1 and 5.
    # Batch-hard for anchor 0: hardest positive 3, hardest negative 1: [3 - 1 + 0.5]_+ = 2.5.
    x = torch.tensor([[0.0], [3.0], [1.0], [5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    per_anchor = losskit.triplet_loss(x, labels, margin=0.5, reduction="none")
    # anchor 1 (at 3): positive 0 (d 3), closest negative 5 (d 2): 3 - 2 + 0.5 = 1.5
    # anchor 2 (at 1): positive 5 (d 4), closest negative 0 (d 1): 4 - 1 + 0.5 = 3.5
    # anchor 3 (at 5): positive 1 (d 4), closest negative 3 (d 2): 4 - 2 + 0.5 = 2.5
    torch.testing.assert_close(per_anchor, torch.tensor([2.5, 1.5, 3.5, 2.5]))


def test_semi_hard_picks_closest_farther_negative_and_falls_back_to_hardest():
    # Anchor 0 at 0, positive at 2; negatives at 1 (closer), 3 and 4 (farther).
    # Semi-hard picks 3: [2 - 3 + 1.5]_+ = 0.5. Batch-hard would pick 1: 2 - 1 + 1.5 = 2.5.
    x = torch.tensor([[0.0], [2.0], [1.0], [3.0], [4.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    a, p, n = miners.semi_hard_triplets(x, labels)
    chosen = {(int(i), int(j)): int(k) for i, j, k in zip(a, p, n, strict=True)}
    assert chosen[(0, 1)] == 3
    # Anchor 1 at 2 with positive 0 at distance 2: negatives at distances 1, 1, 2, none strictly
    # farther, so the hardest (closest) negative: the point at 1 or the one at 3 (a tie).
    assert chosen[(1, 0)] in (2, 3)
    per_anchor = losskit.triplet_loss(x, labels, margin=1.5, mining="semi_hard", reduction="none")
    torch.testing.assert_close(per_anchor[0], torch.tensor(0.5))
    torch.testing.assert_close(per_anchor[1], torch.tensor(2.0 - 1.0 + 1.5))


@pytest.mark.parametrize("scan", [True, False])
def test_semi_hard_negative_at_the_same_distance_is_not_farther(monkeypatch, scan):
    # Anchor at 0, positive at 2; negatives at -2 (a tie: distance 2, not strictly farther) and 3.
    # Dyadic coordinates keep the tie exact in floating point.
    monkeypatch.setattr(miners, "_prefer_scanning", lambda most, n: scan)
    x = torch.tensor([[0.0], [2.0], [-2.0], [3.0]])
    a, p, n = miners.semi_hard_triplets(x, torch.tensor([0, 0, 1, 1]))
    assert {(int(i), int(j)): int(k) for i, j, k in zip(a, p, n, strict=True)}[(0, 1)] == 3


@pytest.mark.parametrize("mining", MININGS)
@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [5, 5, 5, 5], [7]])
def test_no_valid_triplet_gives_connected_zero(mining, labels):
    x = torch.randn(len(labels), 3, requires_grad=True)
    out = losskit.triplet_loss(x, torch.tensor(labels), mining=mining)
    assert out.item() == 0.0 and out.requires_grad
    (g,) = torch.autograd.grad(out, x)
    assert (g == 0).all()


def test_batch_all_counts_only_positive_triplets():
    # Far-apart classes: every triplet has zero loss except those built on the one outlier.
    x = torch.tensor([[0.0], [0.1], [10.0], [10.1], [9.0]])
    labels = torch.tensor([0, 0, 1, 1, 0])  # the last point sits with class 1
    per_anchor, count = ref_triplet(x.double(), labels, margin=0.2, mining="batch_all")
    out = losskit.triplet_loss(x, labels, margin=0.2, mining="batch_all")
    assert 0 < count < 12
    torch.testing.assert_close(out, (per_anchor.sum() / count).float())


def test_batch_all_blocks_agree(monkeypatch):
    """Tiny blocks (one pair at a time) give the same values and gradients as one block."""
    x, labels = _batch(n=10, seed=5)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    whole = losskit.triplet_loss(x1, labels, mining="batch_all", reduction="none")
    (g_whole,) = torch.autograd.grad(whole.sum(), x1)
    monkeypatch.setattr(miners, "_BLOCK_ELEMENTS", 1)
    blocked = losskit.triplet_loss(x2, labels, mining="batch_all", reduction="none")
    (g_blocked,) = torch.autograd.grad(blocked.sum(), x2)
    torch.testing.assert_close(blocked, whole)
    torch.testing.assert_close(g_blocked, g_whole)


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an operator produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_hard_miners_never_build_a_cube(mining):
    n = 48
    x, labels = _batch(n=n, dim=4, classes=6, dtype=torch.float32)
    x.requires_grad_(True)
    with _LargestTensor() as probe:
        losskit.triplet_loss(x, labels, mining=mining).backward()
    assert probe.largest <= n * n


def test_batch_all_memory_is_bounded_by_blocks(monkeypatch):
    n = 48
    monkeypatch.setattr(miners, "_BLOCK_ELEMENTS", n * n)
    x, labels = _batch(n=n, dim=4, classes=2, dtype=torch.float32)
    x.requires_grad_(True)
    with _LargestTensor() as probe:
        losskit.triplet_loss(x, labels, mining="batch_all").backward()
    # (B, B) matrices and the (pairs, 2) list of anchor-positive pairs; the full set of
    # triplets would hold about B^3 / 4 elements.
    assert probe.largest <= 2 * n * n < n**3 // 8


def test_triplet_loss_against_pytorch_metric_learning():
    pml = pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import distances, losses, reducers
    from pytorch_metric_learning import miners as pml_miners

    assert pml.__version__
    x, labels = _batch(n=32, dim=8, classes=4, seed=7, dtype=torch.float32)
    lp = distances.LpDistance(normalize_embeddings=False)
    # Batch-hard: PML's miner plus its triplet loss averaged over the mined triplets.
    miner = pml_miners.BatchHardMiner(distance=lp)
    loss_fn = losses.TripletMarginLoss(margin=0.3, distance=lp, reducer=reducers.MeanReducer())
    ref = loss_fn(x, labels, miner(x, labels))
    torch.testing.assert_close(losskit.triplet_loss(x, labels, margin=0.3), ref, rtol=1e-4, atol=1e-5)
    # Batch-all: PML's default (every triplet, averaged over those with positive loss).
    ref_all = losses.TripletMarginLoss(margin=0.3, distance=lp)(x, labels)
    ours_all = losskit.triplet_loss(x, labels, margin=0.3, mining="batch_all")
    torch.testing.assert_close(ours_all, ref_all, rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    mining=st.sampled_from(MININGS),
    scale=st.floats(0.1, 10.0),
)
def test_euclidean_triplet_loss_has_no_hidden_normalisation(seed, mining, scale):
    """Scaling embeddings and margin by c scales the Euclidean loss by c (a normalised loss would not
    change), and shifting every embedding changes nothing."""
    x, labels = _batch(n=10, seed=seed)
    base = losskit.triplet_loss(x, labels, margin=0.4, mining=mining)
    scaled = losskit.triplet_loss(scale * x, labels, margin=0.4 * scale, mining=mining)
    shifted = losskit.triplet_loss(x + 3.0, labels, margin=0.4, mining=mining)
    torch.testing.assert_close(scaled, scale * base)
    torch.testing.assert_close(shifted, base)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), mining=st.sampled_from(MININGS), distance=st.sampled_from(DISTANCES))
def test_triplet_loss_is_invariant_to_batch_order(seed, mining, distance):
    x, labels = _batch(n=10, seed=seed)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(seed))
    kw = {"mining": mining, "distance": distance}
    torch.testing.assert_close(
        losskit.triplet_loss(x[perm], labels[perm], **kw, reduction="none"),
        losskit.triplet_loss(x, labels, **kw, reduction="none")[perm],
    )


def test_duplicate_embeddings_give_finite_gradients():
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])
    for mining in MININGS:
        out = losskit.triplet_loss(x, labels, mining=mining)
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(out) and torch.isfinite(g).all()


def test_triplet_module_uses_its_options():
    x, labels = _batch(seed=9)
    module = lnn.TripletLoss(margin=0.1, mining="semi_hard", distance="cosine")
    expected = losskit.triplet_loss(x, labels, margin=0.1, mining="semi_hard", distance="cosine")
    torch.testing.assert_close(module(x, labels), expected)
    assert "semi_hard" in repr(module)


# --------------------------------------------------------------------------------------
# contrastive_loss
# --------------------------------------------------------------------------------------


def test_contrastive_loss_hand_computed():
    # Pairs at distance 5 (a 3-4-5 triangle): similar costs 5^2 / 2 = 12.5; dissimilar with
    # margin 6 costs (6 - 5)^2 / 2 = 0.5; dissimilar beyond the margin costs nothing.
    x1 = torch.zeros(3, 2)
    x2 = torch.tensor([[3.0, 4.0], [3.0, 4.0], [3.0, 4.0]])
    out = losskit.contrastive_loss(x1, x2, torch.tensor([True, False, False]), margin=6.0, reduction="none")
    torch.testing.assert_close(out, torch.tensor([12.5, 0.5, 0.5]))
    far = losskit.contrastive_loss(x1[:1], x2[:1], torch.tensor([0]), margin=4.0)
    assert far.item() == 0.0


@pytest.mark.parametrize("distance", DISTANCES)
def test_contrastive_loss_matches_formula(distance):
    gen = torch.Generator().manual_seed(4)
    x1 = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    x2 = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    same = torch.tensor([1, 0, 1, 0, 0, 1, 0])
    if distance == "euclidean":
        d = torch.cdist(x1, x2).diagonal()
    elif distance == "squared_euclidean":
        d = torch.cdist(x1, x2).diagonal() ** 2
    else:
        d = 1 - TF.cosine_similarity(x1, x2)
    expected = torch.where(same.bool(), d**2 / 2, torch.relu(2.0 - d) ** 2 / 2)
    out = losskit.contrastive_loss(x1, x2, same.float(), margin=2.0, distance=distance, reduction="none")
    torch.testing.assert_close(out, expected)


def test_contrastive_identical_pair_has_zero_finite_gradient():
    x = torch.ones(2, 3, requires_grad=True)
    out = losskit.contrastive_loss(x, x.detach().clone(), torch.tensor([True, False]))
    (g,) = torch.autograd.grad(out, x)
    assert torch.isfinite(g).all()
    torch.testing.assert_close(out, torch.tensor(0.25))  # dissimilar pair at distance 0: (1 - 0)^2 / 2 / 2


# --------------------------------------------------------------------------------------
# info_nce and ntxent
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_info_nce_matches_cross_entropy_reference(symmetric, normalize):
    gen = torch.Generator().manual_seed(5)
    q, k = torch.randn(8, 4, generator=gen, dtype=torch.float64), torch.randn(8, 4, generator=gen, dtype=torch.float64)
    out = losskit.info_nce(q, k, temperature=0.3, symmetric=symmetric, normalize=normalize, reduction="none")
    torch.testing.assert_close(out, ref_info_nce(q, k, 0.3, symmetric, normalize))


def test_info_nce_hand_computed():
    # Two orthogonal unit pairs, tau = 1: each row scores 1 on its key and 0 on the other,
    # so the loss is -log(e / (e + 1)) = log(1 + 1/e).
    q = torch.eye(2)
    out = losskit.info_nce(q, q.clone(), temperature=1.0)
    torch.testing.assert_close(out, torch.tensor(math.log1p(math.exp(-1.0))))


def test_info_nce_learnable_temperature_gets_gradient():
    module = lnn.InfoNCELoss(temperature=0.1, symmetric=True, learn_temperature=True)
    q, k = torch.randn(6, 4), torch.randn(6, 4)
    out = module(q, k)
    torch.testing.assert_close(out, losskit.info_nce(q, k, temperature=0.1, symmetric=True), rtol=1e-5, atol=1e-5)
    out.backward()
    assert module.logit_scale.grad is not None and module.logit_scale.grad != 0


def test_info_nce_without_process_group_ignores_gather():
    q, k = torch.randn(5, 3), torch.randn(5, 3)
    torch.testing.assert_close(losskit.info_nce(q, k, gather=True), losskit.info_nce(q, k))


def test_info_nce_extreme_temperature_is_finite():
    q = torch.randn(6, 4, requires_grad=True)
    out = losskit.info_nce(q, q.detach() + 0.1, temperature=1e-4)
    (g,) = torch.autograd.grad(out, q)
    assert torch.isfinite(out) and torch.isfinite(g).all()


def test_ntxent_matches_pytorch_metric_learning():
    pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import losses

    gen = torch.Generator().manual_seed(6)
    z = torch.randn(12, 5, generator=gen)
    labels = torch.arange(6).repeat(2)
    ref = losses.NTXentLoss(temperature=0.2)(z, labels)
    torch.testing.assert_close(losskit.ntxent(z, temperature=0.2), ref, rtol=1e-5, atol=1e-5)


def test_ntxent_equals_info_nce_over_both_views_without_self_similarity():
    # With two views of one sample (N = 1) each view's only candidate is its partner: loss 0.
    z = torch.randn(2, 3)
    torch.testing.assert_close(losskit.ntxent(z), torch.tensor(0.0))
    # Written directly: row i against all rows but itself, positive at i + N (mod 2N).
    gen = torch.Generator().manual_seed(8)
    z = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    u = TF.normalize(z, dim=1)
    expected = []
    for i in range(8):
        others = [j for j in range(8) if j != i]
        logits = torch.stack([u[i] @ u[j] / 0.5 for j in others])
        expected.append(torch.logsumexp(logits, 0) - u[i] @ u[(i + 4) % 8] / 0.5)
    torch.testing.assert_close(losskit.ntxent(z, temperature=0.5, reduction="none"), torch.stack(expected))


# --------------------------------------------------------------------------------------
# ArcFace and CosFace
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("margin", [0.0, 0.3, 0.5, 1.2])
@pytest.mark.parametrize("easy_margin", [False, True])
def test_arcface_matches_angle_reference(margin, easy_margin):
    gen = torch.Generator().manual_seed(9)
    x, w = torch.randn(16, 4, generator=gen, dtype=torch.float64), torch.randn(6, 4, generator=gen, dtype=torch.float64)
    target = torch.randint(0, 6, (16,), generator=gen)
    logits = ref_arcface_logits(x, w, target, 10.0, margin, easy_margin)
    expected = TF.cross_entropy(logits, target, reduction="none")
    out = losskit.arcface_loss(x, w, target, scale=10.0, margin=margin, easy_margin=easy_margin, reduction="none")
    torch.testing.assert_close(out, expected)


def test_arcface_target_logit_never_increases_with_the_angle():
    """Past theta + m = pi the fallback keeps the target logit decreasing in theta and below cos(theta)."""
    margin = 0.5
    theta = torch.linspace(0, math.pi, 2001, dtype=torch.float64)
    x = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)  # unit vectors at angle theta from e1
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    target = torch.zeros(len(theta), dtype=torch.long)
    # Read the target logit back from the loss with a single class centre: loss = 0 then, so use
    # two classes and recover the logit from the loss: l = log(1 + exp(s*cos_other - s*phi)).
    scale = 1.0
    loss = losskit.arcface_loss(x, w, target, scale=scale, margin=margin, reduction="none")
    other = x[:, 1]
    phi = other - torch.log(torch.expm1(loss)) / scale
    assert (phi.diff() <= 1e-9).all()
    assert (phi <= torch.cos(theta) + 1e-9).all()
    beyond = theta + margin > math.pi + 1e-6
    torch.testing.assert_close(phi[beyond], torch.cos(theta[beyond]) - margin * math.sin(margin))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("loss_fn", [losskit.arcface_loss, losskit.cosface_loss])
def test_margin_losses_at_unit_cosine_have_finite_gradients(loss_fn, dtype):
    # Embeddings exactly on a class centre (cos = 1) and exactly opposite (cos = -1).
    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    x = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, -2.0]], dtype=dtype)
    x.requires_grad_(True)
    weight = w.clone().requires_grad_(True)
    target = torch.tensor([0, 0, 1, 2])
    out = loss_fn(x, weight, target)
    gx, gw = torch.autograd.grad(out, (x, weight))
    assert out.dtype == dtype
    assert torch.isfinite(out) and torch.isfinite(gx.float()).all() and torch.isfinite(gw).all()


def test_arcface_fp16_under_autocast_is_finite():
    head = lnn.ArcFace(8, 4)
    x = torch.randn(6, 8).half().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = head(x, torch.tensor([0, 1, 2, 3, 0, 1]))
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(x.grad.float()).all() and torch.isfinite(head.centers.grad).all()


def test_cosface_matches_formula():
    gen = torch.Generator().manual_seed(10)
    x, w = torch.randn(9, 4, generator=gen, dtype=torch.float64), torch.randn(5, 4, generator=gen, dtype=torch.float64)
    target = torch.randint(0, 5, (9,), generator=gen)
    cos = TF.cosine_similarity(x[:, None, :], w[None, :, :], dim=2)
    logits = 30.0 * (cos - 0.35 * TF.one_hot(target, 5))
    expected = TF.cross_entropy(logits, target)
    torch.testing.assert_close(losskit.cosface_loss(x, w, target, scale=30.0), expected)


def test_margin_zero_reduces_to_normalised_softmax():
    gen = torch.Generator().manual_seed(11)
    x, w = torch.randn(7, 3, generator=gen), torch.randn(4, 3, generator=gen)
    target = torch.randint(0, 4, (7,), generator=gen)
    plain = TF.cross_entropy(5.0 * TF.normalize(x) @ TF.normalize(w).T, target)
    torch.testing.assert_close(losskit.arcface_loss(x, w, target, scale=5.0, margin=0.0), plain)
    torch.testing.assert_close(losskit.cosface_loss(x, w, target, scale=5.0, margin=0.0), plain)


@pytest.mark.parametrize("cls", [lnn.ArcFace, lnn.CosFace])
def test_margin_modules_hold_and_train_their_centres(cls):
    torch.manual_seed(0)
    head = cls(4, 3, scale=8.0)
    assert head.centers.shape == (3, 4)
    x = torch.randn(30, 4)
    target = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    fn = losskit.arcface_loss if cls is lnn.ArcFace else losskit.cosface_loss
    torch.testing.assert_close(head(x, target), fn(x, head.centers, target, scale=8.0))
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    first = head(x, target).item()
    for _ in range(10):
        opt.zero_grad()
        head(x, target).backward()
        opt.step()
    assert head(x, target).item() < first
    assert head.cosine(x).shape == (30, 3)
    assert set(head.state_dict()) == {"centers"}


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_margin_module_rejects_bad_sizes(bad):
    with pytest.raises(losskit.LossInputError, match="`embedding_dim`"):
        lnn.ArcFace(bad, 3)
    with pytest.raises(losskit.LossInputError, match="`num_classes`"):
        lnn.CosFace(3, bad)


# --------------------------------------------------------------------------------------
# Semi-hard mining memory: O(block x B) working memory for every class count
# --------------------------------------------------------------------------------------

_PEAK_SCRIPT = """
import resource, sys, torch, losskit
torch.set_num_threads(2)
distances, classes = sys.argv[1].split(","), int(sys.argv[2])
g = torch.Generator().manual_seed(0)
x = torch.randn(4096, 16, generator=g, requires_grad=True)
y = torch.randint(0, classes, (4096,), generator=g)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for distance in distances:
    losskit.triplet_loss(x, y, mining="semi_hard", distance=distance).backward()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


@pytest.mark.parametrize(
    ("distances", "classes", "limit_mb"),
    [("euclidean,cosine", 2, 1000), ("euclidean,cosine", 1000, 300)],
)
def test_semi_hard_peak_memory_at_b4096(distances, classes, limit_mb):
    """B=4096 with 2 classes mines ~8.4M triplets. The loss gathered A x D embeddings for them
    (20.8 GB peak reported at the issue's size; 3.0 GB here at D=16, measured); it now evaluates
    them in chunks (about 0.6 GB measured, a third of it the mined indices themselves). The
    process's peak resident size covers both distances, run one after the other."""
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(losskit.__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, distances, str(classes)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    peak_mb = float(out.stdout.strip().splitlines()[-1])
    assert peak_mb < limit_mb, f"peak {peak_mb:.0f} MB above {limit_mb} MB"


def test_mined_triplet_losses_gradients_match_autograd_and_second_order():
    from losskit.embedding.distances import paired_distance
    from losskit.embedding.miners import mined_triplet_losses, semi_hard_triplets

    g = torch.Generator().manual_seed(1)
    for distance in ("euclidean", "squared_euclidean", "cosine"):
        for soft in (False, True):
            x = torch.randn(12, 5, generator=g, dtype=torch.float64)
            y = torch.randint(0, 3, (12,), generator=g)
            a, p, n = semi_hard_triplets(x, y, distance)

            def ours(z, a=a, p=p, n=n, distance=distance, soft=soft):
                return mined_triplet_losses(z, a, p, n, distance, 0.3, soft)

            def reference(z, a=a, p=p, n=n, distance=distance, soft=soft):
                diff = paired_distance(z[a], z[p], distance) - paired_distance(z[a], z[n], distance)
                terms = torch.nn.functional.softplus(diff) if soft else (diff + 0.3).clamp_min(0.0)
                return torch.zeros(12, dtype=z.dtype).index_add(0, a, terms)

            xr = x.clone().requires_grad_()
            go = torch.randn(12, generator=g, dtype=torch.float64)
            torch.testing.assert_close(ours(xr), reference(xr))
            (g1,) = torch.autograd.grad(ours(xr), xr, go)
            (g2,) = torch.autograd.grad(reference(xr), xr, go)
            torch.testing.assert_close(g1, g2)
            assert torch.autograd.gradcheck(ours, (xr,))
            assert torch.autograd.gradgradcheck(ours, (xr,))
