"""In-batch triplet mining.

Every item of a batch is an anchor; its positives are the other items with the same label and
its negatives the items with a different label. The miners pick triplets ``(a, p, n)`` from
those sets:

* :func:`batch_hard_triplets`: per anchor, the farthest positive and the closest negative
  (Hermans, Beyer and Leibe, *In Defense of the Triplet Loss for Person Re-Identification*, 2017).
* :func:`semi_hard_triplets`: per anchor-positive pair, the closest negative that is strictly
  farther from the anchor than the positive, falling back to the closest (hardest) negative
  when there is none (Schroff, Kalenichenko and Philbin, *FaceNet*, 2015).
* :func:`batch_all_triplet_losses`: every valid triplet; it returns the losses directly,
  because listing ``O(B^3)`` triplets would not fit in memory.

The two index miners return indices only (no gradient): :func:`mined_triplet_losses` then
recomputes the distances of the mined pairs from the embeddings in chunks, forward and
backward, so no ``A x D`` tensor of gathered embeddings is ever built (semi-hard mining with
two classes gives ``A ~ B^2 / 2`` triplets). They rank candidates
with :class:`~losskit.embedding.distances.DistanceOrder` in blocks of anchors, so their working
memory is ``O(block * B)`` and never ``B x B x B``: the semi-hard search either compares each
anchor's positives with all of its negatives (few positives per anchor) or sorts each anchor's
negatives and binary-searches the positives in them (many positives per anchor).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit.embedding.distances import _NORM_EPS, DistanceOrder, paired_distance

__all__ = [
    "batch_all_triplet_losses",
    "batch_hard_triplets",
    "label_masks",
    "mined_triplet_losses",
    "semi_hard_triplets",
]

Triplets = tuple[Tensor, Tensor, Tensor]

# Elements per intermediate block (bounds the working memory of the miners and of batch-all).
_BLOCK_ELEMENTS = 1 << 22


def label_masks(target: Tensor) -> tuple[Tensor, Tensor]:
    """Boolean ``(B, B)`` masks ``(positive, negative)``: same label but not itself, other label."""
    same = target[:, None] == target[None, :]
    eye = torch.eye(target.shape[0], dtype=torch.bool, device=target.device)
    return same & ~eye, ~same


def _empty(labels: Tensor) -> Triplets:
    empty = labels.new_zeros(0, dtype=torch.int64)
    return empty, empty, empty


class _Blocks:
    """Anchor blocks of a batch with the label bookkeeping the index miners share.

    Masks are kept as floats and applied arithmetically (``scores + big * mask``): on CPU that
    is several times faster than boolean ``where`` and leaves the entries that matter exact.
    """

    def __init__(self, embeddings: Tensor, labels: Tensor, distance: str) -> None:
        self.n = labels.shape[0]
        self.order = DistanceOrder(embeddings, distance)
        # Farther from every score than any two scores are from each other.
        self.big = 4.0 * self.order.bound + 1.0
        _, codes = torch.unique(labels, return_inverse=True)
        self.same_count = torch.bincount(codes)[codes]
        self.has_positive = self.same_count > 1
        self.has_negative = self.same_count < self.n
        self.codes = codes.to(embeddings.dtype)
        self.step = max(1, _BLOCK_ELEMENTS // max(self.n, 1))

    def __iter__(self):
        """Yield ``(start, stop, scores, other)``: ``other`` is 1.0 where labels differ, else 0.0."""
        for start in range(0, self.n, self.step):
            stop = min(self.n, start + self.step)
            other = (self.codes[start:stop, None] - self.codes[None, :]).sign_().abs_()
            yield start, stop, self.order.rows(start, stop), other


@torch.no_grad()
def batch_hard_triplets(input: Tensor, target: Tensor, distance: str = "euclidean") -> Triplets:
    """Farthest positive and closest negative of every anchor that has both.

    Args:
        input: ``(B, D)``.
        target: ``(B,)`` integer labels.
        distance: one of :data:`~losskit.embedding.distances.DISTANCES`.

    Returns:
        ``(anchor, positive, negative)`` index tensors of equal length ``A <= B``.
    """
    if target.shape[0] == 0:
        return _empty(target)
    blocks = _Blocks(input, target, distance)
    found: list[Triplets] = []
    for start, stop, scores, other in blocks:
        rows = torch.arange(stop - start, device=target.device)
        positive_scores = torch.add(scores, other, alpha=-blocks.big)  # negatives pushed below
        positive_scores[rows, rows + start] = -math.inf  # not itself
        negative_scores = torch.add(scores, other.neg_().add_(1.0), alpha=blocks.big)  # positives pushed above
        valid = (blocks.has_positive[start:stop] & blocks.has_negative[start:stop]).nonzero().squeeze(1)
        hardest_pos = positive_scores.argmax(dim=1)[valid]
        hardest_neg = negative_scores.argmin(dim=1)[valid]
        found.append((valid + start, hardest_pos, hardest_neg))
    return tuple(torch.cat(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


def _semi_hard_by_scanning(
    scores: Tensor, negative_scores: Tensor, big: float, anchor: Tensor, positive: Tensor, hardest: Tensor
) -> Tensor:
    """Scan all negatives once per positive slot of each anchor: ``O(anchors * K * B)`` work.

    The positives' scores are laid out as ``(anchors, K)`` thresholds ``t`` (``K`` the most
    positives of any anchor). The key ``1 / (t - negative_scores)`` is negative exactly for
    entries strictly farther than ``t``, and most negative for the closest of them; entries at
    most as far give a positive key (``+inf`` for a tie), and non-negatives, pushed up by ``big``,
    a key in ``(-2 / big, 0)``. So the key's minimum is the semi-hard negative when one exists,
    and lies above ``-2 / big`` when none does.
    """
    rows = scores.shape[0]
    counts = torch.bincount(anchor, minlength=rows)
    slot = torch.arange(anchor.shape[0], device=anchor.device) - (torch.cumsum(counts, 0) - counts)[anchor]
    k = int(counts.max()) if anchor.numel() else 0
    thresholds = scores.new_full((rows, k), math.inf)
    thresholds[anchor, slot] = scores[anchor, positive]
    chosen = torch.empty(rows, k, dtype=torch.int64, device=anchor.device)
    farther = torch.empty(rows, k, dtype=torch.bool, device=anchor.device)
    for j in range(k):
        key = (thresholds[:, j : j + 1] - negative_scores).reciprocal_()
        index = key.argmin(dim=1, keepdim=True)
        chosen[:, j] = index[:, 0]
        farther[:, j] = key.gather(1, index)[:, 0] < -2.0 / big
    return torch.where(farther[anchor, slot], chosen[anchor, slot], hardest[anchor])


def _semi_hard_by_sorting(
    scores: Tensor, negative_scores: Tensor, big: float, anchor: Tensor, positive: Tensor, hardest: Tensor
) -> Tensor:
    """Sort each anchor's scores once, binary-search every positive: ``O(B log B)`` per anchor.

    Non-negatives sit above ``big / 2`` in ``negative_scores``, so the negatives come first.
    """
    ordered, order = negative_scores.sort(dim=1)
    num_neg = (ordered < big / 2).sum(dim=1, keepdim=True)
    # First position, in each anchor's ascending negatives, strictly beyond each score.
    first_farther = torch.searchsorted(ordered, scores.contiguous(), right=True)
    farther = (first_farther < num_neg)[anchor, positive]
    rank = first_farther[anchor, positive]
    return torch.where(farther, order[anchor, rank.clamp_max(order.shape[1] - 1)], hardest[anchor])


def _prefer_scanning(most_positives: int, n: int) -> bool:
    """Scanning costs (most positives per anchor) * B per anchor, sorting about B * log2(B)."""
    return most_positives <= 2 * math.log2(n + 1)


@torch.no_grad()
def semi_hard_triplets(input: Tensor, target: Tensor, distance: str = "euclidean") -> Triplets:
    """One negative for every anchor-positive pair (whose anchor has a negative).

    The negative is the closest one with ``d(a, n) > d(a, p)``; when every negative is at most
    as far as the positive, the closest negative overall.

    Args:
        input: ``(B, D)``.
        target: ``(B,)`` integer labels.
        distance: one of :data:`~losskit.embedding.distances.DISTANCES`.

    Returns:
        ``(anchor, positive, negative)`` index tensors, one entry per valid pair.
    """
    if target.shape[0] == 0:
        return _empty(target)
    blocks = _Blocks(input, target, distance)
    # Every anchor-positive pair of an anchor with a negative: the output is written in place,
    # block by block (no list of parts concatenated at the end, which would double the peak).
    pairs = (blocks.same_count - 1) * blocks.has_negative
    total = int(pairs.sum())
    out = tuple(target.new_empty(total, dtype=torch.int64) for _ in range(3))
    offset = 0
    for start, stop, scores, other in blocks:
        rows = torch.arange(stop - start, device=target.device)
        same = other.neg_().add_(1.0)
        negative_scores = torch.add(scores, same, alpha=blocks.big)  # positives and itself pushed above
        same[rows, rows + start] = 0.0  # not itself
        same.mul_(blocks.has_negative[start:stop, None])  # anchors without negatives have no triplet
        anchor, pos = same.nonzero(as_tuple=True)
        del same
        hardest = negative_scores.argmin(dim=1)
        most_positives = int(torch.bincount(anchor).max()) if anchor.numel() else 0
        search = _semi_hard_by_scanning if _prefer_scanning(most_positives, blocks.n) else _semi_hard_by_sorting
        chosen = search(scores, negative_scores, blocks.big, anchor, pos, hardest)
        end = offset + anchor.shape[0]
        torch.add(anchor, start, out=out[0][offset:end])
        out[1][offset:end] = pos
        out[2][offset:end] = chosen
        offset = end
    return out  # type: ignore[return-value]


class _BatchAllTriplet(torch.autograd.Function):
    """Per-anchor sums of every valid triplet's loss, in blocks of anchor-positive pairs.

    Forward keeps only ``(B, B)`` coefficients for backward (exact second derivatives for the
    hinge; the soft margin's raise rather than come out wrong):
    ``d loss_a / d dist[a, p] = sum_n g(a, p, n)`` and ``d loss_a / d dist[a, n] = -sum_p g(a, p, n)``,
    with ``g`` the derivative of the hinge (or softplus) at each triplet.
    """

    @staticmethod
    def forward(ctx, dist: Tensor, pos: Tensor, neg: Tensor, margin: float, soft: bool):  # type: ignore[override]
        n = dist.shape[0]
        anchor, positive = pos.nonzero(as_tuple=True)
        d_ap = dist[anchor, positive]
        per_anchor = dist.new_zeros(n)
        coef_pos = dist.new_zeros(anchor.shape[0])
        coef_neg = dist.new_zeros(n, n)
        count = torch.zeros((), dtype=torch.int64, device=dist.device)
        step = max(1, _BLOCK_ELEMENTS // max(n, 1))
        for start in range(0, anchor.shape[0], step):
            a = anchor[start : start + step]
            t = d_ap[start : start + step, None] - dist[a] + margin  # (pairs, negatives)
            valid = neg[a]
            if soft:
                loss, grad = TF.softplus(t), torch.sigmoid(t)
                counted = valid
            else:
                counted = valid & (t > 0)
                loss, grad = t, counted.to(t.dtype)
            loss = torch.where(counted, loss, torch.zeros((), dtype=t.dtype, device=t.device))
            grad = torch.where(valid, grad, torch.zeros((), dtype=t.dtype, device=t.device))
            per_anchor.index_add_(0, a, loss.sum(dim=1))
            coef_pos[start : start + step] = grad.sum(dim=1)
            coef_neg.index_add_(0, a, grad)
            count += counted.sum()
        ctx.save_for_backward(anchor, positive, coef_pos, coef_neg)
        ctx.mark_non_differentiable(count)
        ctx.soft = soft
        return per_anchor, count

    @staticmethod
    def backward(ctx, grad_anchor: Tensor, _grad_count: Tensor):  # type: ignore[override]
        # The backward is linear in grad_anchor with coefficients that, for the hinge, are
        # piecewise constant in the distances: recorded as is, it is the exact second derivative.
        # The softplus coefficients vary with the distances, which this form does not record.
        if ctx.soft and torch.is_grad_enabled():
            raise RuntimeError(
                "triplet_loss(mining='batch_all', soft_margin=True) has no second derivative here "
                "(create_graph=True); use the hinge, or mining='batch_hard' / 'semi_hard'"
            )
        anchor, positive, coef_pos, coef_neg = ctx.saved_tensors
        grad = -grad_anchor[:, None] * coef_neg
        grad = grad.index_put((anchor, positive), grad_anchor[anchor] * coef_pos, accumulate=True)
        return grad, None, None, None, None


def batch_all_triplet_losses(dist: Tensor, target: Tensor, margin: float, soft_margin: bool) -> tuple[Tensor, Tensor]:
    """Loss of every valid triplet, summed per anchor, without a ``B x B x B`` tensor.

    Each triplet costs :math:`[d_{ap} - d_{an} + m]_+`, or :math:`\\log(1 + e^{d_{ap} - d_{an}})`
    with ``soft_margin`` (``margin`` is then unused).

    Args:
        dist: ``(B, B)`` distances (differentiable).
        target: ``(B,)`` integer labels.
        margin: the hinge margin.
        soft_margin: use the softplus form.

    Returns:
        ``(per_anchor, count)``: ``(B,)`` per-anchor sums and the number of triplets that count
        (with the hinge, those with a positive loss; with ``soft_margin``, every valid triplet).
    """
    pos, neg = label_masks(target)
    return _BatchAllTriplet.apply(dist, pos, neg, 0.0 if soft_margin else float(margin), soft_margin)


def _triplet_terms(x: Tensor, a: Tensor, p: Tensor, n: Tensor, distance: str, margin: float, soft: bool) -> Tensor:
    anchors = x.index_select(0, a)
    diff = paired_distance(anchors, x.index_select(0, p), distance) - paired_distance(
        anchors, x.index_select(0, n), distance
    )
    return TF.softplus(diff) if soft else (diff + margin).clamp_min(0.0)


def _chunks(count: int, width: int) -> list[slice]:
    """Slices of ``count`` triplets holding about ``_BLOCK_ELEMENTS`` gathered entries of ``width``."""
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    return [slice(start, start + step) for start in range(0, count, step)]


class _MinedTriplets(torch.autograd.Function):
    """Per-anchor sums of mined triplets' losses, evaluated in chunks of triplets.

    Forward and backward gather at most ``chunk x D`` embeddings at a time; backward
    recomputes each chunk's distances. A backward that records a graph (second derivatives)
    takes the same path with ``create_graph``, so it is exact.
    """

    @staticmethod
    def forward(ctx, x: Tensor, a: Tensor, p: Tensor, n: Tensor, distance: str, margin: float, soft: bool):  # type: ignore[override]
        per_anchor = x.new_zeros(x.shape[0])
        for sl in _chunks(a.shape[0], x.shape[1]):
            per_anchor.index_add_(0, a[sl], _triplet_terms(x, a[sl], p[sl], n[sl], distance, margin, soft))
        ctx.save_for_backward(x, a, p, n)
        ctx.options = (distance, margin, soft)
        return per_anchor

    @staticmethod
    def backward(ctx, grad_anchor: Tensor):  # type: ignore[override]
        x, a, p, n = ctx.saved_tensors
        distance, margin, soft = ctx.options
        if torch.is_grad_enabled():  # create_graph: differentiate the formula itself (exact 2nd order)
            grad = torch.zeros_like(x)
            for sl in _chunks(a.shape[0], x.shape[1]):
                with torch.enable_grad():
                    terms = _triplet_terms(x, a[sl], p[sl], n[sl], distance, margin, soft)
                (part,) = torch.autograd.grad(terms, x, grad_anchor[a[sl]], create_graph=True)
                grad = grad + part
            return grad, None, None, None, None, None, None
        x = x.detach()
        grad = torch.zeros_like(x)
        for sl in _chunks(a.shape[0], x.shape[1]):
            ai, pi, ni = a[sl], p[sl], n[sl]
            xa, xp, xn = x.index_select(0, ai), x.index_select(0, pi), x.index_select(0, ni)
            d_ap, ga_ap, gp = _distance_grads(xa, xp, distance)
            d_an, ga_an, gn = _distance_grads(xa, xn, distance)
            t = d_ap - d_an
            slope = torch.sigmoid(t) if soft else (t + margin >= 0).to(t.dtype)  # clamp_min's rule at 0
            w = (grad_anchor[ai] * slope)[:, None]
            grad.index_add_(0, ai, w * (ga_ap - ga_an))
            grad.index_add_(0, pi, w * gp)
            grad.index_add_(0, ni, w.neg() * gn)
        return grad, None, None, None, None, None, None


def _distance_grads(x1: Tensor, x2: Tensor, distance: str) -> tuple[Tensor, Tensor, Tensor]:
    """Row-wise :func:`paired_distance` ``d`` and its derivatives ``(dd/dx1, dd/dx2)``, in closed form.

    The same subgradients as autograd of ``paired_distance``: 0 for the square root at 0, the
    clamped norm treated as a constant below ``eps``, and ``clamp_min(0)`` passing at 0.
    """
    if distance == "cosine":
        n1 = x1.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)
        n2 = x2.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)
        u1, u2 = x1 / n1, x2 / n2
        c = (u1 * u2).sum(dim=1, keepdim=True)
        live1 = (x1.norm(dim=1, keepdim=True) > _NORM_EPS).to(x1.dtype)
        live2 = (x2.norm(dim=1, keepdim=True) > _NORM_EPS).to(x2.dtype)
        passes = (1.0 - c >= 0).to(c.dtype)
        g1 = -(u2 - live1 * c * u1) / n1 * passes
        g2 = -(u1 - live2 * c * u2) / n2 * passes
        return (1.0 - c).clamp_min(0.0).squeeze(1), g1, g2
    diff = x1 - x2
    sq = (diff * diff).sum(dim=1)
    if distance == "squared_euclidean":
        g1 = 2.0 * diff
        return sq, g1, g1.neg()
    d = torch.where(sq > 0, sq.clamp_min(torch.finfo(sq.dtype).tiny).sqrt(), torch.zeros_like(sq))
    g1 = diff / torch.where(d > 0, d, torch.ones_like(d))[:, None]
    return d, g1, g1.neg()


def mined_triplet_losses(
    input: Tensor, anchor: Tensor, positive: Tensor, negative: Tensor, distance: str, margin: float, soft_margin: bool
) -> Tensor:
    """Per-anchor sums ``(B,)`` of :math:`[d_{ap} - d_{an} + m]_+` (or the softplus form) over mined triplets.

    Differentiable in ``input`` (second derivatives included); working memory ``O(chunk * D)``
    whatever the number of triplets, where a chunk holds about 4M embedding entries.
    """
    return _MinedTriplets.apply(input, anchor, positive, negative, distance, float(margin), bool(soft_margin))
