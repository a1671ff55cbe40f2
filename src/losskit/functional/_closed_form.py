"""One autograd wrapper for losses whose kernel returns the loss and its gradient together.

The kernel's gradient buffer is the only large tensor a step allocates. In the common case (one
backward pass, plain eager autograd) the backward scales that buffer in place by
``grad_output`` and hands it on, so no second ``N x C`` tensor is created: on the CPU a fresh
large tensor costs page faults that are slower than the arithmetic on it. When the graph is
kept (``retain_graph=True``) a later backward recomputes the gradient from the saved inputs.
Under ``torch.func`` transforms and ``torch.compile`` the buffer is saved and multiplied out of
place, the plain ``autograd.Function`` contract.

Second derivatives are exact: a backward that itself records a graph (``create_graph=True``,
as in MAML-style meta-gradients, ``gradgradcheck`` or Hessian-vector products) recomputes the
loss with the kernel's ``reference``, a plain differentiable formula, and differentiates that.
A caller whose other tensor arguments require grad (learnable ``alpha``, ``pos_weight``, class
weights, targets) calls the reference directly: the kernel's closed form covers ``x`` only.

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
Reference = Callable[..., Tensor]


def _plain_autograd() -> bool:
    return not (torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling())


class _ClosedForm(torch.autograd.Function):
    """``kernel(x, *args, need_grad) -> (loss, grad)``; ``grad`` is saved, not differentiated.

    A backward under ``create_graph=True`` differentiates ``reference(x, *args)`` instead, so
    second derivatives are exact. Works under ``torch.func.grad`` and ``vmap``.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(kernel: Kernel, reference: Reference, x: Tensor, *args: Any) -> tuple[Tensor, Tensor]:
        return kernel(x, *args, True)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)  # no zero N x C tensor for the gradient buffer's "gradient"
        ctx.num_args = len(inputs)
        ctx.in_place = _plain_autograd()
        ctx.kernel, ctx.reference = inputs[0], inputs[1]
        ctx.args = [None if isinstance(a, Tensor) else a for a in inputs[2:]]
        # The inputs are saved for a recomputation (a kept graph, or a second derivative).
        tensors = [a if isinstance(a, Tensor) else None for a in inputs[2:]]
        if ctx.in_place:
            # Keep the buffer off the saved-tensor list so that the backward may consume it.
            ctx.grad = output[1]
            ctx.save_for_backward(*tensors)
        else:
            ctx.save_for_backward(*tensors, output[1])

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor | None, _: Tensor | None) -> tuple[Any, ...]:
        if grad_output is None:  # the loss did not reach the differentiated output
            return (None,) * ctx.num_args
        if torch.is_grad_enabled():  # create_graph=True: differentiate the reference formula
            if ctx.in_place:
                ctx.grad = None
            saved = ctx.saved_tensors[: len(ctx.args)]
            args = [s if a is None else a for a, s in zip(ctx.args, saved, strict=True)]
            x = args[0]
            with torch.enable_grad():
                loss = ctx.reference(*args)
            (grad,) = torch.autograd.grad(loss, x, grad_output, create_graph=True)
            return (None, None, grad, *([None] * (ctx.num_args - 3)))
        if ctx.in_place:
            grad, ctx.grad = ctx.grad, None
            if grad is None:  # a second backward through a kept graph: recompute
                args = [s if a is None else a for a, s in zip(ctx.args, ctx.saved_tensors, strict=True)]
                grad = ctx.kernel(*args, True)[1]
        else:
            grad = ctx.saved_tensors[-1]
        if grad.dim() > grad_output.dim():  # per-item loss (N, d...) of a (N, C, d...) input
            grad_output = grad_output.unsqueeze(1)
        grad = grad.mul_(grad_output) if ctx.in_place else grad_output * grad
        return (None, None, grad, *([None] * (ctx.num_args - 3)))


def closed_form(kernel: Kernel, reference: Reference, x: Tensor, *args: Any) -> Tensor:
    """The loss ``kernel(x, *args, need_grad)[0]``, differentiable in ``x`` through the kernel's gradient.

    ``reference(x, *args)`` computes the same loss with differentiable torch operations; it is
    used when another tensor argument requires grad and for second derivatives.
    """
    if not torch.is_grad_enabled():
        return kernel(x, *args, False)[0]
    if any(isinstance(a, Tensor) and a.requires_grad for a in args):
        return reference(x, *args)
    if x.requires_grad:
        return _ClosedForm.apply(kernel, reference, x, *args)[0]
    return kernel(x, *args, False)[0]
