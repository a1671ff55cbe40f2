r"""Closed-form softmax focal loss for hard targets (loss and gradient in one pass).

For a row with logits ``x``, target ``t``, :math:`p = \operatorname{softmax}(x)` and factor
:math:`c = \alpha_t w_t`:

.. math::
    L = -c\,(1 - p_t)^\gamma \log p_t

Write :math:`a = \partial L / \partial \log p_t = -c\, m` and
:math:`b = \partial L / \partial \log(1 - p_t) = -c \gamma m \log p_t` with :math:`m = (1 - p_t)^\gamma`.
Since :math:`\partial \log p_t / \partial x_j = [j = t] - p_j` and
:math:`\partial \log(1 - p_t) / \partial x_j = [j \ne t]\, p_j / (1 - p_t) - p_j`:

.. math::
    \partial L / \partial x_j = p_j \bigl(b / (1 - p_t) - a - b\bigr) \ (j \ne t),\qquad
    \partial L / \partial x_t = a - (a + b)\, p_t = a (1 - p_t) - b\, p_t

Numerics: ``1 - p_t`` is the sum of the other probabilities (no cancellation) and
:math:`\log p_t = -\operatorname{log1p}((1 - p_t) / p_t)`, exact for every ``p_t`` that does not
underflow; where it does, :math:`\log p_t = x_t - \operatorname{lse}(x)` with
:math:`\operatorname{lse}(x) = \max x - \log \max p` (the largest probability is at least
``1/C``). ``b / (1 - p_t) - b`` is computed as ``b p_t / (1 - p_t)`` (no cancellation when
``p_t`` underflows and the float32 sum ``1 - p_t`` is ``1 + ulp``), and ``b / (1 - p_t)`` is taken as
0 where ``1 - p_t`` underflows (its limit, since ``m``
vanishes faster for ``gamma > 0``), so loss and gradient are finite for any logits.

Cost: the softmax is the only ``N x C`` tensor allocated (it becomes the gradient in place);
the other passes over the logits are reductions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from losskit.functional._closed_form import closed_form

# Below this, p_t is too close to float32's underflow for log(p_t) to be trusted.
_TINY = 2.0**-100


def _log_p_target(x: Tensor, p_others: Tensor, index: Tensor, p_t: Tensor, one_minus: Tensor) -> Tensor:
    """``log p_t`` from the softmax ``p_others`` (target entries zeroed) without cancellation."""
    direct = torch.log1p(one_minus / p_t).neg_()
    lse = x.amax(dim=1, keepdim=True) - torch.log(p_others.amax(dim=1, keepdim=True))
    return torch.where(p_t > _TINY, direct, x.gather(1, index) - lse)


def _forward(x: Tensor, index: Tensor, coef: Tensor | None, gamma: float, need_grad: bool):
    p = torch.softmax(x, dim=1)
    p_t = p.gather(1, index)
    one_minus = p.scatter_(1, index, 0.0).sum(dim=1, keepdim=True)
    log_pt = _log_p_target(x, p, index, p_t, one_minus)
    mod = torch.pow(one_minus, gamma) if gamma != 0 else None
    scale = mod if coef is None else (coef if mod is None else coef * mod)
    a = torch.full_like(log_pt, -1.0) if scale is None else -scale
    loss = (a * log_pt).squeeze(1)
    if not need_grad:
        return loss, None
    if mod is not None:
        b = a * gamma * log_pt
        # b / (1 - p_t) - b written as b p_t / (1 - p_t): no cancellation when 1 - p_t rounds to
        # 1 + ulp (p_t underflowed: b is large and the difference is exactly 0, not b * 1e-7).
        safe = torch.where(one_minus > 0, one_minus, 1.0)
        row = torch.where(one_minus > 0, b * p_t / safe, -b) - a
    else:
        b = torch.zeros_like(a)
        row = -a
    grad = p.mul_(row)  # entries j != t; the probabilities' buffer becomes the gradient
    grad.scatter_(1, index, a * one_minus - b * p_t)  # = a - (a + b) p_t, both terms <= 0
    return loss, grad


def log1m_softmax(x: Tensor, logp: Tensor) -> Tensor:
    """``log(1 - softmax(x))`` along dim 1, accurate and with finite gradients everywhere.

    For every class but the row's arg-max, ``p <= 1/2`` and ``log1p(-p)`` is well conditioned.
    For the arg-max class it is ``logsumexp`` over the other classes minus ``logsumexp`` over all.
    """
    lse = torch.logsumexp(x, dim=1, keepdim=True)
    top = x.argmax(dim=1, keepdim=True)
    is_top = torch.zeros_like(x, dtype=torch.bool).scatter_(1, top, True)
    floor = torch.finfo(x.dtype).min
    others = torch.logsumexp(x.masked_fill(is_top, floor), dim=1, keepdim=True) - lse
    p_safe = torch.where(is_top, torch.zeros_like(logp), logp.exp())
    return torch.where(is_top, others, torch.log1p(-p_safe))


def _reference(x: Tensor, index: Tensor, coef: Tensor | None, gamma: float) -> Tensor:
    """The same loss with differentiable torch operations (second derivatives, learnable ``coef``)."""
    logp = torch.log_softmax(x, dim=1)
    terms = logp.gather(1, index)
    if gamma != 0:
        terms = terms * torch.exp(gamma * log1m_softmax(x, logp).gather(1, index))
    if coef is not None:
        terms = terms * coef
    return -terms.squeeze(1)


def multiclass_focal_hard(x: Tensor, index: Tensor, coef: Tensor | None, gamma: float) -> Tensor:
    """Per-item focal loss ``(N, d...)`` of logits ``x`` ``(N, C, d...)`` and targets ``index`` ``(N, 1, d...)``.

    ``coef`` ``(N, 1, d...)`` holds the per-item factor ``alpha_t * w_t`` (``None``: 1); it may
    require grad (learnable class weights or ``alpha``).
    """
    return closed_form(_forward, _reference, x, index, coef, gamma)
