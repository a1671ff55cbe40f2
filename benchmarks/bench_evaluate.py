"""Evaluation: exact threshold tuning and calibration against the usual scikit-learn recipes.

One command: ``python benchmarks/bench_evaluate.py`` (``--quick`` for small sizes).
Rows compare, on the same scores:

* ``tune_threshold`` (exact F1 optimum over every distinct score, sort once + cumulative sums)
  against ``precision_recall_curve`` + arg-max (also exact) and against a grid of 100
  thresholds scored with ``f1_score`` (the common hand-written loop, not exact);
* ``calibration`` (ECE, MCE, full curve with counts) against ``calibration_curve`` (curve only);
* ``metrics`` (the nine binary metrics) as an absolute figure.

Times are the median of 3 runs; peak memory is the largest traced NumPy/Python allocation
during one run (``tracemalloc``). The ratio is the row's time over losskit's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import f1_score, precision_recall_curve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from losskit.evaluate import calibration, metrics, tune_threshold


def _measure(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak


def _pr_curve_f1(y, s):
    precision, recall, thresholds = precision_recall_curve(y, s)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return thresholds[np.argmax(f1[:-1])]


def _grid_f1(y, s):
    grid = np.linspace(s.min(), s.max(), 100)
    return grid[np.argmax([f1_score(y, s >= t) for t in grid])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    sizes = (10_000, 100_000) if parser.parse_args().quick else (10_000, 100_000, 1_000_000)
    rows = []
    for n in sizes:
        rng = np.random.default_rng(0)
        y = (rng.random(n) < 0.3).astype(int)
        s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
        rows.append((f"tune_threshold f1, n={n:,}", "losskit", *_measure(lambda y=y, s=s: tune_threshold(y, s))))
        rows.append(("", "PR curve + argmax", *_measure(lambda y=y, s=s: _pr_curve_f1(y, s))))
        rows.append(("", "100-point grid", *_measure(lambda y=y, s=s: _grid_f1(y, s), repeats=1)))
        rows.append((f"calibration, n={n:,}", "losskit", *_measure(lambda y=y, s=s: calibration(y, s))))
        rows.append(("", "calibration_curve", *_measure(lambda y=y, s=s: calibration_curve(y, s, n_bins=15))))
        rows.append((f"metrics binary, n={n:,}", "losskit", *_measure(lambda y=y, s=s: metrics(y, s))))
    print(f"{'case':<32} {'variant':<20} {'time (ms)':>10} {'ratio':>7} {'peak MB':>8}")
    base = None
    for case, variant, seconds, peak in rows:
        if variant == "losskit":
            base = seconds
        print(f"{case:<32} {variant:<20} {seconds * 1e3:>10.1f} {seconds / base:>7.2f} {peak / 2**20:>8.1f}")
    # Exactness on the last size: the tuned F1 is never below the grid's.
    best = tune_threshold(y, s).score
    print(f"\nF1 exact {best:.5f} vs grid {f1_score(y, s >= _grid_f1(y, s)):.5f} (n={sizes[-1]:,})")


if __name__ == "__main__":
    main()
