"""Vocabulary-parallel linear_cross_entropy (``process_group=``) under gloo, 2 and 3 CPU processes.

Each rank holds an uneven block of the vocabulary rows of the weight and bias; inputs and targets
(global ids) are the same on every rank. For every option and reduction the loss on each rank, the
all-reduced input gradient and the concatenated weight/bias shard gradients must equal those of
the plain path with the whole weight in float64 (``test_linear_ce.reference``: PyTorch's own
cross-entropy on materialised logits).
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from losskit import LossInputError
from losskit.functional import linear_cross_entropy
from test_linear_ce import IGN, make, reference

N, H, V = 13, 6, 37
SHARDS = {2: [20, 17], 3: [10, 15, 12]}  # uneven rows per rank

# (name, options of linear_cross_entropy, reference keywords, reduction, chunk_size)
CASES = [
    ("plain-mean", {}, {}, "mean", None),
    ("plain-sum-chunk4", {}, {}, "sum", 4),
    ("bias-none", {"bias": True}, {}, "none", 4),
    ("smoothing", {"label_smoothing": 0.1}, {"eps": 0.1}, "mean", 4),
    ("z-loss-none", {"z_loss": 0.05}, {"zl": 0.05}, "none", 3),
    ("softcap", {"softcap": 2.0}, {"cap": 2.0}, "sum", 4),
    (
        "all-options-none",
        {"bias": True, "label_smoothing": 0.2, "z_loss": 0.01, "softcap": 3.0},
        {"eps": 0.2, "zl": 0.01, "cap": 3.0},
        "none",
        5,
    ),
    (
        "all-options-mean",
        {"bias": True, "label_smoothing": 0.2, "z_loss": 0.01, "softcap": 3.0},
        {"eps": 0.2, "zl": 0.01, "cap": 3.0},
        "mean",
        None,
    ),
    ("num-items", {"num_items": 25}, {"num_items": 25}, "mean", 4),
    ("ignore-index-7", {"ignore_index": 7}, {"ignore_index": 7}, "mean", 4),
    ("all-ignored", {"all_ignored": True}, {}, "mean", 4),
]


def _inputs(opts):
    x, w, b, t = make(n=N, h=H, v=V, bias=opts.get("bias", False), ignored=(2, 7, 8))
    if "ignore_index" in opts:
        t = torch.where(t == IGN, torch.full_like(t, opts["ignore_index"]), t)
        t[0] = opts["ignore_index"]
    if opts.get("all_ignored"):
        t.fill_(IGN)
    return x, w, b, t


def _confident_bf16():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(V, H, generator=g) / H**0.5
    t = torch.randint(0, V, (N,), generator=g)
    x = 9.0 * w[t] + 0.1 * torch.randn(N, H, generator=g)
    return x.bfloat16().requires_grad_(), w.bfloat16().requires_grad_(), t


def _grad_out(reduction):
    return torch.linspace(-1.0, 2.0, N, dtype=torch.float64) if reduction == "none" else torch.tensor(0.7)


def _kwargs(opts, reduction, chunk):
    kw = {k: v for k, v in opts.items() if k not in ("bias", "all_ignored")}
    return {**kw, "reduction": reduction, "chunk_size": chunk}


def _worker(rank: int, world: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        sizes = SHARDS[world]
        lo, hi = sum(sizes[:rank]), sum(sizes[: rank + 1])
        results = {}
        for name, opts, _, reduction, chunk in CASES:
            x, w, b, t = _inputs(opts)
            w_r = w.detach()[lo:hi].clone().requires_grad_()
            b_r = None if b is None else b.detach()[lo:hi].clone().requires_grad_()
            out = linear_cross_entropy(
                x, w_r, t, linear_bias=b_r, process_group=dist.group.WORLD, **_kwargs(opts, reduction, chunk)
            )
            params = [p for p in (x, w_r, b_r) if p is not None]
            grads = torch.autograd.grad((out * _grad_out(reduction)).sum(), params)
            results[name] = (out.detach(), *grads)
        # bf16, confident predictions: the exact float32 target logit comes from the owning rank
        x, w, t = _confident_bf16()
        w_r = w.detach()[lo:hi].clone().requires_grad_()
        out = linear_cross_entropy(x, w_r, t, process_group=dist.group.WORLD, chunk_size=4)
        results["bf16"] = (out.detach(), *torch.autograd.grad(out, (x, w_r)))
        with pytest.raises(LossInputError, match="`impl`"):
            linear_cross_entropy(x, w_r, t, process_group=dist.group.WORLD, impl="triton")
        torch.save(results, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("world", [2, 3])
def test_vocab_parallel_matches_whole_weight(world, tmp_path):
    mp.spawn(_worker, args=(world, _free_port(), str(tmp_path)), nprocs=world, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]
    for name, opts, ref_kw, reduction, _ in CASES:
        x, w, b, t = _inputs(opts)
        ref = reference(x, w, t, b, reduction=reduction, **ref_kw)
        params = [p for p in (x, w, b) if p is not None]
        want = torch.autograd.grad((ref * _grad_out(reduction)).sum(), params)
        for r, res in enumerate(ranks):
            out, gx = res[name][:2]
            torch.testing.assert_close(out, ref.detach(), rtol=1e-10, atol=1e-12, msg=f"{name} loss, rank {r}")
            torch.testing.assert_close(gx, want[0], rtol=1e-9, atol=1e-12, msg=f"{name} grad_input, rank {r}")
        for i, full in enumerate(want[1:], start=1):
            got = torch.cat([res[name][1 + i] for res in ranks])
            torch.testing.assert_close(got, full, rtol=1e-9, atol=1e-12, msg=f"{name} shard gradients {i}")

    x, w, t = _confident_bf16()
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    ref = reference(x64, w64, t)
    rx, rw = torch.autograd.grad(ref, (x64, w64))
    for res in ranks:
        assert res["bf16"][0].dtype == torch.bfloat16
        torch.testing.assert_close(res["bf16"][0].double(), ref.detach(), rtol=2e-2, atol=0)
        assert (res["bf16"][1].double() - rx).norm() / rx.norm() < 2e-2
    gw = torch.cat([res["bf16"][2] for res in ranks]).double()
    assert (gw - rw).norm() / rw.norm() < 2e-2
