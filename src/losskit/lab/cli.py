"""Sub-commands ``losskit compare``, ``losskit drift`` and ``losskit demo``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer widths, got {text!r}")
    return widths


def register(subparsers: Any) -> None:
    """Add ``compare``, ``drift`` and ``demo`` to the ``losskit`` command line."""
    p = subparsers.add_parser(
        "compare",
        help="train one model per candidate loss on a table; report which wins and why",
        description="Compare candidate losses on a CSV/Parquet table: report.html, model card, metrics.csv, model.",
    )
    p.add_argument("data", metavar="DATA", help="CSV, TSV or Parquet file")
    p.add_argument("--target", required=True, help="target column")
    p.add_argument("--task", choices=("binary", "multiclass", "regression"), help="default: inferred from the target")
    p.add_argument("--losses", default="auto", help="'auto' or name[:key=value,...],... (default: auto)")
    p.add_argument("--model", default="mlp", choices=("mlp", "linear", "xgboost", "lightgbm"))
    p.add_argument(
        "--metric",
        help="f1 | pr_auc | roc_auc | recall_at_precision=0.9 | mae | rmse | ... (default: the advisor's first metric)",
    )
    p.add_argument("--cv", type=_positive_int, help="K-fold cross-validation on the non-test rows")
    p.add_argument("--val-size", type=float, default=0.15)
    p.add_argument("--test-size", type=float, default=0.15)
    p.add_argument(
        "--epochs",
        type=_positive_int,
        help="epoch budget (early stopping; default: about 3000 steps, 40 to 400 epochs, "
        "extended up to 4x while still improving)",
    )
    p.add_argument("--rounds", type=_positive_int, default=300, help="boosting rounds at most (GBDT models)")
    p.add_argument("--batch-size", type=_positive_int, help="default: 1/16 of the training rows, 16 to 256")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hidden", type=_hidden, default=(64, 64), help="MLP layer widths, e.g. 128,64")
    p.add_argument("--patience", type=_positive_int, help="epochs without improvement (default: budget/20, >= 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=_positive_int, default=200, help="bootstrap resamples of the test set")
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads per process (small tabular models gain little from more)",
    )
    p.add_argument("--out", default="lab-out", help="output directory (default: ./lab-out)")
    p.add_argument("--log-to", choices=("tensorboard", "mlflow"), help="also log the per-epoch metrics there")
    p.add_argument("--distributed", action="store_true", help="DistributedDataParallel under torchrun")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=_compare)

    d = subparsers.add_parser(
        "drift",
        help="compare new labels or scores with a model card; exit 1 on a significant shift",
        description="Exit status: 0 stable, 1 significant shift, 2 bad input.",
    )
    d.add_argument("card", metavar="CARD.json")
    d.add_argument("data", metavar="DATA")
    group = d.add_mutually_exclusive_group(required=True)
    group.add_argument("--target", help="column with the new labels / targets")
    group.add_argument("--scores", help="column with the model's scores on new data (labels not yet known)")
    d.add_argument("--alpha", type=float, default=0.01, help="p-value level of the tests (default 0.01)")
    d.add_argument("--psi-threshold", type=float, default=0.1, help="PSI that counts as a real shift (default 0.1)")
    d.add_argument("--json", action="store_true", help="print JSON instead of words")
    d.set_defaults(handler=_drift)

    m = subparsers.add_parser("demo", help="advise, compare and report on built-in data (what `make demo` runs)")
    m.add_argument("--out", default="demo-out", help="output directory (default: ./demo-out)")
    m.add_argument("--quiet", action="store_true")
    m.set_defaults(handler=_demo)


@contextmanager
def _one_line_warnings(*, quiet: bool = False):
    """Show warnings as one ``losskit: warning: ...`` line each, or none (restored afterwards)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if quiet else "default", UserWarning)
        warnings.showwarning = lambda message, category, *a, **k: print(f"losskit: warning: {message}", file=sys.stderr)
        yield


def _compare(args: argparse.Namespace) -> int:
    import torch

    from losskit.lab.compare import CompareOptions, run_compare
    from losskit.lab.console import Progress, print_summary
    from losskit.lab.data import load_frame
    from losskit.lab.distributed import setup
    from losskit.lab.train import TrainConfig

    if args.log_to:
        from losskit.lab.tracking import check_available

        check_available(args.log_to)
    torch.set_num_threads(args.threads)
    ctx = setup(args.distributed)
    try:
        frame = load_frame(args.data)
        options = CompareOptions(
            target=args.target,
            task=args.task,
            losses=args.losses,
            model=args.model,
            metric=args.metric,
            cv=args.cv,
            val_size=args.val_size,
            test_size=args.test_size,
            bootstrap=args.bootstrap,
            train=TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                patience=args.patience,
                hidden=args.hidden,
                seed=args.seed,
                rounds=args.rounds,
            ),
        )
        show = ctx.is_main and not args.quiet
        with _one_line_warnings(quiet=not ctx.is_main), Progress(enabled=show) as progress:
            result = run_compare(frame, options, source=str(args.data), ctx=ctx, progress=progress.update)
        if ctx.is_main:
            from losskit.lab.outputs import write_outputs

            paths = write_outputs(result, args.out)
            if args.log_to:
                from losskit.lab.tracking import log_history

                log_history(args.log_to, result, Path(args.out))
            print_summary(result, paths, quiet=args.quiet)
        ctx.barrier()
    finally:
        ctx.close()
    return 0


def _drift(args: argparse.Namespace) -> int:
    from losskit.lab.card import ModelCard
    from losskit.lab.data import load_frame
    from losskit.lab.drift import check_drift

    card = ModelCard.load(args.card)
    frame = load_frame(args.data)
    report = check_drift(
        card, frame, target=args.target, scores=args.scores, alpha=args.alpha, psi_threshold=args.psi_threshold
    )
    print(json.dumps(report.to_dict(), indent=2, allow_nan=False) if args.json else report.to_text())
    return 1 if report.significant else 0


def _demo(args: argparse.Namespace) -> int:
    import torch

    from losskit.lab.demo import run_demo

    torch.set_num_threads(1)
    with _one_line_warnings():
        run_demo(Path(args.out), quiet=args.quiet)
    return 0
