r"""Listwise ranking losses on padded lists: ListNet, ListMLE, LambdaLoss and ApproxNDCG.

A batch holds ``N`` lists (queries) padded to a common length ``L``: scores ``input`` ``(N, L)``,
graded relevance ``target`` ``(N, L)`` and a boolean validity ``mask`` ``(N, L)`` (``None``: every
entry is valid). **Padding never changes the loss or its gradient**: padded entries are
excluded with ``torch.where`` before any sum, softmax or sort, so whatever values they hold
(scores of 1e4, inf or NaN; any relevance), the loss equals that of the unpadded lists and
their gradient is exactly 0. :func:`pad_lists` turns flat ``(group id, relevance, score)``
rows into this layout and back.

Each list gives one loss; ``reduction="none"`` returns them ``(N,)``, ``"mean"`` averages over
the lists with at least one valid entry (weighted by the per-list ``weight``), ``"sum"`` adds.
A list with no valid entry scores 0.

Gains and discounts (LambdaLoss, ApproxNDCG): gain :math:`G(y) = 2^y - 1`, discount
:math:`1 / \log_2(1 + \text{rank})`, ideal DCG over the list's valid entries; a list without a
relevant entry (ideal DCG 0) scores 0.

Ties in relevance, as documented per loss: ListNet spreads the target probability equally over
tied entries; ListMLE orders tied entries by their position in the list (a stable sort), which
is one of the equally likely permutations; LambdaLoss forms pairs only across different
relevance; ApproxNDCG depends on relevance only through the gains. Ties in *scores* are broken
by position where a rank is needed (LambdaLoss's weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_choice,
    check_float,
    check_input,
    check_integer,
    check_real,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_sample_weight,
    check_scalar_range,
    check_values_in_range,
    describe,
)
from losskit.functional.ranking import _as_groups

__all__ = ["PaddedLists", "approx_ndcg_loss", "lambda_loss", "listmle_loss", "listnet_loss", "pad_lists"]

LAMBDA_WEIGHTINGS = ("ndcg2++", "ndcg2", "lambdarank")


@dataclass(frozen=True)
class PaddedLists:
    """Flat rows grouped into padded lists, and the way back.

    Attributes:
        input: ``(G, L)`` scores, one row per group id (in increasing id order), 0 at padding.
        target: ``(G, L)`` relevance, 0 at padding.
        mask: ``(G, L)`` boolean, True at real entries.
        row, col: ``(n,)`` where each flat row went: ``input[row[i], col[i]] == scores[i]``.
    """

    input: Tensor
    target: Tensor
    mask: Tensor
    row: Tensor
    col: Tensor

    def unpad(self, values: Tensor) -> Tensor:
        """The flat ``(n,)`` values of a padded ``(G, L)`` tensor, in the original row order."""
        return values[self.row, self.col]


def pad_lists(input: Tensor, target: Tensor, group: Tensor) -> PaddedLists:
    """Group flat rows ``(n,)`` by ``group`` id into padded ``(G, L)`` lists.

    Within a list, entries keep their original order. Gradients flow from the padded scores back
    to ``input``.

    Example:
        >>> import torch, losskit
        >>> lists = losskit.pad_lists(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([1.0, 0.0, 2.0]),
        ...                           torch.tensor([7, 3, 7]))
        >>> lists.input
        tensor([[0.2000, 0.0000],
                [0.1000, 0.3000]])
        >>> lists.mask
        tensor([[ True, False],
                [ True,  True]])
        >>> lists.unpad(lists.input)
        tensor([0.1000, 0.2000, 0.3000])
    """
    check_float("input", input)
    if input.dim() != 1:
        raise LossInputError("input", "a 1-d tensor (n,)", describe(input))
    for name, t in (("target", target), ("group", group)):
        if not isinstance(t, Tensor):
            raise LossInputError(name, "a torch.Tensor", type(t).__name__)
        check_same_shape(name, t, input.shape, "one value per row of `input`")
    check_integer("group", group)
    padded_s, padded_r, valid, row, col = _as_groups(input, target, group)
    return PaddedLists(padded_s, padded_r, valid, row, col)


def _prepare(input: Tensor, target: Tensor, mask: Tensor | None, weight: Tensor | None, reduction: str):
    """Check the arguments; return scores, relevance (0 at padding), mask and weight."""
    check_float("input", input)
    if input.dim() != 2:
        raise LossInputError("input", "a tensor of shape (N, L): N lists of length L", describe(input))
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input)
    check_real("target", target, "relevance grades")
    check_same_shape("target", target, input.shape, "the shape of `input`")
    check_reduction(reduction)
    if mask is None:
        mask = torch.ones(input.shape, dtype=torch.bool, device=input.device)
    else:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise LossInputError("mask", "a boolean tensor", describe(mask))
        check_same_device("mask", mask, input)
        check_same_shape("mask", mask, input.shape, "the shape of `input`")
    if weight is not None:
        check_sample_weight("weight", weight, input.shape[:1], "one weight per list", input)
    dtype = compute_dtype(input)
    zero = torch.zeros((), dtype=dtype, device=input.device)
    rel = torch.where(mask, target.to(dtype), zero)
    check_values_in_range("target", rel, 0.0, math.inf)
    s = torch.where(mask, upcast(input, dtype), zero)  # no gradient to, and no value from, padding
    check_input("input", s)  # NaN only in the padding is fine
    return s, rel, mask, upcast(weight, dtype)


def _reduce(per_list: Tensor, mask: Tensor, w: Tensor | None, reduction: str, num_items: NumItems, input: Tensor):
    out = reduce_loss(per_list, reduction=reduction, weight=w, mask=mask.any(dim=1), num_items=num_items)
    return restore(out, input)


def _masked_scores(s: Tensor, mask: Tensor) -> Tensor:
    """Scores with padding replaced by a finite number far below every real score.

    Padding then weighs exactly 0 in every softmax and log-sum-exp, sorts last, and (being a
    constant) receives no gradient; a finite fill keeps the backward free of ``inf - inf``.
    """
    low = torch.finfo(s.dtype).min / 4
    return torch.where(mask, s, torch.full((), low, dtype=s.dtype, device=s.device))


def listnet_loss(
    input: Tensor,
    target: Tensor,
    *,
    mask: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""ListNet's top-one loss (Cao et al., *Learning to rank: from pairwise approach to listwise
    approach*, ICML 2007): cross-entropy between the top-one distributions of relevance and scores.

    .. math::
        \ell = -\sum_{i \in \text{valid}} \operatorname{softmax}(y)_i \log \operatorname{softmax}(s)_i

    Tied relevance gets equal target probability.

    Args:
        input: ``(N, L)`` scores.
        target: ``(N, L)`` non-negative relevance (integer or float).
        mask: ``(N, L)`` boolean, True at real entries; ``None`` is all True.
        weight: ``(N,)`` per-list weights.
        reduction, num_items: per list (see the module docs).

    Example:
        >>> import torch, losskit
        >>> losskit.listnet_loss(torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]))  # log 2
        tensor(0.6931)
    """
    s, rel, mask, w = _prepare(input, target, mask, weight, reduction)
    p = torch.softmax(_masked_scores(rel, mask), dim=1)
    log_q = torch.log_softmax(_masked_scores(s, mask), dim=1)
    per_list = -torch.where(mask, p * log_q, torch.zeros((), dtype=s.dtype, device=s.device)).sum(dim=1)
    return _reduce(per_list, mask, w, reduction, num_items, input)


def listmle_loss(
    input: Tensor,
    target: Tensor,
    *,
    mask: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""ListMLE (Xia et al., *Listwise approach to learning to rank: theory and algorithm*, ICML
    2008): negative Plackett-Luce log-likelihood of the ideal order.

    With :math:`\pi` the valid entries sorted by relevance, most relevant first,

    .. math::
        \ell = \sum_{r=1}^{n} \Bigl(\log \sum_{t=r}^{n} e^{s_{\pi(t)}} - s_{\pi(r)}\Bigr).

    Ties in relevance are ordered by position in the list (stable sort).

    Args:
        input, target, mask, weight, reduction, num_items: as :func:`listnet_loss`.

    Example:
        >>> import torch, losskit
        >>> losskit.listmle_loss(torch.zeros(1, 2), torch.tensor([[0.0, 1.0]]))  # log 2 + log 1
        tensor(0.6931)
    """
    s, rel, mask, w = _prepare(input, target, mask, weight, reduction)
    # padding sorts last: its key is below every relevance (which is >= 0)
    key = torch.where(mask, rel, torch.full((), -1.0, dtype=rel.dtype, device=rel.device))
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    s_sorted = torch.gather(_masked_scores(s, mask), 1, order)
    valid_sorted = torch.gather(mask, 1, order)
    tail_lse = torch.flip(torch.logcumsumexp(torch.flip(s_sorted, [1]), dim=1), [1])
    terms = torch.where(valid_sorted, tail_lse - s_sorted, torch.zeros((), dtype=s.dtype, device=s.device))
    return _reduce(terms.sum(dim=1), mask, w, reduction, num_items, input)


def _gains_and_ideal(rel: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Gains ``2^y - 1`` (0 at padding) and each list's ideal DCG ``(N, 1)``."""
    gains = torch.where(mask, torch.expm1(rel * math.log(2.0)), torch.zeros((), dtype=rel.dtype, device=rel.device))
    ideal_gains = torch.sort(gains, dim=1, descending=True).values
    ranks = torch.arange(1, rel.shape[1] + 1, device=rel.device, dtype=rel.dtype)
    ideal = (ideal_gains / torch.log2(1.0 + ranks)).sum(dim=1, keepdim=True)
    return gains, ideal


def lambda_loss(
    input: Tensor,
    target: Tensor,
    *,
    mask: Tensor | None = None,
    weighting: str = "ndcg2++",
    mu: float = 10.0,
    sigma: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""LambdaLoss (Wang et al., *The LambdaLoss framework for ranking metric optimization*, CIKM
    2018): pairwise logistic loss weighted by what swapping the pair does to NDCG.

    For every pair of valid entries with :math:`y_i > y_j`, at ranks :math:`r_i, r_j` in the
    current order of the scores (ties by position), with :math:`G = (2^y - 1) / \text{IDCG}` and
    :math:`D(r) = \log_2(1 + r)`:

    .. math::
        \ell = \sum_{y_i > y_j} w_{ij} \log_2\bigl(1 + e^{-\sigma (s_i - s_j)}\bigr)

    with weights (constants for the gradient, as in the paper)

    * ``"lambdarank"``: :math:`|G_i - G_j|\,|1/D(r_i) - 1/D(r_j)|` (LambdaRank's ``|Delta NDCG|``);
    * ``"ndcg2"``: :math:`|G_i - G_j|\,\delta_{|r_i - r_j|}`,
      :math:`\delta_k = 1/D(k) - 1/D(k + 1)` (NDCG-Loss2, a bound on NDCG);
    * ``"ndcg2++"`` (default, the paper's best): ``mu * ndcg2 + lambdarank``.

    Lists without a relevant entry score 0.

    Args:
        input, target, mask, weight, reduction, num_items: as :func:`listnet_loss`.
        weighting: ``"ndcg2++"``, ``"ndcg2"`` or ``"lambdarank"``.
        mu: weight of the NDCG-Loss2 term in ``"ndcg2++"`` (``>= 0``).
        sigma: logistic slope ``> 0``.

    Example:
        >>> import torch, losskit
        >>> s, y = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])
        >>> losskit.lambda_loss(s, y, weighting="lambdarank")  # (1 - 1/log2 3) * log2(2)
        tensor(0.3691)
    """
    check_choice("weighting", weighting, LAMBDA_WEIGHTINGS)
    check_scalar_range("mu", mu, 0.0)
    check_scalar_range("sigma", sigma, 0.0, math.inf, low_inclusive=False)
    s, rel, mask, w = _prepare(input, target, mask, weight, reduction)
    gains, ideal = _gains_and_ideal(rel, mask)
    g = gains / torch.where(ideal > 0, ideal, torch.ones_like(ideal))
    with torch.no_grad():
        order = torch.sort(_masked_scores(s, mask), dim=1, descending=True, stable=True).indices
        ranks = torch.empty_like(order).scatter_(
            1, order, torch.arange(1, s.shape[1] + 1, device=s.device).expand_as(order)
        )
        inv_d = 1.0 / torch.log2(1.0 + ranks.to(s.dtype))
        g_diff = (g[:, :, None] - g[:, None, :]).abs()
        weights = torch.zeros_like(g_diff)
        if weighting in ("ndcg2", "ndcg2++"):
            gap = (ranks[:, :, None] - ranks[:, None, :]).abs().to(s.dtype)
            safe_gap = torch.where(gap > 0, gap, torch.ones_like(gap))
            delta = 1.0 / torch.log2(1.0 + safe_gap) - 1.0 / torch.log2(2.0 + safe_gap)
            weights = weights + (mu if weighting == "ndcg2++" else 1.0) * torch.where(gap > 0, delta, 0.0) * g_diff
        if weighting in ("lambdarank", "ndcg2++"):
            weights = weights + (inv_d[:, :, None] - inv_d[:, None, :]).abs() * g_diff
    pairs = (rel[:, :, None] > rel[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    pair_loss = TF.softplus(-sigma * (s[:, :, None] - s[:, None, :])) / math.log(2.0)
    zero = torch.zeros((), dtype=s.dtype, device=s.device)
    per_list = torch.where(pairs, weights * pair_loss, zero).sum(dim=(1, 2))
    return _reduce(per_list, mask, w, reduction, num_items, input)


def approx_ndcg_loss(
    input: Tensor,
    target: Tensor,
    *,
    mask: Tensor | None = None,
    temperature: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""ApproxNDCG (Qin, Liu & Li, *A general approximation framework for direct optimization of
    information retrieval measures*, Information Retrieval 13, 2010): one minus NDCG with every
    rank replaced by a smooth approximation.

    .. math::
        \hat r_i = 1 + \sum_{j \ne i,\ \text{valid}} \sigma\bigl((s_j - s_i) / T\bigr),\qquad
        \ell = 1 - \frac{1}{\text{IDCG}} \sum_{i \text{ valid}} \frac{2^{y_i} - 1}{\log_2(1 + \hat r_i)}

    As :math:`T \to 0` the ranks become exact (ties in scores count 1/2 each way). Lists without
    a relevant entry score 0.

    Args:
        input, target, mask, weight, reduction, num_items: as :func:`listnet_loss`.
        temperature: :math:`T > 0`.

    Example:
        >>> import torch, losskit
        >>> losskit.approx_ndcg_loss(torch.tensor([[10.0, -10.0]]), torch.tensor([[1.0, 0.0]]), temperature=0.1)
        tensor(0.)
    """
    check_scalar_range("temperature", temperature, 0.0, math.inf, low_inclusive=False)
    s, rel, mask, w = _prepare(input, target, mask, weight, reduction)
    gains, ideal = _gains_and_ideal(rel, mask)
    pair_mask = mask[:, :, None] & mask[:, None, :] & ~torch.eye(s.shape[1], dtype=torch.bool, device=s.device)
    beats = torch.sigmoid((s[:, None, :] - s[:, :, None]) / temperature)  # [n, i, j]: j above i
    approx_rank = 1.0 + torch.where(pair_mask, beats, torch.zeros((), dtype=s.dtype, device=s.device)).sum(dim=2)
    dcg = (gains / torch.log2(1.0 + approx_rank)).sum(dim=1, keepdim=True)
    relevant = ideal > 0
    ndcg_loss = torch.where(relevant, 1.0 - dcg / torch.where(relevant, ideal, torch.ones_like(ideal)), 0.0)
    return _reduce(ndcg_loss[:, 0], mask, w, reduction, num_items, input)
