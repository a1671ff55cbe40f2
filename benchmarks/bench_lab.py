"""Scale benchmark of ``losskit compare``: 1,000,000 rows x 50 features, 3 candidate losses, MLP.

Runs the real command (``losskit.cli.main``) on a generated Parquet table and prints the time of
each stage, its share of the total, the training throughput and the peak resident memory.
The target is under 10 minutes on a 2-core CPU.

    python benchmarks/bench_lab.py [--rows 1000000] [--features 50] [--batch-size 4096] [--epochs 20]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_table(rows: int, features: int, seed: int = 0) -> pd.DataFrame:
    """Gaussian features; a 5%-positive binary target from a noisy non-linear score."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    score = x[:, :5] @ np.array([1.5, -1.0, 0.8, 0.5, -0.5], dtype=np.float32) + 0.7 * x[:, 5] * x[:, 6]
    score += rng.standard_normal(rows, dtype=np.float32)
    y = (score > np.quantile(score, 0.95)).astype(np.int8)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)])
    frame["y"] = y
    return frame


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from losskit.cli import main as losskit_main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.parquet"
        t0 = time.perf_counter()
        make_table(args.rows, args.features).to_parquet(path)
        t_data = time.perf_counter() - t0
        argv = [
            "compare",
            str(path),
            "--target",
            "y",
            "--losses",
            "bce,bce:pos_weight=balanced,focal:gamma=2",
            "--model",
            "mlp",
            "--batch-size",
            str(args.batch_size),
            "--epochs",
            str(args.epochs),
            "--threads",
            str(args.threads),
            "--quiet",
            "--out",
            str(Path(tmp) / "out"),
        ]
        t0 = time.perf_counter()
        status = losskit_main(argv)
        t_compare = time.perf_counter() - t0
        summary = pd.read_json(Path(tmp) / "out" / "summary.json", typ="series")

    fits = [(c["loss"], c["fits"][0]) for c in summary["candidates"]]
    train_rows = int(args.rows * 0.7)
    print(
        f"losskit compare: {args.rows:,} rows x {args.features} features, 3 losses, MLP, "
        f"batch {args.batch_size}, {args.threads} thread(s); exit status {status}"
    )
    print(f"{'stage':<58}{'seconds':>10}{'share':>8}{'rows/s':>12}")
    print(f"{'generate + write Parquet (not part of compare)':<58}{t_data:>10.1f}{'':>8}{'':>12}")
    for loss, fit in fits:
        rate = train_rows * fit["epochs_run"] / fit["seconds"]
        label = f"train {loss} ({fit['epochs_run']} epochs, best {fit['best_epoch']})"
        print(f"{label[:58]:<58}{fit['seconds']:>10.1f}{fit['seconds'] / t_compare:>8.1%}{rate:>12,.0f}")
    rest = t_compare - sum(f["seconds"] for _, f in fits)
    print(f"{'load, preprocess, tune, bootstrap, report, card':<58}{rest:>10.1f}{rest / t_compare:>8.1%}{'':>12}")
    print(f"{'compare total':<58}{t_compare:>10.1f}{t_compare / 600:>8.1%}{'':>12}  (share of the 10-minute target)")
    print(f"peak resident memory: {peak_rss_mb():,.0f} MB; winner: {summary['winner']} ({summary['metric']})")


if __name__ == "__main__":
    main()
