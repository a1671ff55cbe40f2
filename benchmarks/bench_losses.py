"""Core losses: forward+backward time against PyTorch and hand-written composites.

One command: ``python benchmarks/bench_losses.py`` (``--quick`` for small sizes).

Time: all variants of a row run in one subprocess, interleaved round-robin (A, B, C, A, B, C,
...), so that a slow spell of a shared machine hits every variant alike; the ratio is the median
over rounds of (variant time / first variant's time in the same round). Peak memory: every
variant in its own subprocess (growth of the resident set during one forward+backward, inputs
excluded). The "no validation" variants show the cost of the value checks.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import losskit  # noqa: E402

# --------------------------------------------------------------------------- reference composites


def handwritten_binary_focal(x, y, gamma=2.0, alpha=0.25):
    """The focal loss people write by hand (torchvision's formula)."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss.mean()


def handwritten_focal(x, t, gamma=2.0):
    logp = torch.log_softmax(x, dim=1).gather(1, t.unsqueeze(1)).squeeze(1)
    return (-((1 - logp.exp()) ** gamma) * logp).mean()


def handwritten_log_cosh(x, y):
    return torch.log(torch.cosh(x - y)).mean()  # overflows for |x - y| > 89 in float32


QUANTILES = (0.1, 0.5, 0.9)


def handwritten_pinball(x, y):
    d = y.unsqueeze(-1) - x
    q = torch.tensor(QUANTILES)
    return torch.maximum(q * d, (q - 1) * d).mean()


# --------------------------------------------------------------------------- variants


def _binary_inputs(n):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, generator=g) * 3, (torch.rand(n, generator=g) > 0.9).float()


def _multiclass_inputs(n, c):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g)


VARIANTS = {
    # row: {variant: (input maker, loss callable)}
    "mse (4M)": {
        "torch": ("reg", lambda x, y: F.mse_loss(x, y)),
        "losskit": ("reg", lambda x, y: losskit.mse_loss(x, y)),
    },
    "mae (4M)": {
        "torch": ("reg", lambda x, y: F.l1_loss(x, y)),
        "losskit": ("reg", lambda x, y: losskit.mae_loss(x, y)),
    },
    "smooth_l1 (4M)": {
        "torch": ("reg", lambda x, y: F.smooth_l1_loss(x, y)),
        "losskit": ("reg", lambda x, y: losskit.smooth_l1_loss(x, y)),
    },
    "log_cosh (4M)": {
        "hand-written": ("reg", handwritten_log_cosh),
        "losskit": ("reg", lambda x, y: losskit.log_cosh_loss(x, y)),
    },
    "pinball (1.4M x 3)": {
        "hand-written": ("quantile", handwritten_pinball),
        "losskit": ("quantile", lambda x, y: losskit.pinball_loss(x, y, QUANTILES)),
    },
    "huber (4M)": {
        "torch": ("reg", lambda x, y: F.huber_loss(x, y)),
        "losskit": ("reg", lambda x, y: losskit.huber_loss(x, y)),
    },
    "bce_with_logits (4M)": {
        "torch": ("bin", lambda x, y: F.binary_cross_entropy_with_logits(x, y)),
        "losskit": ("bin", lambda x, y: losskit.binary_cross_entropy_with_logits(x, y)),
        "losskit, no validation": ("bin", "novalid", lambda x, y: losskit.binary_cross_entropy_with_logits(x, y)),
    },
    "binary focal (4M)": {
        "hand-written": ("bin", handwritten_binary_focal),
        "losskit": ("bin", lambda x, y: losskit.binary_focal_loss(x, y, gamma=2.0, alpha=0.25)),
        "losskit, no validation": (
            "bin",
            "novalid",
            lambda x, y: losskit.binary_focal_loss(x, y, gamma=2.0, alpha=0.25),
        ),
    },
    "cross_entropy (65536x1000)": {
        "torch": ("mc", lambda x, t: F.cross_entropy(x, t)),
        "losskit": ("mc", lambda x, t: losskit.cross_entropy(x, t)),
        "losskit, no validation": ("mc", "novalid", lambda x, t: losskit.cross_entropy(x, t)),
    },
    "focal (65536x1000)": {
        "hand-written": ("mc", handwritten_focal),
        "losskit": ("mc", lambda x, t: losskit.focal_loss(x, t, gamma=2.0)),
        "losskit, no validation": ("mc", "novalid", lambda x, t: losskit.focal_loss(x, t, gamma=2.0)),
    },
}


def _make(kind, quick):
    n_bin = 1 << 16 if quick else 1 << 22
    n_mc, c = (2048, 1000) if quick else (65536, 1000)
    if kind == "reg":
        g = torch.Generator().manual_seed(0)
        return torch.randn(n_bin, generator=g), torch.randn(n_bin, generator=g)
    if kind == "quantile":  # about 4M predictions: 3 quantiles per target
        g = torch.Generator().manual_seed(0)
        n = n_bin // 3
        return torch.randn(n, len(QUANTILES), generator=g), torch.randn(n, generator=g)
    if kind == "bin":
        return _binary_inputs(n_bin)
    return _multiclass_inputs(n_mc, c)


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _step(spec, x, t) -> float:
    """One forward+backward of a variant, in seconds."""
    x.grad = None
    with losskit.validation("novalid" not in spec):
        start = time.perf_counter()
        spec[-1](x, t).backward()
        return time.perf_counter() - start


def child_peak(row: str, variant: str, quick: bool) -> dict:
    spec = VARIANTS[row][variant]
    x, t = _make(spec[0], quick)
    x.requires_grad_(True)
    before = _maxrss_bytes()
    _step(spec, x, t)
    return {"peak": _maxrss_bytes() - before}


def child_time(row: str, quick: bool, rounds: int) -> dict:
    specs = VARIANTS[row]
    x, t = _make(next(iter(specs.values()))[0], quick)
    x.requires_grad_(True)
    times: dict[str, list[float]] = {name: [] for name in specs}
    for round_ in range(rounds + 1):  # round 0 warms up
        for name, spec in specs.items():
            elapsed = _step(spec, x, t)
            if round_:
                times[name].append(elapsed)
    first = next(iter(times.values()))
    return {
        name: {
            "time": statistics.median(ts),
            "ratio": statistics.median(a / b for a, b in zip(ts, first, strict=True)),
        }
        for name, ts in times.items()
    }


def _child(*args: str) -> dict:
    cmd = [sys.executable, __file__, *args]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per row")
    parser.add_argument("--row", action="append", choices=list(VARIANTS), help="only these rows (repeatable)")
    parser.add_argument("--child-time", metavar="ROW", help=argparse.SUPPRESS)
    parser.add_argument("--child-peak", nargs=2, metavar=("ROW", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_time:
        print(json.dumps(child_time(args.child_time, args.quick, args.rounds)))
        return
    if args.child_peak:
        print(json.dumps(child_peak(*args.child_peak, args.quick)))
        return

    quick = ["--quick"] if args.quick else []
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'quick sizes' if args.quick else 'full sizes'}, {args.rounds} interleaved rounds"
    )
    header = f"{'loss':28s} {'variant':24s} {'ms':>9s} {'ratio':>7s} {'speed-up':>9s} {'peak MB':>9s}"
    print(header)
    print("-" * len(header))
    for row, variants in VARIANTS.items():
        if args.row and row not in args.row:
            continue
        timed = _child("--child-time", row, "--rounds", str(args.rounds), *quick)
        for variant in variants:
            peak = _child("--child-peak", row, variant, *quick)["peak"]
            out = timed[variant]
            print(
                f"{row:28s} {variant:24s} {out['time'] * 1e3:9.2f} {out['ratio']:7.2f} "
                f"{1 / out['ratio']:8.2f}x {peak / 2**20:9.1f}"
            )
    print(
        "ratio: median over rounds of time / the row's first variant (torch or the hand-written "
        "composite) in the same round; speed-up = 1 / ratio. 'no validation' rows show the cost of "
        "value checks (losskit.set_validation(False))."
    )


if __name__ == "__main__":
    main()
