"""Segmentation losses against segmentation_models_pytorch and MONAI: forward + backward time
and peak memory.

Run: ``python benchmarks/bench_segmentation.py`` (the issue's shape, logits (8, 21, 512, 512)),
``--small`` (or ``--quick``, as ``run_all.py`` passes it) for (2, 21, 128, 128), or
``--shape N C H W``; ``--rows dice,dice_ce,lovasz`` selects rows.

Time: the variants of a row run round-robin in one process (so a change of load on a shared
machine hits all of them alike), forward + backward on float32 logits and class-index targets,
one warm-up and then ``--repeats`` rounds; the median is reported. Peak memory: each variant
once more in a fresh process, after a warm-up, the resident memory one forward + backward adds
on top of its inputs (the peak resident size ``VmHWM``, reset through ``/proc/self/clear_refs``,
minus the resident size before; on CUDA ``torch.cuda.max_memory_allocated``), so that one
variant's allocations never count for another. Linux only on CPU, where the worker runs with
``MALLOC_MMAP_THRESHOLD_=131072`` so that freed tensors leave the resident set.
segmentation_models_pytorch's loss classes are imported without its model zoo (see
``tests/segmentation_oracles.py``).

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


def _inputs(shape: list[int], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, w, generator=gen).to(device).requires_grad_()
    return x, torch.randint(0, c, (n, h, w), generator=gen).to(device)


def _stepper(name: str, x: torch.Tensor, t: torch.Tensor, device: str):
    fn = _loss_fn(name)

    def step():
        x.grad = None
        fn(x, t).backward()
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def _times(names: list[str], shape: list[int], repeats: int, device: str) -> list[float]:
    """Median seconds per forward + backward of each variant, run round-robin."""
    x, t = _inputs(shape, device)
    steps = [_stepper(name, x, t, device) for name in names]
    for step in steps:
        step()  # warm-up
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for i, step in enumerate(steps):
            start = time.perf_counter()
            step()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _peak(name: str, shape: list[int], device: str) -> int:
    """Bytes the loss adds at its peak over its inputs (run in a fresh process, after a warm-up)."""
    x, t = _inputs(shape, device)
    step = _stepper(name, x, t, device)
    step()  # warm-up: lazy initialisation is not the loss's memory
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        return torch.cuda.max_memory_allocated() - base
    x.grad = None
    with open("/proc/self/clear_refs", "w") as f:  # Linux: reset the peak resident size (VmHWM)
        f.write("5")
    base = _status_kib("VmRSS")
    step()
    return (_status_kib("VmHWM") - base) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", "--quick", action="store_true", help="shape (2, 21, 128, 128)")
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
        print(json.dumps(_peak(args.worker, shape, args.device)))
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {list(ROWS)}")
    print(f"shape {tuple(shape)}, device {args.device}, {args.threads} threads, median of {args.repeats}")
    print(f"{'variant':40s} {'time (ms)':>10s} {'peak (MiB)':>11s}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    # glibc: every block over 128 KiB gets its own mapping, returned on free, so the resident size
    # follows the live tensors (otherwise freed blocks stay resident and hide later peaks)
    env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    for row in rows:
        seconds = _times(ROWS[row], shape, args.repeats, args.device)
        for name, sec in zip(ROWS[row], seconds, strict=True):
            command = [sys.executable, __file__, "--worker", name, "--shape", *map(str, shape)]
            command += ["--device", args.device, "--threads", str(args.threads)]
            out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            peak = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{name:40s} {1e3 * sec:10.1f} {peak / 2**20:11.1f}")


if __name__ == "__main__":
    main()
