r"""Closed-form sigmoid focal loss kernels (loss and gradient in one pass).

Loss and derivative are computed together in log space, so the backward pass is one
multiplication, and every term is finite for any logit, including ``gamma < 1`` at saturated
logits (where the textbook ``(1 - p_t)^(gamma - 1)`` overflows).

**Hard targets** (``y`` in {0, 1}): with :math:`z = (2y - 1) x`, :math:`\ell = \log\sigma(z)`,
:math:`\bar\ell = \log\sigma(-z) = \ell - z`, :math:`c = \alpha_t (w_+ \text{ if } y=1 \text{ else } 1)`:

.. math::
    L = -c\, e^{\gamma \bar\ell}\, \ell,\qquad
    \frac{\partial L}{\partial x} =
    c\,(2y - 1)\, e^{\gamma \bar\ell}\,\bigl(\gamma\, \sigma(z)\, \ell - \sigma(-z)\bigr)

**Soft targets**: with :math:`\ell_\pm = \log\sigma(\pm x)`,

.. math::
    \log(1 - p_t) &= \operatorname{logaddexp}(\ell_+ + \log(1-y),\ \ell_- + \log y) \\
    m &= e^{\gamma \log(1 - p_t)} \\
    ce &= -(w_+ y \ell_+ + (1 - y) \ell_-),\qquad \partial ce / \partial x = (1 - y)\sigma(x) - w_+ y \sigma(-x) \\
    \partial m / \partial x &= \gamma m (1 - 2y) \exp(\ell_+ + \ell_- - \log(1 - p_t))

where :math:`\sigma(x)\sigma(-x) / (1 - p_t) \in [0, 1]`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from losskit.functional._closed_form import closed_form


def _alpha_t(y: Tensor, alpha: float | None) -> Tensor | None:
    return None if alpha is None else (1.0 - alpha) + (2.0 * alpha - 1.0) * y


def _hard(x: Tensor, y: Tensor, gamma: float, alpha: float | None, pos_weight: Tensor | None, need_grad: bool):
    # In-place arithmetic wherever a buffer is free again (fresh large buffers cost page faults
    # on the CPU), and two transcendental passes: logsigmoid(z) and sigmoid(-z) = exp(ls - z).
    sign = torch.mul(y, 2.0).sub_(1.0)
    z = x * sign
    ls = torch.nn.functional.logsigmoid(z)
    sig_neg = z.sub_(ls).neg_().exp_()  # sigmoid(-z) = exp(log sigmoid(z) - z)
    scale = None if alpha is None else torch.mul(y, 2.0 * alpha - 1.0).add_(1.0 - alpha)
    if pos_weight is not None:
        c_pos = torch.mul(y, pos_weight - 1.0).add_(1.0)
        scale = c_pos if scale is None else scale.mul_(c_pos)
    if gamma != 0:
        mod = sig_neg.pow(gamma)
        scale = mod if scale is None else scale.mul_(mod)
    loss = ls.neg() if scale is None else torch.mul(scale, ls).neg_()
    if not need_grad:
        return loss, None
    if gamma != 0:  # gamma * sigmoid(z) * ls - sigmoid(-z)
        grad = torch.sub(1.0, sig_neg).mul_(ls).mul_(gamma).sub_(sig_neg)
    else:
        grad = sig_neg.neg_()
    grad = grad.mul_(sign) if scale is None else grad.mul_(scale).mul_(sign)
    return loss, grad


def _soft(x: Tensor, y: Tensor, gamma: float, alpha: float | None, pos_weight: Tensor | None, need_grad: bool):
    ls_p = torch.nn.functional.logsigmoid(x)
    ls_n = ls_p - x
    pos = y if pos_weight is None else y * pos_weight
    ce = -(pos * ls_p + (1.0 - y) * ls_n)
    alpha_t = _alpha_t(y, alpha)
    log1m_pt = torch.logaddexp(ls_p + torch.log1p(-y), ls_n + torch.log(y)) if gamma != 0 else None
    mod = torch.exp(log1m_pt * gamma) if gamma != 0 else None
    loss = ce if mod is None else mod * ce
    if alpha_t is not None:
        loss = alpha_t * loss
    if not need_grad:
        return loss, None
    grad = (1.0 - y) * torch.exp(ls_p) - pos * torch.exp(ls_n)
    if mod is not None:
        grad = mod * (grad + (gamma * (1.0 - 2.0 * y)) * torch.exp(ls_p + ls_n - log1m_pt) * ce)
    if alpha_t is not None:
        grad = alpha_t * grad
    return loss, grad


def _reference(x: Tensor, y: Tensor, gamma: float, alpha: float | Tensor | None, pos_weight: Tensor | None) -> Tensor:
    """The same loss with differentiable torch operations (second derivatives, learnable options).

    ``log(1 - p_t)`` comes from log-sigmoids as in ``_soft``; when the target itself requires
    grad it is ``log(p + y (1 - 2p))`` instead, whose target derivative is finite at 0 and 1.
    """
    ls_p = torch.nn.functional.logsigmoid(x)
    ls_n = ls_p - x
    pos = y if pos_weight is None else y * pos_weight
    loss = -(pos * ls_p + (1.0 - y) * ls_n)
    if gamma != 0:
        if y.requires_grad:
            p = torch.sigmoid(x)
            log1m_pt = torch.log((p + y * (1.0 - 2.0 * p)).clamp_min(torch.finfo(x.dtype).tiny))
        else:  # 0/1 targets take their exact branch: no -inf term, whose second derivative is NaN
            soft = torch.where((y == 0) | (y == 1), torch.full_like(y, 0.5), y)
            mixed = torch.logaddexp(ls_p + torch.log1p(-soft), ls_n + torch.log(soft))
            log1m_pt = torch.where(y == 0, ls_p, torch.where(y == 1, ls_n, mixed))
        loss = torch.exp(log1m_pt * gamma) * loss
    if alpha is not None:
        loss = ((1.0 - alpha) + (2.0 * alpha - 1.0) * y) * loss
    return loss


def binary_focal_elementwise(
    x: Tensor, y: Tensor, gamma: float, alpha: float | Tensor | None, pos_weight: Tensor | None, hard: bool
) -> Tensor:
    """Unreduced sigmoid focal loss of logits ``x`` and targets ``y`` of the same shape.

    ``hard=True`` promises that every target is exactly 0 or 1 (the faster kernel). ``alpha``
    may be a 0-d tensor (learnable: the loss is then differentiable in it).
    """
    if pos_weight is not None:
        pos_weight = torch.broadcast_to(pos_weight, x.shape)
    kernel = _hard if hard else _soft
    if isinstance(alpha, Tensor) and not alpha.requires_grad:
        alpha = float(alpha)
    if isinstance(alpha, Tensor):
        return _reference(x, y, gamma, alpha, pos_weight)
    return closed_form(kernel, _reference, x, y, gamma, alpha, pos_weight)
