"""Ranking losses: margin ranking (pairs given) and RankNet's pairwise logistic loss (pairs formed
within groups).

Shared conventions as everywhere in losskit: keyword-only options, ``reduction`` and
``num_items``, half precision computed in float32, an empty batch (or one without a single
ordered pair) gives 0 with the graph connected.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_finite,
    check_has_values,
    check_input,
    check_integer,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_scalar_range,
    describe,
    reads_values,
)

__all__ = ["margin_ranking_loss", "pairwise_logistic_loss"]


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    *,
    margin: float = 0.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """Margin ranking loss, value-compatible with ``torch.nn.functional.margin_ranking_loss``.

    .. math::
        \\ell_i = \\max(0,\\ -y_i (x1_i - x2_i) + m)

    where :math:`y_i = 1` says ``input1[i]`` should rank higher and :math:`y_i = -1` lower.

    Args:
        input1, input2: scores, same shape (any).
        target: same shape, values in ``{-1, 1}`` (integer or float).
        margin: :math:`m`.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss`.

    Returns:
        A scalar, or ``input1``'s shape for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> losskit.margin_ranking_loss(torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([1.0]), margin=0.5)
        tensor(1.5000)
    """
    check_reduction(reduction)
    check_input("input1", input1)
    check_input("input2", input2)
    check_same_device("input2", input2, input1, "input1")
    check_same_shape("input2", input2, input1.shape, "the shape of `input1`")
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input1, "input1")
    check_same_shape("target", target, input1.shape, "the shape of `input1`")
    if reads_values(target) and not bool(((target == 1) | (target == -1)).all()):
        raise LossInputError("target", "-1 or 1 everywhere", "other values")
    check_scalar_range("margin", margin)
    dtype = compute_dtype(input1)
    x1, x2 = upcast(input1, dtype), upcast(input2, dtype)
    loss = (margin - target.to(dtype) * (x1 - x2)).clamp_min(0.0)
    return restore(reduce_loss(loss, reduction=reduction, num_items=num_items), input1)


def _as_groups(scores: Tensor, relevance: Tensor, group: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Pad flat ``(N,)`` items into ``(G, L)`` rows, one per group id.

    Returns ``(scores, relevance, valid, row, col)``: padded tensors, their validity mask and
    the ``(row, col)`` of every original item.
    """
    order = torch.sort(group, stable=True).indices
    _, counts = torch.unique_consecutive(group[order], return_counts=True)
    num_groups, length = counts.shape[0], int(counts.max()) if counts.numel() else 0
    starts = torch.cumsum(counts, 0) - counts
    row_sorted = torch.repeat_interleave(torch.arange(num_groups, device=group.device), counts)
    col_sorted = torch.arange(order.shape[0], device=group.device) - starts[row_sorted]
    row = torch.empty_like(row_sorted).index_put((order,), row_sorted)
    col = torch.empty_like(col_sorted).index_put((order,), col_sorted)
    padded_s = scores.new_zeros(num_groups, length).index_put((row, col), scores)
    padded_r = relevance.new_zeros(num_groups, length).index_put((row, col), relevance)
    valid = torch.zeros(num_groups, length, dtype=torch.bool, device=scores.device)
    valid[row, col] = True
    return padded_s, padded_r, valid, row, col


def pairwise_logistic_loss(
    input: Tensor,
    target: Tensor,
    *,
    group: Tensor | None = None,
    sigma: float = 1.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """RankNet's pairwise logistic loss within groups (Burges et al., *Learning to Rank using
    Gradient Descent*, ICML 2005).

    For every ordered pair ``(i, j)`` of items in the same group with
    ``target[i] > target[j]`` (``s`` the scores ``input``):

    .. math::
        \\ell_{ij} = \\log(1 + e^{-\\sigma (s_i - s_j)})

    computed as a softplus, so it stays finite for any score gap. Pairs with equal relevance
    and pairs across groups do not count.

    Args:
        input: ``(N,)`` item scores, or ``(G, L)`` with one group per row.
        target: graded relevance labels, same shape as ``input`` (integer or float; finite,
            a NaN relevance is refused rather than read as 0).
        group: ``(N,)`` integer group ids for flat ``input`` (need not be contiguous);
            ``None`` puts all items of a flat ``input`` in one group. Must be ``None`` for 2-d
            ``input``.
        sigma: :math:`\\sigma > 0`, the logistic slope.
        reduction: ``"mean"`` averages over the counted pairs, ``"sum"`` adds them; ``"none"``
            gives ``input``'s shape, each item holding the summed loss of the pairs in which it
            is the more relevant item.
        num_items: replaces the ``"mean"`` denominator (the number of counted pairs).

    Returns:
        A scalar, or ``input``'s shape for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> # one correctly ordered pair with score gap 0: log 2
        >>> losskit.pairwise_logistic_loss(torch.tensor([0.0, 0.0]), torch.tensor([1, 0]))
        tensor(0.6931)
    """
    check_reduction(reduction)
    check_input("input", input)
    scores = input
    if scores.dim() not in (1, 2):
        raise LossInputError("input", "a 1-d (N,) or 2-d (groups, items) tensor of scores", describe(scores))
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input)
    check_same_shape("target", target, scores.shape, "the shape of `input`")
    if target.is_complex() or target.dtype == torch.bool:
        raise LossInputError("target", "a real tensor of graded relevance labels", describe(target))
    check_finite("target", target)
    relevance = target
    if group is not None:
        if scores.dim() != 1:
            raise LossInputError("group", "None when `input` is 2-d (each row is a group)", describe(group))
        if not isinstance(group, Tensor):
            raise LossInputError("group", "a torch.Tensor", type(group).__name__)
        check_integer("group", group)
        check_same_device("group", group, input)
        check_same_shape("group", group, scores.shape, "one group id per item")
        check_has_values("group", group, "the groups' sizes set the shapes")
    check_scalar_range("sigma", sigma, 0.0, math.inf, low_inclusive=False)
    dtype = compute_dtype(scores)
    s = upcast(scores, dtype)
    rel = relevance.to(dtype) if relevance.is_floating_point() else relevance
    if scores.dim() == 2:
        padded_s, padded_r, valid, index = s, rel, None, None
    elif group is None:
        padded_s, padded_r, valid, index = s[None], rel[None], None, None
    else:
        padded_s, padded_r, valid, row, col = _as_groups(s, rel, group)
        index = (row, col)
    pairs = padded_r[:, :, None] > padded_r[:, None, :]
    if valid is not None:
        pairs &= valid[:, :, None] & valid[:, None, :]
    pair_loss = TF.softplus(-sigma * (padded_s[:, :, None] - padded_s[:, None, :]))
    pair_loss = torch.where(pairs, pair_loss, torch.zeros((), dtype=dtype, device=s.device))
    per_item = pair_loss.sum(dim=2) + s.sum() * 0  # the zero keeps an empty batch connected
    if index is not None:
        per_item = per_item[index]
    per_item = per_item.reshape(scores.shape)
    if reduction == "none":
        return restore(per_item, scores)
    total = per_item.sum()
    if reduction == "sum":
        return restore(total, scores)
    count = pairs.sum() if num_items is None else num_items
    return restore(reduce_loss(total, reduction="mean", num_items=count), scores)
