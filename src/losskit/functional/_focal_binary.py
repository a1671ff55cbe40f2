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


def binary_focal_elementwise(
    x: Tensor, y: Tensor, gamma: float, alpha: float | None, pos_weight: Tensor | None, hard: bool
) -> Tensor:
    """Unreduced sigmoid focal loss of logits ``x`` and targets ``y`` of the same shape.

    ``hard=True`` promises that every target is exactly 0 or 1 (the faster kernel).
    """
    if pos_weight is not None:
        pos_weight = torch.broadcast_to(pos_weight, x.shape)
    return closed_form(_hard if hard else _soft, x, y, gamma, alpha, pos_weight)
