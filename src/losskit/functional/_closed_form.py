"""One autograd wrapper for losses whose kernel returns the loss and its gradient together.

The kernel's gradient buffer is the only large tensor a step allocates. In the common case (one
backward pass, plain eager autograd) the backward scales that buffer in place by
``grad_output`` and hands it on, so no second ``N x C`` tensor is created: on the CPU a fresh
large tensor costs page faults that are slower than the arithmetic on it. When the graph is
kept (``retain_graph=True``) a later backward recomputes the gradient from the saved inputs.
Under ``torch.func`` transforms and ``torch.compile`` the buffer is saved and multiplied out of
place, the plain ``autograd.Function`` contract.

The in-place buffer lives on the autograd context, not on its saved-tensor list, so
``torch.autograd.graph.saved_tensors_hooks`` (``save_on_cpu``, non-reentrant activation
checkpointing) see the inputs but not the buffer: gradients stay exact (tested), but an
offloading hook does not move the buffer off the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["closed_form"]

Kernel = Callable[..., tuple[Tensor, Tensor | None]]


def _plain_autograd() -> bool:
    return not (torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling())


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
        ctx.set_materialize_grads(False)  # no zero N x C tensor for the gradient buffer's "gradient"
        ctx.num_args = len(inputs)
        ctx.in_place = _plain_autograd()
        if ctx.in_place:
            # Keep the buffer off the saved-tensor list so that the backward may consume it;
            # save the inputs instead, for a recomputation if the graph is kept.
            ctx.grad = output[1]
            ctx.kernel = inputs[0]
            ctx.args = [None if isinstance(a, Tensor) else a for a in inputs[1:]]
            ctx.save_for_backward(*(a if isinstance(a, Tensor) else None for a in inputs[1:]))
        else:
            ctx.save_for_backward(output[1])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: Tensor | None, _: Tensor | None) -> tuple[Any, ...]:
        if grad_output is None:  # the loss did not reach the differentiated output
            return (None,) * ctx.num_args
        if ctx.in_place:
            grad, ctx.grad = ctx.grad, None
            if grad is None:  # a second backward through a kept graph: recompute
                args = [s if a is None else a for a, s in zip(ctx.args, ctx.saved_tensors, strict=True)]
                grad = ctx.kernel(*args, True)[1]
        else:
            (grad,) = ctx.saved_tensors
        if grad.dim() > grad_output.dim():  # per-item loss (N, d...) of a (N, C, d...) input
            grad_output = grad_output.unsqueeze(1)
        grad = grad.mul_(grad_output) if ctx.in_place else grad_output * grad
        return (None, grad, *([None] * (ctx.num_args - 2)))


def closed_form(kernel: Kernel, x: Tensor, *args: Any) -> Tensor:
    """The loss ``kernel(x, *args, need_grad)[0]``, differentiable in ``x`` through the kernel's gradient."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _ClosedForm.apply(kernel, x, *args)[0]
    return kernel(x, *args, False)[0]
