"""``info_nce(gather=True)`` across two gloo processes equals one process on the whole batch.

Two CPU processes each encode their share of a batch with the same (replicated) encoder, compute
``info_nce(..., gather=True)`` and back-propagate; their parameter gradients are then averaged
over ranks exactly as ``DistributedDataParallel`` does. The documented contract:

* the average of the ranks' losses is the one-process loss on the concatenated batch;
* the DDP-averaged parameter gradients are the one-process gradients;
* each rank's embeddings receive ``world_size`` times their one-process gradient (the gradient of
  the *sum* of the ranks' losses, which DDP's averaging divides back).

With unequal shares, ``num_items=all_reduce_num_items(local_rows)`` restores the same contract.
"""

from __future__ import annotations

import datetime
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import losskit

WORLD = 2
IN_DIM, DIM = 5, 4
SCENARIOS = {
    # name: (rows per rank, symmetric)
    "equal": ((4, 4), False),
    "equal-clip": ((4, 4), True),
    "unequal-clip": ((3, 6), True),
}


def _data(total: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(IN_DIM, DIM, generator=gen, dtype=torch.float64)
    x = torch.randn(total, IN_DIM, generator=gen, dtype=torch.float64)
    y = x + 0.3 * torch.randn(total, IN_DIM, generator=gen, dtype=torch.float64)
    return weight, x, y


def _step(weight, x, y, *, symmetric, gather, num_items=None):
    """Encode with the shared weight, compute the loss; return loss, weight grad, embedding grads."""
    w = weight.clone().requires_grad_(True)
    q = (x @ w).detach().requires_grad_(True)
    k = (y @ w).detach().requires_grad_(True)
    loss = losskit.info_nce(q, k, temperature=0.2, symmetric=symmetric, gather=gather, num_items=num_items)
    gq, gk = torch.autograd.grad(loss, (q, k))
    # Chain rule by hand into the encoder, so the embedding gradients are observable too.
    (gw,) = torch.autograd.grad((x @ w, y @ w), (w,), (gq, gk))
    return loss.detach(), gw, gq, gk


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        results = {}
        for seed, (name, (rows, symmetric)) in enumerate(SCENARIOS.items()):
            weight, x, y = _data(sum(rows), seed)
            start = sum(rows[:rank])
            local = slice(start, start + rows[rank])
            num_items = None if rows[0] == rows[1] else losskit.all_reduce_num_items(rows[rank])
            loss, gw, gq, gk = _step(weight, x[local], y[local], symmetric=symmetric, gather=True, num_items=num_items)
            dist.all_reduce(gw)  # DistributedDataParallel: average the gradients over ranks
            results[name] = {"loss": loss, "grad_weight": gw / WORLD, "grad_q": gq, "grad_k": gk}
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gathered_info_nce_matches_one_process(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for seed, (name, (rows, symmetric)) in enumerate(SCENARIOS.items()):
        weight, x, y = _data(sum(rows), seed)
        loss, gw, gq, gk = _step(weight, x, y, symmetric=symmetric, gather=False)
        got = [r[name] for r in ranks]
        # With unequal rows, num_items (global count / world size) makes each rank's loss its sum
        # over that count, so the average over ranks is again the global mean.
        torch.testing.assert_close(sum(g["loss"] for g in got) / WORLD, loss, msg=name)
        for g in got:
            torch.testing.assert_close(g["grad_weight"], gw, msg=name)
        torch.testing.assert_close(torch.cat([g["grad_q"] for g in got]), WORLD * gq, msg=name)
        torch.testing.assert_close(torch.cat([g["grad_k"] for g in got]), WORLD * gk, msg=name)
