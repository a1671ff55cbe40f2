"""Benchmark the metric-learning losses.

Run: ``python benchmarks/bench_embedding.py`` (``--repeats N``, ``--batch B``, ``--memory-batch B``,
``--threads T``; one thread by default, because on a shared machine multi-threaded timings swing
by an order of magnitude with the load).

1. In-batch triplet mining, forward + backward at B = 1024, D = 128 (256 classes x 4 samples),
   against pytorch-metric-learning (``BatchHardMiner`` + ``TripletMarginLoss``, same margin, same
   unnormalised Euclidean distance), when it is installed.
2. ``info_nce`` (plain and CLIP-symmetric) against a hand-written reference
   (``F.cross_entropy`` on the normalised similarity matrix).
3. Peak memory of the miners (forward + backward) at B = 4096, each measured in a fresh
   subprocess as the growth of its peak resident set size over the state right before the call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as TF

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import losskit

MARGIN = 0.2
DIM = 128
PER_CLASS = 4


def _inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, DIM, generator=gen)
    labels = (torch.arange(batch) // PER_CLASS)[torch.randperm(batch, generator=gen)]
    return x, labels


def _ours(mining: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return lambda x, y: losskit.triplet_loss(x, y, margin=MARGIN, mining=mining)


def _pml(kind: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    try:
        from pytorch_metric_learning import distances, losses, miners, reducers
    except ImportError:
        return None
    lp = distances.LpDistance(normalize_embeddings=False)
    if kind == "batch_hard":
        miner = miners.BatchHardMiner(distance=lp)
    else:
        miner = miners.TripletMarginMiner(margin=MARGIN, type_of_triplets="semihard", distance=lp)
    loss = losses.TripletMarginLoss(margin=MARGIN, distance=lp, reducer=reducers.MeanReducer())
    return lambda x, y: loss(x, y, miner(x, y))


def _times(fns: list[Callable[..., torch.Tensor]], *args: torch.Tensor, repeats: int) -> list[float]:
    """Median seconds of forward + backward of each function, interleaved to share the machine's noise."""
    leaves = [a.detach().clone().requires_grad_(a.is_floating_point()) for a in args]

    def once(fn: Callable[..., torch.Tensor]) -> float:
        for a in leaves:
            a.grad = None
        start = time.perf_counter()
        fn(*leaves).backward()
        return time.perf_counter() - start

    for fn in fns:
        once(fn)
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, samples, strict=True):
            out.append(once(fn))
    return [statistics.median(s) for s in samples]


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` memory field in KiB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _memory_probe(name: str, batch: int) -> None:
    """Run one miner once in this (fresh) process and print its peak resident-memory growth in MiB.

    On Linux the high-water mark (``VmHWM``) is reset right before the call by writing 5 to
    ``/proc/self/clear_refs``; elsewhere the growth of ``ru_maxrss`` is used.
    """
    x, labels = _inputs(batch)
    x.requires_grad_(True)
    fn = _pml("batch_hard") if name == "pml_batch_hard" else _ours(name)
    # Warm up allocator and thread pools on a small batch, then take the baseline.
    small_x, small_y = _inputs(64)
    fn(small_x.requires_grad_(True), small_y).backward()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before, field = _status_kib("VmRSS"), "VmHWM"
    except OSError:
        before, field = None, None
    if before is None:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn(x, labels).backward()
    after = _status_kib(field) if field else None
    if after is None:
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mib": (after - before) / 1024}))


def _peak_mib(name: str, batch: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-probe", name, "--memory-batch", str(batch)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--memory-batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (default 1: steadier on a shared machine)"
    )
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        _memory_probe(args.memory_probe, args.memory_batch)
        return

    print(f"Machine: {_machine()}")
    x, labels = _inputs(args.batch)
    pml_hard, pml_semi = _pml("batch_hard"), _pml("semihard")

    print(f"\nTriplet mining, forward + backward, B={args.batch}, D={DIM}, margin={MARGIN} (median ms)")
    print(f"{'loss':<28}{'losskit':>10}{'reference':>12}{'speed-up':>10}   reference")
    rows = [
        ("batch_hard", pml_hard, "PML BatchHardMiner + TripletMarginLoss"),
        ("semi_hard", pml_hard, "PML BatchHardMiner + TripletMarginLoss"),
        ("semi_hard", pml_semi, "PML TripletMarginMiner(semihard) + TripletMarginLoss"),
        ("batch_all", None, ""),
    ]
    for mining, ref, ref_name in rows:
        label = "triplet_loss " + mining
        if ref is None:
            (ours,) = _times([_ours(mining)], x, labels, repeats=args.repeats)
            print(f"{label:<28}{ours * 1e3:>10.1f}{'-':>12}{'-':>10}")
            continue
        ours, theirs = _times([_ours(mining), ref], x, labels, repeats=args.repeats)
        print(f"{label:<28}{ours * 1e3:>10.1f}{theirs * 1e3:>12.1f}{theirs / ours:>9.1f}x   {ref_name}")
    if pml_hard is not None:
        gap = (losskit.triplet_loss(x, labels, margin=MARGIN) - pml_hard(x, labels)).abs().item()
        print(f"batch_hard value |losskit - PML| = {gap:.2e}")

    q, k = _inputs(args.batch, seed=1)[0], _inputs(args.batch, seed=2)[0]
    target = torch.arange(args.batch)

    def reference(q: torch.Tensor, k: torch.Tensor, symmetric: bool) -> torch.Tensor:
        logits = TF.normalize(q, dim=1) @ TF.normalize(k, dim=1).T / 0.07
        loss = TF.cross_entropy(logits, target)
        return (loss + TF.cross_entropy(logits.T, target)) / 2 if symmetric else loss

    print(f"\ninfo_nce, forward + backward, N={args.batch}, D={DIM} (median ms)")
    print(f"{'loss':<28}{'losskit':>10}{'reference':>12}{'ratio':>10}")
    for symmetric in (False, True):
        ours, ref_t = _times(
            [
                lambda q, k, s=symmetric: losskit.info_nce(q, k, symmetric=s),
                lambda q, k, s=symmetric: reference(q, k, s),
            ],
            q,
            k,
            repeats=args.repeats,
        )
        name = "info_nce" + (" symmetric" if symmetric else "")
        print(f"{name:<28}{ours * 1e3:>10.1f}{ref_t * 1e3:>12.1f}{ref_t / ours:>9.2f}x")

    b = args.memory_batch
    print(f"\nPeak memory growth, forward + backward, B={b}, D={DIM} (MiB; one B x B float32 matrix is "
          f"{b * b * 4 / 2**20:.0f} MiB, a B x B x B one would be {b**3 * 4 / 2**30:.0f} GiB)")
    names = ["batch_hard", "semi_hard", "batch_all"] + (["pml_batch_hard"] if pml_hard is not None else [])
    for name in names:
        print(f"{name:<28}{_peak_mib(name, b):>10.0f}")


if __name__ == "__main__":
    main()
