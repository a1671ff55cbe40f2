"""Closed-form sigmoid focal loss kernel (loss and gradient in one pass).

The per-element loss and its derivative are computed together in log space, so the backward
pass is one multiplication. With :math:`\\ell_\\pm = \\log\\sigma(\\pm x)` and soft target ``y``:

.. math::
    \\log(1 - p_t) &= \\operatorname{logaddexp}(\\ell_+ + \\log(1-y),\\ \\ell_- + \\log y) \\\\
    m &= (1 - p_t)^\\gamma = \\exp(\\gamma \\log(1 - p_t)) \\\\
    ce &= -(w_+ y \\ell_+ + (1 - y) \\ell_-) \\\\
    \\partial m / \\partial x &= \\gamma m (1 - 2y) \\exp(\\ell_+ + \\ell_- - \\log(1 - p_t)) \\\\
    \\partial ce / \\partial x &= (1 - y)\\sigma(x) - w_+ y \\sigma(-x)

The ratio :math:`\\sigma(x)\\sigma(-x) / (1 - p_t)` lies in ``[0, 1]``, so every term is finite
for any logit, including ``gamma < 1`` at saturated logits (where ``(1 - p_t)^(gamma - 1)``
would overflow in the textbook form).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _forward(x: Tensor, y: Tensor, gamma: float, alpha: float | None, pos_weight: Tensor | None, need_grad: bool):
    ls_p = torch.nn.functional.logsigmoid(x)
    ls_n = ls_p - x
    log1m_pt = torch.logaddexp(ls_p + torch.log1p(-y), ls_n + torch.log(y))
    mod = torch.exp(log1m_pt * gamma) if gamma != 0 else torch.ones_like(x)
    pos = y if pos_weight is None else y * pos_weight
    ce = -(pos * ls_p + (1.0 - y) * ls_n)
    alpha_t = None if alpha is None else alpha * y + (1.0 - alpha) * (1.0 - y)
    loss = mod * ce if alpha_t is None else alpha_t * mod * ce
    if not need_grad:
        return loss, None
    dce = (1.0 - y) * torch.exp(ls_p) - pos * torch.exp(ls_n)
    grad = mod * dce
    if gamma != 0:
        grad = grad + (gamma * (1.0 - 2.0 * y)) * torch.exp(ls_p + ls_n - log1m_pt) * mod * ce
    if alpha_t is not None:
        grad = alpha_t * grad
    return loss, grad


class _BinaryFocal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, gamma, alpha, pos_weight):
        loss, grad = _forward(x, y, gamma, alpha, pos_weight, ctx.needs_input_grad[0])
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None, None, None, None


def binary_focal_elementwise(
    x: Tensor, y: Tensor, gamma: float, alpha: float | None, pos_weight: Tensor | None
) -> Tensor:
    """Unreduced sigmoid focal loss of logits ``x`` and (soft) targets ``y`` of the same shape."""
    if pos_weight is not None:
        pos_weight = torch.broadcast_to(pos_weight, x.shape)
    if torch.is_grad_enabled() and x.requires_grad:
        return _BinaryFocal.apply(x, y, gamma, alpha, pos_weight)
    return _forward(x, y, gamma, alpha, pos_weight, False)[0]
