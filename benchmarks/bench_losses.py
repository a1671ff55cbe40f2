"""Core losses: forward+backward time against PyTorch and hand-written composites.

One command: ``python benchmarks/bench_losses.py`` (``--quick`` for small sizes).
Every variant runs in its own subprocess so that its peak memory (growth of the resident set
during one forward+backward, inputs excluded) is its own. Prints a table of times, ratios
to the baseline of the same row, peak memory, and the cost of input validation.
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
    if kind == "bin":
        return _binary_inputs(n_bin)
    return _multiclass_inputs(n_mc, c)


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(row: str, variant: str, quick: bool, repeats: int) -> dict:
    spec = VARIANTS[row][variant]
    kind, fn = spec[0], spec[-1]
    if "novalid" in spec:
        losskit.set_validation(False)
    x, t = _make(kind, quick)
    x.requires_grad_(True)
    before = _maxrss_bytes()
    fn(x, t).backward()
    peak = _maxrss_bytes() - before
    times = []
    for _ in range(repeats):
        x.grad = None
        start = time.perf_counter()
        fn(x, t).backward()
        times.append(time.perf_counter() - start)
    return {"time": statistics.median(times), "peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("ROW", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(*args.child, args.quick, args.repeats)))
        return

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'quick sizes' if args.quick else 'full sizes'}, median of {args.repeats} forward+backward runs"
    )
    header = f"{'loss':28s} {'variant':24s} {'ms':>9s} {'ratio':>7s} {'peak MB':>9s}"
    print(header)
    print("-" * len(header))
    for row, variants in VARIANTS.items():
        baseline = None
        for variant in variants:
            cmd = [sys.executable, __file__, "--child", row, variant, "--repeats", str(args.repeats)]
            if args.quick:
                cmd.append("--quick")
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())
            baseline = baseline or out["time"]
            print(
                f"{row:28s} {variant:24s} {out['time'] * 1e3:9.2f} {out['time'] / baseline:7.2f} "
                f"{out['peak'] / 2**20:9.1f}"
            )
    print(
        "ratio: time over the first variant of the row (torch or the hand-written composite); "
        "'no validation' rows show the cost of value checks (losskit.set_validation(False))."
    )


if __name__ == "__main__":
    main()
