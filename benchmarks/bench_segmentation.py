"""Segmentation losses against segmentation_models_pytorch and MONAI: forward + backward time
and peak memory.

Run: ``python benchmarks/bench_segmentation.py`` (the issue's shape, logits (8, 21, 512, 512)),
``--small`` for (2, 21, 128, 128), or ``--shape N C H W``; ``--rows dice,dice_ce,lovasz``
selects rows.

Each variant runs in its own process (so one variant's allocations never count for another):
it builds float32 logits and class-index targets, runs forward + backward once to warm up, then
``--repeats`` times, and reports the median wall time and the peak resident memory the loss
added on top of its inputs (``ru_maxrss`` after minus before; on CUDA,
``torch.cuda.max_memory_allocated`` instead). segmentation_models_pytorch's loss classes are
imported without its model zoo (see ``tests/segmentation_oracles.py``).

Rows (same semantics per row):
* ``dice``: losskit ``dice_loss(batch=True)`` / smp ``DiceLoss("multiclass")``, and
  losskit ``dice_loss(classes="all")`` / MONAI ``DiceLoss(softmax=True, to_onehot_y=True)``.
* ``dice_ce``: losskit ``dice_ce_loss`` / MONAI ``DiceCELoss``.
* ``lovasz``: losskit ``lovasz_softmax_loss(batch=True)`` / smp ``LovaszLoss("multiclass")``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

ROWS = {
    "dice": ["losskit dice_loss (batch)", "smp DiceLoss", "losskit dice_loss (per image, all)", "monai DiceLoss"],
    "dice_ce": ["losskit dice_ce_loss", "monai DiceCELoss"],
    "lovasz": ["losskit lovasz_softmax_loss (batch)", "smp LovaszLoss"],
}


def _loss_fn(name: str):
    import losskit

    if name.startswith("losskit"):
        return {
            "losskit dice_loss (batch)": lambda x, t: losskit.dice_loss(x, t, batch=True),
            "losskit dice_loss (per image, all)": lambda x, t: losskit.dice_loss(x, t, classes="all"),
            "losskit dice_ce_loss": lambda x, t: losskit.dice_ce_loss(x, t, classes="all"),
            "losskit lovasz_softmax_loss (batch)": lambda x, t: losskit.lovasz_softmax_loss(x, t, batch=True),
        }[name]
    if name.startswith("smp"):
        from segmentation_oracles import smp_losses

        smp = smp_losses()
        module = smp.DiceLoss("multiclass") if name == "smp DiceLoss" else smp.LovaszLoss("multiclass")
        return module
    from segmentation_oracles import monai_losses

    monai = monai_losses()
    cls = monai.DiceLoss if name == "monai DiceLoss" else monai.DiceCELoss
    module = cls(softmax=True, to_onehot_y=True, smooth_nr=0.0, smooth_dr=1e-7)
    return lambda x, t: module(x, t.unsqueeze(1))


def _worker(name: str, shape: list[int], repeats: int, device: str) -> dict:
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, w, generator=gen).to(device).requires_grad_()
    t = torch.randint(0, c, (n, h, w), generator=gen).to(device)
    fn = _loss_fn(name)

    def step():
        x.grad = None
        fn(x, t).backward()
        if device == "cuda":
            torch.cuda.synchronize()

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step()  # warm-up, and the peak
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"name": name, "seconds": statistics.median(times), "peak_bytes": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="shape (2, 21, 128, 128)")
    parser.add_argument("--shape", type=int, nargs=4, metavar=("N", "C", "H", "W"))
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated: " + ", ".join(ROWS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads per variant")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = args.shape or ([2, 21, 128, 128] if args.small else [8, 21, 512, 512])
    torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(_worker(args.worker, shape, args.repeats, args.device)))
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {list(ROWS)}")
    print(f"shape {tuple(shape)}, device {args.device}, {args.threads} threads, median of {args.repeats}")
    print(f"{'variant':40s} {'time (ms)':>10s} {'peak (MiB)':>11s}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    for row in rows:
        for name in ROWS[row]:
            command = [sys.executable, __file__, "--worker", name, "--shape", *map(str, shape)]
            command += ["--repeats", str(args.repeats), "--device", args.device, "--threads", str(args.threads)]
            out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{name:40s} {1e3 * result['seconds']:10.1f} {result['peak_bytes'] / 2**20:11.1f}")


if __name__ == "__main__":
    main()
