"""Data-parallel training under ``torchrun``: process group, batch sharding, gathered evaluation.

Every rank draws the same seeded permutation of the training rows and takes every
``world_size``-th row of each *global* batch. Each rank's loss is divided by the global item
count (:func:`losskit.all_reduce_num_items`, which already divides by the world size to undo
DDP's gradient averaging), so one step equals the single-process step on the whole global batch.
Evaluation splits the rows into contiguous shards and gathers the outputs back in order, so
every rank sees the same validation loss and makes the same early-stopping decision.

Every collective waits at most ``timeout`` seconds (the process group's timeout, default
:data:`DEFAULT_TIMEOUT`): a rank that stalls or dies makes the others fail with a
``RuntimeError`` from torch.distributed instead of hanging for gloo's default 30 minutes. The
last wait of a run covers rank 0 writing the artefacts, so keep the timeout above that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from losskit._errors import LossInputError

__all__ = ["DEFAULT_TIMEOUT", "DistContext", "setup"]

DEFAULT_TIMEOUT = 300.0  # seconds


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` (``0`` of ``1`` when not distributed)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")  # noqa: RUF009 (immutable default)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def local_rows(self, global_batch: Tensor) -> Tensor:
        """This rank's share of one global batch of row indices."""
        return global_batch[self.rank :: self.world_size]

    def wrap(self, model: nn.Module) -> nn.Module:
        """``DistributedDataParallel(model)`` when distributed, else ``model``."""
        if not self.active:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over ranks."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def gather_apply(self, fn, x: Tensor) -> Tensor:
        """``fn(x)`` computed shard by shard across ranks and gathered back in row order."""
        if not self.active:
            return fn(x)
        bounds = np.linspace(0, x.shape[0], self.world_size + 1).astype(int)
        sizes = np.diff(bounds)
        local = fn(x[bounds[self.rank] : bounds[self.rank + 1]].to(self.device))
        pad = torch.zeros((int(sizes.max()), *local.shape[1:]), dtype=local.dtype, device=self.device)
        pad[: local.shape[0]] = local
        parts = [torch.empty_like(pad) for _ in range(self.world_size)]
        dist.all_gather(parts, pad)
        return torch.cat([p[: int(s)] for p, s in zip(parts, sizes, strict=True)]).cpu()

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def setup(distributed: bool, *, timeout: float = DEFAULT_TIMEOUT) -> DistContext:
    """Join the process group ``torchrun`` prepared (gloo on CPU, nccl on CUDA), or stay single-process.

    ``timeout`` (seconds) bounds every collective of the group, joining included.
    """
    if not distributed:
        return DistContext(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise LossInputError("distributed", "a launch under torchrun (RANK and WORLD_SIZE set)", "a plain process")
    if not timeout > 0:
        raise LossInputError("timeout", "a positive number of seconds", timeout)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout))
    return DistContext(rank=rank, world_size=world, device=device)
