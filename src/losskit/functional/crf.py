r"""Linear-chain conditional random field: negative log-likelihood and Viterbi decoding.

For a sequence of emission scores :math:`e_t \in \mathbb{R}^C` (``t < L``, the sequence's
length), transition scores :math:`A_{ij}` (from tag ``i`` to tag ``j``), start scores
:math:`a` and end scores :math:`b`, the score of a tag path :math:`y` is

.. math::
    S(y) = a_{y_0} + \sum_{t=0}^{L-1} e_{t, y_t} + \sum_{t=1}^{L-1} A_{y_{t-1} y_t} + b_{y_{L-1}}

and the loss is the negative log-likelihood :math:`\log Z - S(y)` with
:math:`\log Z = \operatorname{logsumexp}_{y'} S(y')` computed by the forward algorithm in log
space, vectorised over the batch (Lafferty et al. 2001; the conventions of pytorch-crf).

Padding: ``mask`` ``(N, T)`` marks the real steps; each row must be a prefix of ones (left
aligned). Padded steps add nothing. A fully masked sequence (length 0) has loss 0 and does
not count in ``"mean"``; :func:`crf_decode` returns ``pad`` at every padded step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    as_class_indices,
    check_class_indices,
    check_float,
    check_input,
    check_reduction,
    check_same_device,
    check_same_shape,
    describe,
    reads_values,
)

__all__ = ["crf_decode", "crf_loss"]


def _crf_inputs(
    input: Tensor,
    transitions: Tensor,
    start_transitions: Tensor | None,
    end_transitions: Tensor | None,
    mask: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    check_input("input", input)
    if input.dim() != 3:
        raise LossInputError("input", "emission scores of shape (N, T, C)", describe(input))
    n, steps, c = input.shape
    check_input("transitions", transitions)
    check_same_device("transitions", transitions, input)
    check_same_shape("transitions", transitions, (c, c), "(C, C) for C tags")
    dtype = compute_dtype(input)
    ends = []
    for name, v in (("start_transitions", start_transitions), ("end_transitions", end_transitions)):
        if v is None:
            ends.append(torch.zeros(c, dtype=dtype, device=input.device))
        else:
            check_float(name, v)
            check_same_device(name, v, input)
            check_same_shape(name, v, (c,), "one score per tag")
            ends.append(upcast(v, dtype))
    if mask is None:
        mask = torch.ones((n, steps), dtype=torch.bool, device=input.device)
    else:
        if not isinstance(mask, Tensor):
            raise LossInputError("mask", "a bool tensor or None", type(mask).__name__)
        check_same_device("mask", mask, input)
        check_same_shape("mask", mask, (n, steps), "(N, T), the first two dims of `input`")
        mask = mask.bool()
        if reads_values(mask) and steps > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise LossInputError("mask", "a prefix of ones in every row (left-aligned sequences)", "a gap")
    return upcast(input, dtype), upcast(transitions, dtype), ends[0], ends[1], mask


def _log_partition(e: Tensor, trans: Tensor, start: Tensor, end: Tensor, mask: Tensor) -> Tensor:
    """``log Z`` per sequence by the forward algorithm (log space)."""
    alpha = start + e[:, 0]  # (N, C)
    for t in range(1, e.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + trans + e[:, t].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, t : t + 1], step, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def _path_score(e: Tensor, tags: Tensor, trans: Tensor, start: Tensor, end: Tensor, mask: Tensor) -> Tensor:
    """``S(y)`` per sequence; tags at padded steps are never read."""
    tags = torch.where(mask, tags, torch.zeros_like(tags))
    m = mask.to(e.dtype)
    emit = (e.gather(2, tags.unsqueeze(2)).squeeze(2) * m).sum(1)
    move = (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
    last = (mask.sum(1) - 1).clamp_min(0)
    last_tag = tags.gather(1, last.unsqueeze(1)).squeeze(1)
    return start[tags[:, 0]] + emit + move + end[last_tag]


def crf_loss(
    input: Tensor,
    target: Tensor,
    transitions: Tensor,
    *,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
    mask: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Negative log-likelihood of a linear-chain CRF, ``log Z - S(y)`` per sequence.

    See the module docstring for the score and the padding rule.

    Args:
        input: emission scores ``(N, T, C)`` (batch first).
        target: tags ``(N, T)`` in ``[0, C)`` at the real steps (anything at padded steps).
        transitions: ``(C, C)``, ``transitions[i, j]`` scores tag ``i`` followed by tag ``j``.
        start_transitions, end_transitions: ``(C,)`` scores of the first and last tag
            (``None``: zeros).
        mask: ``(N, T)`` bool, a prefix of ones per row (``None``: every step is real).
        reduction: ``"mean"`` over the non-empty sequences, ``"sum"`` or ``"none"`` (``(N,)``).
            (pytorch-crf returns the log-likelihood, the negative of this, and its ``"mean"``
            divides by ``N`` including empty sequences.)
        num_items: divide the sum by this instead (gradient accumulation).

    Example:
        >>> import torch, losskit
        >>> emissions = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]])  # (N=1, T=2, C=2)
        >>> round(losskit.crf_loss(emissions, torch.tensor([[0, 1]]), torch.zeros(2, 2)).item(), 4)
        0.2539
    """
    check_reduction(reduction)
    e, trans, start, end, mask = _crf_inputs(input, transitions, start_transitions, end_transitions, mask)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor of tags", type(target).__name__)
    check_same_device("target", target, input)
    target = as_class_indices("target", target)
    check_same_shape("target", target, mask.shape, "(N, T), the first two dims of `input`")
    if reads_values(target):
        check_class_indices("target", target[mask], e.shape[2], None)
    lengths = mask.sum(1)
    if e.shape[1] == 0:
        nll = e.sum((1, 2))  # no steps at all: 0, still in the graph
    else:
        nll = _log_partition(e, trans, start, end, mask) - _path_score(e, target, trans, start, end, mask)
    return restore(reduce_loss(nll, reduction=reduction, mask=lengths > 0, num_items=num_items), input)


def crf_decode(
    input: Tensor,
    transitions: Tensor,
    *,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
    mask: Tensor | None = None,
    pad: int = -100,
) -> Tensor:
    r"""Most likely tag path of a linear-chain CRF (Viterbi), vectorised over the batch.

    .. math::
        \hat y = \arg\max_y S(y)

    Args:
        input, transitions, start_transitions, end_transitions, mask: as in :func:`crf_loss`.
        pad: value written at padded steps (default ``-100``, the losses' ``ignore_index``).

    Returns:
        Tags ``(N, T)`` (int64), ``pad`` where ``mask`` is False. Ties go to the lower tag.

    Example:
        >>> import torch, losskit
        >>> emissions = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]]])
        >>> losskit.crf_decode(emissions, torch.zeros(2, 2), mask=torch.tensor([[True, True, False]]))
        tensor([[   0,    1, -100]])
    """
    with torch.no_grad():
        e, trans, start, end, mask = _crf_inputs(input, transitions, start_transitions, end_transitions, mask)
        n, steps, _ = e.shape
        out = torch.full((n, steps), pad, dtype=torch.long, device=e.device)
        if steps == 0:
            return out
        score = start + e[:, 0]
        history = []
        for t in range(1, steps):
            best, prev = (score.unsqueeze(2) + trans + e[:, t].unsqueeze(1)).max(dim=1)
            history.append(prev)
            score = torch.where(mask[:, t : t + 1], best, score)
        last_tag = (score + end).argmax(dim=1)
        lengths = mask.sum(1)
        tag = last_tag
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                back = history[t].gather(1, tag.unsqueeze(1)).squeeze(1)
                tag = torch.where(t < lengths - 1, back, tag)
            tag = torch.where(t == lengths - 1, last_tag, tag)
            out[:, t] = torch.where(t < lengths, tag, torch.full_like(tag, pad))
        return out
