"""``all_reduce_num_items`` under torch.distributed (gloo, 2 CPU processes).

Each rank holds a different number of valid tokens; with the global count, DDP's gradient
averaging reproduces exactly the gradient of the full-batch token mean.
"""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import losskit


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 3, (10,), generator=g)
    t[[1, 2, 3, 7]] = -100  # rank 0 gets 3 valid items of 6, rank 1 gets 3 of 4
    return x, t


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3).double()


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        x, t = _data()
        part = slice(0, 6) if rank == 0 else slice(6, 10)
        model = torch.nn.parallel.DistributedDataParallel(_model())
        num_items = losskit.all_reduce_num_items(losskit.count_items(t[part]))
        loss = losskit.cross_entropy(model(x[part]), t[part], num_items=num_items)
        loss.backward()
        total = loss.detach().clone()
        dist.all_reduce(total)
        if rank == 0:
            torch.save({"grad": model.module.weight.grad, "loss": total, "num_items": num_items}, out)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_global_item_count_gives_full_batch_gradient_under_ddp(tmp_path):
    out = str(tmp_path / "rank0.pt")
    mp.spawn(_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    result = torch.load(out)
    x, t = _data()
    model = _model()
    full = losskit.cross_entropy(model(x), t)
    full.backward()
    assert result["num_items"].item() == 6 / 2  # 6 valid items, divided by the world size for DDP's mean
    torch.testing.assert_close(result["grad"], model.weight.grad)
    # the per-rank losses (each a share of the global mean, times world size) sum to 2x the full mean
    torch.testing.assert_close(result["loss"], 2 * full.detach())
