"""Cost of losskit's CTC and box losses against the plain PyTorch formulations.

Run: ``python benchmarks/bench_sequence_boxes.py [--quick]``

* CTC: ``losskit.ctc_loss`` (validation on / off) against ``torch.nn.functional.ctc_loss``,
  forward + backward through ``log_softmax``. The difference is the validation (log-sum-exp of
  every frame, target and feasibility checks) and the exact-gradient correction.
* Boxes: ``losskit.giou_loss`` / ``ciou_loss`` against the torchvision formulas written out
  inline (torchvision itself is not a dependency), forward + backward.

Prints the median wall time over round-robin repeats, the ratio to the baseline, and the memory
autograd keeps for backward (distinct storages saved by the graph), the part of peak memory a
loss adds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import losskit


def _measure(variants: list[tuple[str, Callable[[], None]]], repeats: int) -> list[tuple[str, float, int]]:
    """Median wall time of each variant, run round-robin so that load changes hit all alike."""
    for _, fn in variants:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in variants]
    for _ in range(repeats):
        for i, (_, fn) in enumerate(variants):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [(name, statistics.median(ts), _peak_bytes(fn)) for (name, fn), ts in zip(variants, times, strict=True)]


def _peak_bytes(fn: Callable[[], None]) -> int:
    """Bytes of the tensors autograd saves for backward during ``fn`` (activation memory)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def _ctc_rows(t: int, n: int, c: int, s: int, repeats: int) -> list[tuple[str, float, int]]:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(t, n, c, generator=gen, requires_grad=True)
    targets = torch.randint(1, c, (n, s), generator=gen)
    il = torch.full((n,), t)
    tl = torch.randint(s // 2, s + 1, (n,), generator=gen)

    def torch_step():
        F.ctc_loss(logits.log_softmax(-1), targets, il, tl).backward()

    def ours_step():
        losskit.ctc_loss(logits.log_softmax(-1), targets, il, tl).backward()

    def ours_unchecked():
        with losskit.validation(False):
            losskit.ctc_loss(logits.log_softmax(-1), targets, il, tl).backward()

    variants = [
        ("torch ctc_loss", torch_step),
        ("losskit ctc_loss", ours_step),
        ("losskit ctc_loss (validation off)", ours_unchecked),
    ]
    return _measure(variants, repeats)


def _torchvision_style(kind: str, b1: torch.Tensor, b2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """torchvision's generalized/complete box IoU loss formulas, inline."""
    x1, y1, x2, y2 = b1.unbind(-1)
    x1g, y1g, x2g, y2g = b2.unbind(-1)
    xkis1, ykis1 = torch.max(x1, x1g), torch.max(y1, y1g)
    xkis2, ykis2 = torch.min(x2, x2g), torch.min(y2, y2g)
    inter = (xkis2 - xkis1).clamp(min=0) * (ykis2 - ykis1).clamp(min=0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    if kind == "giou":
        area_c = (xc2 - xc1) * (yc2 - yc1)
        return (1 - (iou - (area_c - union) / (area_c + eps))).mean()
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    centre = ((x2 + x1) / 2 - (x2g + x1g) / 2) ** 2 + ((y2 + y1) / 2 - (y2g + y1g) / 2) ** 2
    v = (4 / math.pi**2) * (torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return (1 - iou + centre / diag + alpha * v).mean()


def _box_rows(n: int, repeats: int) -> list[tuple[str, float, int]]:
    gen = torch.Generator().manual_seed(0)

    def boxes():
        corner = 100 * torch.rand(n, 2, generator=gen)
        return torch.cat([corner, corner + 1 + 50 * torch.rand(n, 2, generator=gen)], 1)

    b1, b2 = boxes().requires_grad_(True), boxes()
    variants = []
    for kind, ours in (("giou", losskit.giou_loss), ("ciou", losskit.ciou_loss)):

        def base(kind=kind):
            _torchvision_style(kind, b1, b2).backward()

        def mine(ours=ours):
            ours(b1, b2).backward()

        variants += [(f"torchvision-style {kind}", base), (f"losskit {kind}_loss", mine)]
    return _measure(variants, repeats)


def _print(title: str, rows: list[tuple[str, float, int]], baseline_every: int) -> None:
    print(f"\n{title}")
    print(f"{'variant':<36}{'median ms':>11}{'ratio':>8}{'saved MB':>10}")
    for i, (name, seconds, peak) in enumerate(rows):
        base = rows[i - i % baseline_every][1]
        print(f"{name:<36}{seconds * 1e3:>11.2f}{seconds / base:>8.2f}{peak / 2**20:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable timings)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 15
    t, n, c, s = (50, 8, 32, 10) if args.quick else (200, 32, 64, 50)
    boxes = 10_000 if args.quick else 200_000
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    _print(f"CTC, T={t} N={n} C={c} S={s}, forward+backward", _ctc_rows(t, n, c, s, repeats), 3)
    _print(f"Boxes, N={boxes}, forward+backward", _box_rows(boxes, repeats), 2)


if __name__ == "__main__":
    main()
