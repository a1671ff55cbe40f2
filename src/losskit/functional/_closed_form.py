"""One autograd wrapper for losses whose kernel returns the loss and its gradient together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["closed_form"]

Kernel = Callable[..., tuple[Tensor, Tensor | None]]


class _ClosedForm(torch.autograd.Function):
    """``kernel(x, *args, need_grad) -> (loss, grad)``; ``grad`` is saved, not differentiated.

    The backward is first-order only (``once_differentiable``): a second derivative raises
    instead of silently coming out as zero. Works under ``torch.func.grad`` and ``vmap``.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(kernel: Kernel, x: Tensor, *args: Any) -> tuple[Tensor, Tensor]:
        return kernel(x, *args, True)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])
        ctx.num_args = len(inputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: Tensor, _: Tensor) -> tuple[Any, ...]:
        (grad,) = ctx.saved_tensors
        if grad.dim() > grad_output.dim():  # per-item loss (N, d...) of a (N, C, d...) input
            grad_output = grad_output.unsqueeze(1)
        return (None, grad_output * grad, *([None] * (ctx.num_args - 2)))


def closed_form(kernel: Kernel, x: Tensor, *args: Any) -> Tensor:
    """The loss ``kernel(x, *args, need_grad)[0]``, differentiable in ``x`` through the kernel's gradient."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _ClosedForm.apply(kernel, x, *args)[0]
    return kernel(x, *args, False)[0]
