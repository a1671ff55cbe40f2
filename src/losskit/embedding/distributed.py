"""Gathering embeddings across ``torch.distributed`` ranks with gradients that flow back.

``torch.distributed.all_gather`` returns tensors outside the autograd graph, so a loss computed
on gathered keys sends no gradient to the ranks that produced them. :func:`all_gather_with_grad`
concatenates every rank's rows (ranks may hold different numbers of rows) and, in backward, sums
the incoming gradients over ranks and hands each rank the slice of its own rows: each rank's
inputs receive the gradient of the *sum* of all ranks' losses (as in open_clip's "local loss").
With ``DistributedDataParallel``, which averages gradients over ranks, the parameters then get
the gradient of the average of the ranks' losses, which is the one-process gradient on the
concatenated batch when each rank's loss is its local mean over equally many rows.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["all_gather_with_grad", "distributed_world"]


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` when there is none."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _AllGatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, sizes: list[int], rank: int) -> Tensor:  # type: ignore[override]
        padded = x.new_zeros((max(sizes), *x.shape[1:]))
        padded[: x.shape[0]] = x
        buffers = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(buffers, padded.contiguous())
        ctx.sizes, ctx.rank = sizes, rank
        return torch.cat([b[:s] for b, s in zip(buffers, sizes, strict=True)])

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return total[start : start + ctx.sizes[ctx.rank]], None, None


def all_gather_with_grad(x: Tensor) -> tuple[Tensor, int]:
    """Concatenate ``x`` (rows on dim 0) from every rank, in rank order.

    Returns:
        ``(gathered, offset)``: the ``(sum of rows, ...)`` tensor and the row at which this
        rank's own rows start. Without an initialised process group (or with one rank) it is
        ``(x, 0)``.
    """
    rank, world = distributed_world()
    if world == 1:
        return x, 0
    size = torch.tensor([x.shape[0]], dtype=torch.int64, device=x.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    return _AllGatherRows.apply(x, counts, rank), sum(counts[:rank])
