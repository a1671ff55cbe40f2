"""Fused linear cross-entropy: ``cross_entropy(input @ linear_weight.T + linear_bias, target)``
without materialising the ``N x V`` logits.

Reference implementations live in :mod:`losskit.fused` (chunked PyTorch, Triton kernels); this
module validates the arguments, picks the implementation and applies the shared reduction rule.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from losskit._compile import compile_disabled
from losskit._errors import LossInputError
from losskit._numerics import restore
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_choice,
    check_class_indices,
    check_float,
    check_has_values,
    check_input,
    check_integer,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_scalar_range,
    describe,
)

__all__ = ["linear_cross_entropy"]

IMPLS = ("auto", "torch", "triton")


def _check(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    linear_bias: Tensor | None,
    label_smoothing: float,
    z_loss: float,
    softcap: float | None,
    reduction: str,
    chunk_size: int | None,
    impl: str,
    ignore_index: int,
    process_group: Any,
) -> None:
    check_input("input", input)
    check_input("linear_weight", linear_weight)
    check_same_device("linear_weight", linear_weight, input)
    if linear_weight.dim() != 2:
        raise LossInputError("linear_weight", "a 2-d tensor (V, H)", describe(linear_weight))
    if input.dim() < 1 or input.shape[-1] != linear_weight.shape[1]:
        expected = f"of shape (..., {linear_weight.shape[1]}) (H from linear_weight)"
        raise LossInputError("input", expected, describe(input))
    if input.dtype != linear_weight.dtype:
        raise LossInputError("linear_weight", f"of the input's dtype {input.dtype}", describe(linear_weight))
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_integer("target", target)
    check_same_device("target", target, input)
    check_has_values("target", target, "the chunks keep only the rows whose target is not ignored")
    check_same_shape("target", target, input.shape[:-1], "input without its last dimension")
    if linear_bias is not None:
        check_float("linear_bias", linear_bias)
        check_same_device("linear_bias", linear_bias, input)
        check_same_shape("linear_bias", linear_bias, linear_weight.shape[:1], "(V,) from linear_weight")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise LossInputError("ignore_index", "an int", repr(ignore_index))
    check_scalar_range("label_smoothing", label_smoothing, 0.0, 1.0, high_inclusive=False)
    check_scalar_range("z_loss", z_loss, 0.0)
    if softcap is not None:
        check_scalar_range("softcap", softcap, 0.0, low_inclusive=False)
    check_reduction(reduction)
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise LossInputError("chunk_size", "None or a positive int", repr(chunk_size))
    check_choice("impl", impl, IMPLS)
    if process_group is not None:
        if not torch.distributed.is_available() or not torch.distributed.is_initialized():
            raise LossInputError("process_group", "None, or a group of an initialised torch.distributed", "a group")
        if impl == "triton":
            raise LossInputError("impl", "'torch' or 'auto' with a process_group", repr(impl))
        if linear_weight.shape[0] == 0:
            raise LossInputError("linear_weight", "at least one vocabulary row on every rank", describe(linear_weight))


# What the Triton kernels have not been through. Until they have, ``impl="auto"`` keeps CUDA tensors
# on the chunked PyTorch path and ``impl="triton"`` warns once per process.
UNVERIFIED_ON_GPU = (
    "losskit's Triton linear cross-entropy kernels have been tested only in Triton's CPU interpreter: "
    "they have not been run on a CUDA device (no CUDA test run, no native bf16/fp16 tl.dot, no "
    "benchmark, untuned tiles); impl='torch' (the default on CUDA) is the verified path"
)
_warned_unverified = False


def _use_triton(impl: str, device: torch.device) -> bool:
    """``"auto"`` always takes the chunked PyTorch path for now (see ``UNVERIFIED_ON_GPU``)."""
    global _warned_unverified
    if impl != "triton":
        return False
    if device.type == "cuda" and not _warned_unverified:
        _warned_unverified = True
        warnings.warn(UNVERIFIED_ON_GPU, UserWarning, stacklevel=3)
    return True


@compile_disabled
def linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    *,
    linear_bias: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    softcap: float | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
    chunk_size: int | None = None,
    impl: str = "auto",
    process_group: Any = None,
) -> Tensor:
    r"""Cross-entropy of a linear head, ``cross_entropy(linear(input, W, b), target)``, fused.

    The ``N x V`` logits are never materialised: ``impl="torch"`` walks the tokens in chunks of
    ``chunk_size`` rows (one ``chunk x V`` buffer alive at a time) and ``impl="triton"`` keeps
    ``BLOCK_M x BLOCK_V`` tiles on chip. Per token, with logits
    :math:`z = \mathrm{softcap}\cdot\tanh((W x + b)/\mathrm{softcap})` (no cap when ``softcap`` is
    None), :math:`\mathrm{lse} = \log\sum_j e^{z_j}`, target :math:`t`, smoothing :math:`\epsilon`:

    .. math::
        \ell = (1-\epsilon)(\mathrm{lse} - z_t) + \epsilon\,(\mathrm{lse} - \tfrac{1}{V}\sum_j z_j)
               + \mathrm{z\_loss}\cdot \mathrm{lse}^2

    Tokens whose target equals ``ignore_index`` contribute 0 and do not count for ``"mean"``; an
    all-ignored (or empty) batch gives 0, connected to the graph. ``num_items`` replaces the local
    count of ``"mean"`` (gradient accumulation, see :func:`losskit.count_items`).

    Args:
        input: hidden states ``(..., H)``.
        linear_weight: output projection ``(V, H)`` (the ``weight`` of ``nn.Linear(H, V)``), same
            dtype as ``input``.
        target: class indices ``(...)`` (``input.shape[:-1]``).
        linear_bias: optional bias ``(V,)``.
        ignore_index: target value to ignore.
        label_smoothing: :math:`\epsilon \in [0, 1)` (uniform smoothing, as in PyTorch).
        z_loss: weight of the squared log-partition penalty (PaLM, Chowdhery et al. 2022).
        softcap: logit soft-cap ``c > 0``: logits become ``c * tanh(logits / c)`` (Gemma 2).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``input.shape[:-1]``).
        num_items: denominator of ``"mean"`` instead of the local number of valid tokens.
        chunk_size: rows per chunk for ``impl="torch"`` (default
            :func:`losskit.fused.default_chunk_size`: ``H / 4`` rows for float32, so the chunk
            buffer stays within a quarter of the float32 weight gradient). To trade memory for
            time, give the chunk buffer a budget: ``chunk_size=chunk_size_for_budget(bytes, V)``
            (:func:`losskit.fused.chunk_size_for_budget`; measured table in ``docs/fused.md``).
        impl: ``"torch"`` (chunked PyTorch), ``"triton"`` (Triton kernels; CUDA tensors, or CPU
            tensors through Triton's interpreter when ``TRITON_INTERPRET=1`` was set before Triton
            was imported, for testing; on CUDA it warns once that the kernels have not been run on
            a GPU), ``"auto"`` (the chunked PyTorch path on every device, CUDA included, until the
            Triton kernels have passed the tests and the benchmark on a CUDA device).
        process_group: a ``torch.distributed`` group across which ``linear_weight`` (and
            ``linear_bias``) is sharded by vocabulary rows (tensor parallelism): rank ``r`` of the
            group holds the rows after those of ranks ``0 .. r-1`` (any sizes), ``input`` and
            ``target`` (global class ids) are the same on every rank. Every rank gets the
            full-vocabulary loss and the full input gradient (all-reduced); each keeps the
            gradient of its own rows. Chunked PyTorch path only; the ranks must make the same
            calls with the same ``chunk_size``.

    Returns:
        The reduced loss (scalar) or per-token losses, in ``input``'s dtype. Half-precision inputs
        are computed in float32 (log-sum-exp, the logit gradients, the weight-gradient
        accumulation) and the gradients come back in the parameters' dtypes.

    Notes:
        The function is excluded from ``torch.compile`` tracing (``torch.compiler.disable``):
        compiling a model around it works, with a graph break at the loss. Higher-order gradients
        are not supported. With ``reduction="none"`` the gradients are recomputed in the backward
        (one more ``N x H x V`` matmul) so that any per-token ``grad_output`` is exact.

    Reference:
        Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models" (2024);
        Hsu et al., "Liger Kernel" (2024).
    """
    _check(
        input,
        linear_weight,
        target,
        linear_bias,
        label_smoothing,
        z_loss,
        softcap,
        reduction,
        chunk_size,
        impl,
        ignore_index,
        process_group,
    )
    shard = None
    if process_group is not None:
        from losskit.fused._parallel import vocab_shard

        shard = vocab_shard(process_group, linear_weight.shape[0], linear_weight.device)
    check_class_indices("target", target, linear_weight.shape[0] if shard is None else shard.vocab, ignore_index)
    x = input.reshape(-1, input.shape[-1])
    if not x.is_contiguous():
        x = x.contiguous()
    tgt = target.reshape(-1)
    bias = None if linear_bias is None else linear_bias.to(linear_weight.dtype)
    if _use_triton(impl, x.device):
        from losskit.fused._triton import triton_linear_cross_entropy

        per_token = triton_linear_cross_entropy(
            x, linear_weight, tgt, bias,
            ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
        )  # fmt: skip
    else:
        from losskit.fused._torch import chunked_linear_cross_entropy

        per_token = chunked_linear_cross_entropy(
            x, linear_weight, tgt, bias,
            ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
            chunk_size=chunk_size, eager=reduction != "none", shard=shard,
        )  # fmt: skip
    out = reduce_loss(per_token, reduction=reduction, mask=tgt != ignore_index, num_items=num_items)
    if reduction == "none":
        out = out.reshape(target.shape)
    return restore(out, input)
