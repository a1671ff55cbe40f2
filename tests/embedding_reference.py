"""Independent references for the metric-learning and ranking losses.

Written element by element in Python loops (float64, plain autograd), differently from the
vectorised implementations: distances from per-pair differences instead of one matrix product,
mining by explicit search instead of sorting and binary search.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF


def ref_distance(u: torch.Tensor, v: torch.Tensor, distance: str) -> torch.Tensor:
    diff = u - v
    if distance == "euclidean":
        return torch.sqrt((diff * diff).sum())
    if distance == "squared_euclidean":
        return (diff * diff).sum()
    return 1 - (u * v).sum() / (u.norm() * v.norm())


def ref_triplet(x, labels, *, margin=0.2, mining="batch_hard", distance="euclidean", soft_margin=False):
    """Per-anchor summed losses ``(B,)`` and the count "mean" divides by, by brute force."""
    n = x.shape[0]
    lab = labels.tolist()
    per_anchor = []
    count = 0
    for a in range(n):
        total = x.new_zeros(())
        positives = [p for p in range(n) if p != a and lab[p] == lab[a]]
        negatives = [q for q in range(n) if lab[q] != lab[a]]
        if positives and negatives:
            d = {j: ref_distance(x[a], x[j], distance) for j in positives + negatives}
            value = {j: float(d[j].detach()) for j in d}
            if mining == "batch_hard":
                triplets = [(max(positives, key=value.get), min(negatives, key=value.get))]
            elif mining == "semi_hard":
                triplets = []
                for p in positives:
                    farther = [q for q in negatives if value[q] > value[p]]
                    triplets.append((p, min(farther or negatives, key=value.get)))
            else:
                triplets = [(p, q) for p in positives for q in negatives]
            for p, q in triplets:
                gap = d[p] - d[q]
                loss = torch.log1p(torch.exp(gap)) if soft_margin else torch.clamp(gap + margin, min=0)
                total = total + loss
                count += 1 if (mining != "batch_all" or soft_margin or float(loss.detach()) > 0) else 0
        per_anchor.append(total)
    stacked = torch.stack(per_anchor) if per_anchor else x.new_zeros(0)
    return stacked, count


def ref_pairwise_logistic(scores, relevance, group, sigma=1.0):
    """Per-item summed RankNet losses and the number of ordered pairs, by brute force."""
    s, r, g = scores.reshape(-1), relevance.reshape(-1).tolist(), group.reshape(-1).tolist()
    per_item = []
    pairs = 0
    for i in range(s.shape[0]):
        total = s.new_zeros(())
        for j in range(s.shape[0]):
            if g[i] == g[j] and r[i] > r[j]:
                total = total + torch.log(1 + torch.exp(-sigma * (s[i] - s[j])))
                pairs += 1
        per_item.append(total)
    return torch.stack(per_item).reshape(scores.shape), pairs


def ref_info_nce(q, k, temperature, symmetric, normalize=True):
    """Per-row InfoNCE via torch's cross_entropy."""
    if normalize:
        q, k = TF.normalize(q, dim=1), TF.normalize(k, dim=1)
    target = torch.arange(q.shape[0])
    loss = TF.cross_entropy(q @ k.T / temperature, target, reduction="none")
    if symmetric:
        loss = (loss + TF.cross_entropy(k @ q.T / temperature, target, reduction="none")) / 2
    return loss


def ref_arcface_logits(x, w, target, scale, margin, easy_margin=False):
    """ArcFace logits through the angle itself: theta = acos(cos), target logit cos(theta + m)."""
    cos = TF.normalize(x, dim=1) @ TF.normalize(w, dim=1).T
    logits = cos.clone()
    for i, t in enumerate(target.tolist()):
        c = cos[i, t]
        theta = torch.acos(c.clamp(-1, 1))
        if easy_margin:
            logits[i, t] = torch.cos(theta + margin) if float(c) > 0 else c
        elif float(theta) + margin <= math.pi:
            logits[i, t] = torch.cos(theta + margin)
        else:
            logits[i, t] = c - margin * math.sin(margin)
    return scale * logits
