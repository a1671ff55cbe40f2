"""Vocabulary-parallel bookkeeping for the chunked linear cross-entropy (Megatron's scheme).

Each rank of a process group holds a contiguous block of the vocabulary rows of ``linear_weight``
(and ``linear_bias``): rank ``r`` holds the rows after those of ranks ``0 .. r-1``, in any sizes
(uneven shards allowed). Inputs and targets (global class ids) are the same on every rank. Per
chunk of tokens the ranks combine three row statistics with ``torch.distributed`` collectives:
the row maximum (``MAX``), then the sum of exponentials, the target logit (0 on ranks that do
not own the target) and, for label smoothing, the row sum of logits (one ``SUM``). See Shoeybi et
al., "Megatron-LM" (2019), section 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["VocabShard", "vocab_shard"]


@dataclass(frozen=True)
class VocabShard:
    """This rank's block of vocabulary rows: global rows ``[offset, offset + rows)`` of ``vocab``."""

    group: Any
    offset: int
    rows: int
    vocab: int

    def all_reduce(self, t: Tensor, op: Any = dist.ReduceOp.SUM) -> Tensor:
        dist.all_reduce(t, op=op, group=self.group)
        return t

    def local_targets(self, target: Tensor) -> tuple[Tensor, Tensor]:
        """Targets as row indices of this shard (clamped into range) and the mask of the owned ones."""
        local = target - self.offset
        owned = (local >= 0) & (local < self.rows)
        return local.clamp(0, self.rows - 1), owned


def vocab_shard(group: Any, rows: int, device: torch.device) -> VocabShard:
    """Exchange the shard sizes of every rank of ``group`` (one small all-reduce)."""
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    sizes = torch.zeros(world, dtype=torch.int64, device=device)
    sizes[rank] = rows
    dist.all_reduce(sizes, group=group)
    return VocabShard(group, int(sizes[:rank].sum()), rows, int(sizes.sum()))
