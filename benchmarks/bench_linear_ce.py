"""Benchmark: fused linear cross-entropy against the plain path and PyTorch's chunked path.

One command runs every variant, each in its own subprocess (so peak memory is per variant):

* ``floor``: the three ``N x H x V`` matmuls alone (logits, grad of input, grad of weight): the
  arithmetic floor every variant is compared to, measured in the same run;
* ``plain``: ``F.linear`` then ``F.cross_entropy``, forward + backward;
* ``torch-chunked``: ``torch.nn.functional.linear_cross_entropy(..., options=LinearCrossEntropyOptions())``;
* ``losskit``: ``losskit.linear_cross_entropy`` with ``impl="auto"`` (the chunked PyTorch path on
  every device, CUDA included, until the Triton kernels are verified on a GPU); on CUDA also
  ``losskit-triton`` (``impl="triton"``, the unverified kernels);
* ``losskit-chunk<R>``: ``impl="torch"`` with ``R``-row chunks, e.g. ``losskit-chunk256``;
* ``losskit-budget<M>``: ``chunk_size=chunk_size_for_budget(M MiB, V)``, the memory-budget knob
  (``--variants`` with ``losskit-budget8,losskit-budget16,...`` gives the time/memory table);
* ``losskit-lazy``: ``impl="torch"`` with ``reduction="none"`` then ``.mean()``: the schedule that
  recomputes the logits in the backward instead of computing the gradients in the forward;
* on CUDA, when installed: ``liger`` (Liger Kernel's fused linear cross-entropy) and ``cce``
  (Apple's cut-cross-entropy).

Reported per variant: median forward+backward wall time over ``--reps`` timed runs (after one
warm-up run); its ratio to the matmul floor, where each timed run alternates with a run of the
floor in the same subprocess and the median of the per-pair ratios is shown (wall time, and
process CPU time as a second view: on a shared machine, the pairs see the same load); and the
peak memory above the inputs during one forward+backward, with its ratio to the unavoidable
memory (the gradients of input and weight; the ``O(N)`` vectors are ignored).

Peak memory on CPU: after the warm-up the process frees what it can (``malloc_trim``), resets the
kernel's resident-set high-water mark (``echo 5 > /proc/self/clear_refs``) and reads ``VmRSS``;
after one forward+backward (gradients kept) it reads ``VmHWM``; the difference is the peak above
the inputs, every allocation counted (PyTorch's, the BLAS library's, the allocator's slack). Where
``clear_refs`` cannot be written, the first (cold) run's ``ru_maxrss`` growth is used and the table
says so. On CUDA: ``torch.cuda.max_memory_allocated`` minus the allocated memory before the run.

``--phases`` instead times the phases of the chunked path (logits matmul, softmax passes, input-
gradient matmul, weight-gradient ``addmm_``) summed over the chunks, for several chunk sizes,
against the floor's three matmuls, in rounds (``--reps``): where the time goes.

Usage: ``python benchmarks/bench_linear_ce.py`` (CPU defaults N=4096, H=512, V=32768, float32;
CUDA defaults N=8192, H=4096, V=128256, bfloat16), ``--help`` for options.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

SRC = Path(__file__).resolve().parents[1] / "src"


# ----------------------------------------------------------------------------- worker side


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _reset_peak() -> bool:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _make_step(variant: str, x, w, t):
    import torch.nn.functional as F

    if variant == "plain":
        return lambda: F.cross_entropy(F.linear(x, w), t)
    if variant == "torch-chunked":
        opts = torch.nn.LinearCrossEntropyOptions()
        return lambda: F.linear_cross_entropy(x, w, t, options=opts)
    if variant.startswith("losskit"):
        sys.path.insert(0, str(SRC))
        import losskit

        if variant == "losskit-lazy":  # per-token losses: gradients recomputed in the backward
            return lambda: losskit.linear_cross_entropy(x, w, t, reduction="none", impl="torch").mean()
        if variant.startswith("losskit-chunk"):  # the time / memory trade-off of the chunk size
            chunk = int(variant.removeprefix("losskit-chunk"))
            return lambda: losskit.linear_cross_entropy(x, w, t, impl="torch", chunk_size=chunk)
        if variant.startswith("losskit-budget"):  # the same trade-off, stated as a memory budget
            from losskit.fused import chunk_size_for_budget

            budget = int(variant.removeprefix("losskit-budget")) * 2**20
            chunk = chunk_size_for_budget(budget, w.shape[0], w.dtype)
            return lambda: losskit.linear_cross_entropy(x, w, t, impl="torch", chunk_size=chunk)
        impl = "triton" if variant == "losskit-triton" else "auto"
        return lambda: losskit.linear_cross_entropy(x, w, t, impl=impl)
    if variant == "liger":
        from liger_kernel.transformers.fused_linear_cross_entropy import LigerFusedLinearCrossEntropyLoss

        fn = LigerFusedLinearCrossEntropyLoss()
        return lambda: fn(w, x, t)
    if variant == "cce":
        from cut_cross_entropy import linear_cross_entropy as cce

        return lambda: cce(x, w, t)
    raise ValueError(variant)


def _timed(fn, device: torch.device) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    _sync(device)
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return time.perf_counter() - w0, time.process_time() - c0


def _floor_step(x, w):
    xd, wd = x.detach(), w.detach()

    def run():
        logits = xd @ wd.T
        logits @ wd
        logits.T @ xd

    return run


def worker(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    g = torch.Generator(device="cpu").manual_seed(0)
    n, h, v = args.n, args.hidden, args.vocab
    x = torch.randn(n, h, generator=g).mul_(1.0).to(device=device, dtype=dtype).requires_grad_()
    w = torch.randn(v, h, generator=g).mul_(h**-0.5).to(device=device, dtype=dtype).requires_grad_()
    t = torch.randint(0, v, (n,), generator=g).to(device)
    floor = _floor_step(x, w)
    if args.variant == "floor":
        floor()
        runs = [_timed(floor, device) for _ in range(args.reps)]
        return {"time": statistics.median(r[0] for r in runs), "times": [r[0] for r in runs]}
    step = _make_step(args.variant, x, w, t)

    def fwd_bwd():
        x.grad = None
        w.grad = None
        loss = step()
        loss.backward()
        return loss

    cold_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loss = float(fwd_bwd())  # warm-up
    cold_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - cold_before
    x.grad = None
    w.grad = None
    # peak memory of one forward + backward
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fwd_bwd()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        method = "cuda max_memory_allocated"
    elif _reset_peak():
        base = _rss_kb("VmRSS")
        fwd_bwd()
        peak = (_rss_kb("VmHWM") - base) * 1024
        method = "VmHWM - VmRSS (clear_refs)"
    else:
        peak = cold_peak * 1024
        method = "ru_maxrss growth, cold run"
    # timing: the floor and the variant alternate, so each ratio compares runs made under the
    # same load (the machine may be shared)
    floor()
    pairs = [(_timed(floor, device), _timed(fwd_bwd, device)) for _ in range(args.reps)]
    return {
        "time": statistics.median(p[1][0] for p in pairs),
        "times": [p[1][0] for p in pairs],
        "floor_times": [p[0][0] for p in pairs],
        "ratio": statistics.median(p[1][0] / p[0][0] for p in pairs),
        "cpu_ratio": statistics.median(p[1][1] / p[0][1] for p in pairs),
        "peak": peak,
        "method": method,
        "loss": loss,
    }


def phases(args: argparse.Namespace) -> None:
    """Per-phase time of the chunked path, summed over the chunks, against the floor's matmuls."""
    sys.path.insert(0, str(SRC))
    from losskit.fused._torch import _Chunks, _Options

    g = torch.Generator().manual_seed(0)
    dtype = getattr(torch, args.dtype)
    x = torch.randn(args.n, args.hidden, generator=g).to(dtype)
    w = (torch.randn(args.vocab, args.hidden, generator=g) * args.hidden**-0.5).to(dtype)
    t = torch.randint(0, args.vocab, (args.n,), generator=g)

    def chunked(chunk: int) -> dict[str, float]:
        chunks = _Chunks(x, w, None, _Options(-100, 0.0, 0.0, None, chunk), args.n)
        gx, gw = torch.zeros_like(x), torch.zeros(w.shape, dtype=chunks.cdtype)
        spent = dict.fromkeys(("logits mm", "softmax passes", "grad_input mm", "grad_weight addmm_"), 0.0)
        for start in range(0, args.n, chunk):
            rows = slice(start, start + chunk)
            stamps = [time.perf_counter()]
            buf = chunks.logits(x[rows], t[rows], None)
            stamps.append(time.perf_counter())
            _, lse, logp_t = chunks.loss_stats(buf, t[rows], None, probs=True)
            d = chunks.dlogits(buf, t[rows], None, logp_t, lse)
            stamps.append(time.perf_counter())
            chunks.accumulate(d, x[rows], rows, None, gx, None, None)
            stamps.append(time.perf_counter())
            chunks.accumulate(d, x[rows], rows, None, None, gw, None)
            stamps.append(time.perf_counter())
            for key, step in zip(spent, _steps(stamps), strict=True):
                spent[key] += step
        return spent

    def floor() -> dict[str, float]:
        stamps = [time.perf_counter()]
        logits = x @ w.T
        stamps.append(time.perf_counter())
        logits @ w
        stamps.append(time.perf_counter())
        logits.T @ x
        stamps.append(time.perf_counter())
        return dict(zip(("logits mm", "grad_input mm", "grad_weight mm"), _steps(stamps), strict=True))

    sizes = [int(c) for c in args.chunks.split(",")]
    chunked(sizes[0])  # warm-up
    print(f"phases of the chunked path, N={args.n} H={args.hidden} V={args.vocab} {args.dtype}, seconds")
    for rnd in range(args.reps):
        f = floor()
        total = sum(f.values())
        print(f"round {rnd}, load {os.getloadavg()[0]:.1f}: floor " + _fmt(f) + f"  total {total:.2f}")
        for c in sizes:
            p = chunked(c)
            ratio = sum(p.values()) / total
            print(f"  chunk {c:>5}: " + _fmt(p) + f"  total {sum(p.values()):.2f}  x floor {ratio:.2f}")


def _steps(stamps: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(stamps)]


def _fmt(times: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in times.items())


# ----------------------------------------------------------------------------- driver side


def _available(variant: str, device: str) -> bool:
    if variant in ("liger", "cce", "losskit-triton"):
        if device != "cuda":
            return False
        module = {"liger": "liger_kernel", "cce": "cut_cross_entropy", "losskit-triton": "triton"}[variant]
        try:
            __import__(module)
        except ImportError:
            return False
    return True


def _run_variant(variant: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", variant]
    for key in ("n", "hidden", "vocab", "dtype", "device", "reps"):
        cmd += [f"--{key}", str(getattr(args, key))]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--vocab", type=int, default=None)
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--variants",
        default="floor,plain,torch-chunked,losskit,losskit-chunk256,losskit-lazy,losskit-triton,liger,cce",
    )
    parser.add_argument("--phases", action="store_true", help="time the chunked path's phases instead")
    parser.add_argument("--chunks", default="64,128,256,512", help="chunk sizes for --phases")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device == "cuda"
    args.n = args.n or (8192 if cuda else 4096)
    args.hidden = args.hidden or (4096 if cuda else 512)
    args.vocab = args.vocab or (128256 if cuda else 32768)
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    if args.phases:
        phases(args)
        return
    if args.worker:
        args.variant = args.worker
        print(json.dumps(worker(args)))
        return

    elt = torch.finfo(getattr(torch, args.dtype)).bits // 8
    unavoidable = (args.n * args.hidden + args.vocab * args.hidden) * elt
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    machine = torch.cuda.get_device_name() if cuda else cpu
    print(f"linear cross-entropy, N={args.n} H={args.hidden} V={args.vocab} {args.dtype} on {args.device} ({machine})")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average before {os.getloadavg()}")
    variants = [v for v in args.variants.split(",") if _available(v, args.device)]
    results = {v: _run_variant(v, args) for v in variants}
    print(f"unavoidable memory (grad of input + grad of weight): {unavoidable / 2**20:.1f} MiB")
    header = (
        f"{'variant':<15}{'fwd+bwd s':>11}{'x floor':>9}{'x floor cpu':>13}{'peak MiB':>10}{'x unavoid.':>11}"
        f"{'loss':>9}   runs (s) / floor runs (s)"
    )
    print(header)
    print("-" * len(header))
    for v, r in results.items():
        if "error" in r:
            print(f"{v:<15} failed: {r['error']}")
            continue
        runs = ", ".join(f"{s:.2f}" for s in r["times"])
        if v == "floor":
            print(f"{v:<15}{r['time']:>11.3f}{'1.00':>9}{'1.00':>13}{'-':>10}{'-':>11}{'-':>9}   {runs}")
            rate = 6 * args.n * args.hidden * args.vocab / r["time"]
            print(f"{'':<15}matmul rate of the floor in this run: {rate / 1e9:.1f} GFLOP/s (6 N H V / time)")
            continue
        floors = ", ".join(f"{s:.2f}" for s in r["floor_times"])
        print(
            f"{v:<15}{r['time']:>11.3f}{r['ratio']:>9.2f}{r['cpu_ratio']:>13.2f}{r['peak'] / 2**20:>10.1f}"
            f"{r['peak'] / unavoidable:>11.2f}{r['loss']:>9.4f}   {runs} / {floors}"
        )
    methods = {r["method"] for r in results.values() if "method" in r}
    print(f"peak memory method: {', '.join(sorted(methods))}; load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
