"""Linear cross-entropy as Triton kernels (logits never written to global memory).

Two kernels (in :mod:`losskit.fused._triton_kernels`, imported on first use), in the manner of
cut-cross-entropy (Wijmans et al. 2024):

* ``lse_kernel`` (forward), one program per ``BLOCK_M`` tokens: for each ``BLOCK_V`` slice of the
  vocabulary it computes the logit tile ``x W^T + b`` in registers (a ``BLOCK_K`` loop over ``H``),
  applies the soft-cap and folds it into an online log-sum-exp; it also picks out the target logit
  and the row sum of the logits (label smoothing). Only these three ``O(N)`` vectors are stored.
* ``grad_kernel`` (backward), one program per ``(BLOCK_M, BLOCK_V)`` tile: it recomputes the tile,
  forms ``g_i * dL_i/dz`` from the saved log-sum-exp, and adds ``dz @ W`` into ``grad_input`` and
  ``dz^T @ x`` into ``grad_weight`` with float32 atomics (so the gradients are accumulated in
  float32 whatever the input dtype; summation order, hence the last bits, is not deterministic).

The backward takes any per-token ``grad_output``, so every reduction, ``"none"`` included, is
exact. Forward + backward costs four ``N x H x V`` matmuls (one forward, three backward).

With ``TRITON_INTERPRET=1`` in the environment before Triton is first imported, the kernels run
through Triton's interpreter on CPU tensors: slow, but it is how they are tested without a GPU.
fp32 dots follow ``torch.backends.cuda.matmul.allow_tf32`` (TF32 when allowed, IEEE otherwise). On CUDA, fp16/bf16
tiles go to ``tl.dot`` as they are (float32 accumulators); under the interpreter, whose ``tl.dot``
mishandles bf16 operands, the same (already rounded) tiles are upcast to float32 first.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import torch
from torch import Tensor

from losskit._errors import LossInputError

__all__ = ["triton_available", "triton_linear_cross_entropy"]


def triton_available() -> bool:
    """Whether the triton package is installed (it is imported only when the kernels are used)."""
    return importlib.util.find_spec("triton") is not None


def _interpreting() -> bool:
    """Whether the kernels were built for Triton's interpreter (``TRITON_INTERPRET=1`` at import)."""
    from triton.runtime.interpreter import InterpretedFunction

    from losskit.fused import _triton_kernels

    return isinstance(_triton_kernels.lse_kernel, InterpretedFunction)


def _blocks(x: Tensor, hidden: int) -> dict[str, int]:
    if x.device.type == "cpu":  # interpreter: small tiles keep it quick
        return {"BLOCK_M": 16, "BLOCK_V": 32, "BLOCK_K": 16}
    return {"BLOCK_M": 64, "BLOCK_V": 128, "BLOCK_K": 64 if hidden >= 64 else 32}


def _precision(x: Tensor) -> str:
    if x.dtype == torch.float32 and x.device.type == "cuda" and not torch.backends.cuda.matmul.allow_tf32:
        return "ieee"
    return "tf32" if x.device.type == "cuda" else "ieee"


def _meta(x: Tensor, bias: Tensor | None, softcap: float | None) -> dict[str, Any]:
    return {
        "HAS_BIAS": bias is not None,
        "HAS_CAP": softcap is not None,
        "PRECISION": _precision(x),
        "UPCAST": x.device.type != "cuda",
    }


class _TritonLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        ignore_index: int,
        eps: float,
        zl: float,
        softcap: float | None,
    ) -> Tensor:
        n, hidden = x.shape
        vocab = weight.shape[0]
        valid = target != ignore_index
        tgt = torch.where(valid, target, torch.full_like(target, -1)).to(torch.int32).contiguous()
        lse = torch.empty(n, dtype=torch.float32, device=x.device)
        z_t = torch.empty_like(lse)
        z_sum = torch.empty_like(lse)
        blocks = _blocks(x, hidden)
        if n > 0:
            from losskit.fused._triton_kernels import lse_kernel

            lse_kernel[(-(-n // blocks["BLOCK_M"]),)](
                x, weight, bias if bias is not None else x, tgt, lse, z_t, z_sum,
                n, vocab, hidden, float(softcap or 1.0),
                **_meta(x, bias, softcap), **blocks,
            )  # fmt: skip
        loss = (1.0 - eps) * (lse - z_t) + eps * (lse - z_sum / vocab) + zl * lse * lse
        loss = torch.where(valid, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
        ctx.opts = (eps, zl, softcap)
        ctx.save_for_backward(x, weight, bias, tgt, lse)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, bias, tgt, lse = ctx.saved_tensors
        eps, zl, softcap = ctx.opts
        n, hidden = x.shape
        vocab = weight.shape[0]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = need_b and bias is not None
        gx = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
        gw = torch.zeros(weight.shape, dtype=torch.float32, device=x.device)
        gb = torch.zeros(vocab, dtype=torch.float32, device=x.device)
        g = torch.where(tgt >= 0, grad_loss.to(torch.float32), torch.zeros((), device=x.device)).contiguous()
        blocks = _blocks(x, hidden)
        if n > 0 and (need_x or need_w or need_b):
            from losskit.fused._triton_kernels import grad_kernel

            grid = (-(-n // blocks["BLOCK_M"]), -(-vocab // blocks["BLOCK_V"]))
            grad_kernel[grid](
                x, weight, bias if bias is not None else x, tgt, lse, g, gx, gw, gb,
                n, vocab, hidden, float(softcap or 1.0), float(eps), float(zl),
                **_meta(x, bias, softcap), NEED_X=need_x, NEED_W=need_w, NEED_B=need_b, **blocks,
            )  # fmt: skip
        return (
            gx.to(x.dtype) if need_x else None,
            gw.to(weight.dtype) if need_w else None,
            gb.to(bias.dtype) if need_b else None,
            None, None, None, None, None,
        )  # fmt: skip


def triton_linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    linear_bias: Tensor | None,
    *,
    ignore_index: int,
    label_smoothing: float,
    z_loss: float,
    softcap: float | None,
) -> Tensor:
    """Per-token loss ``(N,)`` (float32, 0 at ignored tokens) computed by the Triton kernels.

    ``input`` ``(N, H)`` and ``linear_weight`` ``(V, H)`` must be contiguous and on the same
    device (CUDA, or CPU for the interpreter).
    """
    if not triton_available():
        raise LossInputError("impl", "'torch' or 'auto' (the triton package is not installed)", "'triton'")
    if input.device.type != "cuda" and not _interpreting():
        raise LossInputError(
            "impl",
            "'torch' or 'auto' for CPU tensors ('triton' needs CUDA tensors, or TRITON_INTERPRET=1 set "
            "before triton is first imported)",
            "'triton'",
        )
    return _TritonLinearCrossEntropy.apply(
        input.contiguous(), linear_weight.contiguous(),
        None if linear_bias is None else linear_bias.contiguous(), target.contiguous(),
        ignore_index, float(label_smoothing), float(z_loss), softcap,
    )  # fmt: skip
