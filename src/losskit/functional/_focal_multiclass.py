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
    \partial L / \partial x_t = a - (a + b)\, p_t

``1 - p_t`` is the sum of the other probabilities (no cancellation), ``log p_t`` comes from
``log_softmax``, and ``b / (1 - p_t)`` is taken as 0 where ``1 - p_t`` underflows (its limit,
since ``m`` vanishes faster for ``gamma > 0``), so loss and gradient are finite for any logits.
The only ``N x C`` buffer is the gradient itself.
"""

from __future__ import annotations

import torch
from torch import Tensor

from losskit.functional._closed_form import closed_form


def _forward(x: Tensor, index: Tensor, coef: Tensor | None, gamma: float, need_grad: bool):
    logp = torch.log_softmax(x, dim=1)
    logp_t = logp.gather(1, index)
    p = logp.exp_()  # reuse the buffer: p = softmax(x)
    p_t = p.gather(1, index)
    mod = one_minus = None
    if gamma != 0:
        one_minus = p.scatter_(1, index, 0.0).sum(dim=1, keepdim=True)
        mod = torch.pow(one_minus, gamma)
    scale = mod if coef is None else (coef if mod is None else coef * mod)
    a = torch.full_like(logp_t, -1.0) if scale is None else -scale
    loss = (a * logp_t).squeeze(1)
    if not need_grad:
        return loss, None
    if one_minus is not None:
        b = a * gamma * logp_t
        ratio = torch.where(one_minus > 0, b / torch.where(one_minus > 0, one_minus, 1.0), 0.0)
        row = ratio - a - b
    else:
        b = torch.zeros_like(a)
        row = -a
    grad = p.mul_(row)  # entries j != t; the probabilities' buffer becomes the gradient
    grad.scatter_(1, index, a - (a + b) * p_t)
    return loss, grad


def multiclass_focal_hard(x: Tensor, index: Tensor, coef: Tensor | None, gamma: float) -> Tensor:
    """Per-item focal loss ``(N, d...)`` of logits ``x`` ``(N, C, d...)`` and targets ``index`` ``(N, 1, d...)``.

    ``coef`` ``(N, 1, d...)`` holds the per-item factor ``alpha_t * w_t`` (``None``: 1).
    """
    return closed_form(_forward, x, index, coef, gamma)
