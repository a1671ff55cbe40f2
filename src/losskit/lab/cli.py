"""Sub-commands ``losskit compare``, ``losskit drift``, ``losskit predict`` and ``losskit demo``."""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from losskit._cliutil import (
    false_alarm_level,
    missing_column,
    nonnegative_int,
    open_fraction,
    output_dir,
    positive_float,
    positive_int,
    ratio_above_one,
    reworded,
)
from losskit._errors import CLIError, LossInputError
from losskit.lab.distributed import DEFAULT_TIMEOUT

__all__ = ["register"]


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths, but got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer widths, but got {text!r}")
    return widths


def register(subparsers: Any) -> None:
    """Add ``compare``, ``drift`` and ``demo`` to the ``losskit`` command line."""
    p = subparsers.add_parser(
        "compare",
        help="train one model per candidate loss on a table; report which wins and why",
        description="Compare candidate losses on a CSV/Parquet table: report.html, model card, metrics.csv, model. "
        "Every option is checked before training starts. The artefacts appear in --out all at once when the run "
        "ends (nothing is left behind by a failed or interrupted run). preprocessor.joblib is a pickle: load it "
        "only if you trust it.",
    )
    p.add_argument("data", metavar="DATA", help="CSV, TSV or Parquet file")
    p.add_argument("--target", required=True, help="target column")
    p.add_argument(
        "--task",
        choices=("binary", "multiclass", "regression", "ordinal", "ranking"),
        help="default: inferred from the target ('ranking' with --group)",
    )
    p.add_argument(
        "--group",
        help="query-group column of a ranking table: trains ranking losses on whole groups, scored by NDCG@10 "
        "over the test queries; splits never cut a group",
    )
    p.add_argument(
        "--pos-label", help="the positive class of a binary target (default: 1 / True, else the minority class)"
    )
    p.add_argument("--losses", default="auto", help="'auto' or name[:key=value,...],... (default: auto)")
    p.add_argument(
        "--model", default="mlp", choices=("mlp", "linear", "xgboost", "lightgbm"), help="model kind (default: mlp)"
    )
    p.add_argument(
        "--metric",
        help=(
            "f1 | average_precision | roc_auc | recall_at_precision=0.9 | mae | rmse | ndcg@10 | ... "
            "(default: the advisor's first metric)"
        ),
    )
    p.add_argument("--cv", type=positive_int, help="K-fold cross-validation on the non-test rows")
    p.add_argument("--val-size", type=open_fraction, default=0.15, help="share of rows for validation (default 0.15)")
    p.add_argument("--test-size", type=open_fraction, default=0.15, help="share of rows for the test (default 0.15)")
    p.add_argument(
        "--epochs",
        type=positive_int,
        help="epoch budget (early stopping; default: about 3000 steps, 40 to 400 epochs, "
        "extended up to 4x while still improving)",
    )
    p.add_argument("--rounds", type=positive_int, default=300, help="boosting rounds at most (GBDT models)")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        help="rows per optimiser step (default: 1/16 of the training rows, 16 to 256)",
    )
    p.add_argument("--lr", type=positive_float, default=2e-3, help="learning rate of AdamW (default 0.002)")
    p.add_argument("--hidden", type=_hidden, default=(64, 64), help="MLP layer widths, e.g. 128,64")
    p.add_argument(
        "--patience", type=positive_int, help="epochs without improvement before stopping (default: budget/20, >= 5)"
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the splits and the training (default 0)")
    p.add_argument("--bootstrap", type=positive_int, default=200, help="bootstrap resamples of the test set")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads per process (small tabular models gain little from more)",
    )
    p.add_argument("--out", type=output_dir, default="lab-out", help="output folder (default: ./lab-out)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the --out folder of an earlier run (else it must be new)"
    )
    p.add_argument(
        "--log-to",
        choices=("tensorboard", "mlflow"),
        help="also log the per-epoch metrics there (under --out: tensorboard/ or mlflow.db)",
    )
    p.add_argument("--distributed", action="store_true", help="DistributedDataParallel under torchrun")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"with --distributed: seconds a rank waits for the others before failing (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=_compare, argument_flags={"frame": "DATA"})

    d = subparsers.add_parser(
        "drift",
        help="compare new labels or scores with a model card; exit 1 on a material shift",
        description="Exit status: 0 stable, 1 material shift, 2 bad input, 3 too few rows to decide.",
    )
    d.add_argument("card", metavar="CARD.json", help="the model_card.json of a compare run")
    d.add_argument("data", metavar="DATA", help="CSV, TSV or Parquet file with the new rows")
    group = d.add_mutually_exclusive_group(required=True)
    group.add_argument("--target", help="column with the new labels / targets")
    group.add_argument("--scores", help="column with the model's scores on new data (labels not yet known)")
    d.add_argument(
        "--alpha", type=false_alarm_level, default=0.01, help="false-alarm level, in (0, 0.5) (default 0.01)"
    )
    d.add_argument(
        "--rate-ratio",
        type=ratio_above_one,
        default=1.4,
        help="class odds ratio that counts as a shift, > 1 (default 1.4)",
    )
    d.add_argument("--shift", type=positive_float, default=0.1, help="median shift in IQRs that counts (default 0.1)")
    d.add_argument(
        "--scale-ratio", type=ratio_above_one, default=1.05, help="IQR ratio that counts, > 1 (default 1.05)"
    )
    d.add_argument("--json", action="store_true", help="print JSON instead of words")
    d.set_defaults(handler=_drift, argument_flags={"frame": "DATA"})

    r = subparsers.add_parser(
        "predict",
        help="score new rows with a saved compare run (its preprocessing, model and threshold)",
        description="Write scores and decisions for DATA. preprocessor.joblib is a pickle: trusted folders only.",
    )
    r.add_argument("run_dir", metavar="RUN_DIR", help="output folder of losskit compare")
    r.add_argument("data", metavar="DATA", help="CSV, TSV or Parquet file with the feature columns")
    r.add_argument("--out", help="write a CSV / Parquet file here (default: CSV on standard output)")
    r.set_defaults(handler=_predict, argument_flags={"frame": "DATA"})

    m = subparsers.add_parser("demo", help="advise, compare and report on built-in data (what `make demo` runs)")
    m.add_argument("--out", type=output_dir, default="demo-out", help="output folder (default: ./demo-out)")
    m.add_argument("--quiet", action="store_true", help="no progress bars")
    m.set_defaults(handler=_demo)


@contextmanager
def _one_line_warnings(*, quiet: bool = False):
    """Show warnings as one ``losskit: warning: ...`` line each, or none (restored afterwards)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if quiet else "default", UserWarning)
        warnings.showwarning = lambda message, category, *a, **k: print(f"losskit: warning: {message}", file=sys.stderr)
        yield


def _check_before_training(args: argparse.Namespace) -> None:
    """Everything about the options that can be checked without the data, before any work."""
    from losskit.lab.outputs import check_out_dir

    if args.val_size + args.test_size >= 1:
        raise CLIError(
            f"argument `--val-size`/`--test-size`: expected shares that leave training rows (sum < 1), "
            f"but got {args.val_size} + {args.test_size}"
        )
    if args.log_to:
        from losskit.lab.tracking import check_available

        with reworded("--log-to", "tracker"):
            check_available(args.log_to)
    try:
        check_out_dir(args.out, overwrite=args.overwrite)
    except LossInputError as exc:
        hint = "" if args.overwrite or "holds files" not in str(exc.actual) else " (add --overwrite to replace it)"
        raise CLIError(f"argument `--out`: expected {exc.expected}, but got {exc.actual}{hint}") from exc


# What torch.distributed says when a peer stalls (timeout) or goes away (gloo and NCCL wordings).
_COLLECTIVE_FAILURE = re.compile(r"timed out|timeout|connection (closed|reset)|closed by peer|broken pipe", re.I)


def _collective_failed(exc: RuntimeError, ctx: Any, timeout: float) -> CLIError | None:
    """One line for a collective that failed because of another rank; None for any other error."""
    if not ctx.active or not _COLLECTIVE_FAILURE.search(str(exc)):
        return None
    return CLIError(
        f"rank {ctx.rank} of {ctx.world_size}: a collective failed, another rank stalled or exited "
        f"(--timeout {timeout:g} s): {_first_line(exc)}"
    )


def _first_line(exc: RuntimeError) -> str:
    return re.sub(r"^\[[^\]]*\]\s*", "", (str(exc).strip().splitlines() or [type(exc).__name__])[0])


def _join(distributed: bool, timeout: float) -> Any:
    """The process group (or none); a rank that never joins ends the others in one line."""
    import os

    from losskit.lab.distributed import setup

    try:
        return setup(distributed, timeout=timeout)
    except RuntimeError as exc:  # torch.distributed's rendezvous gave up waiting
        rank, world = os.environ.get("RANK", "?"), os.environ.get("WORLD_SIZE", "?")
        raise CLIError(
            f"rank {rank} of {world}: not every rank joined the process group within --timeout {timeout:g} s: "
            f"{_first_line(exc)}"
        ) from exc


def _compare(args: argparse.Namespace) -> int:
    import torch

    from losskit.lab.compare import CompareOptions, run_compare
    from losskit.lab.console import Progress, print_summary
    from losskit.lab.data import load_frame
    from losskit.lab.train import TrainConfig

    _check_before_training(args)
    torch.set_num_threads(args.threads)
    ctx = _join(args.distributed, args.timeout)
    try:
        with reworded("DATA", "path", "DATA"):
            frame = load_frame(args.data)
        for flag, column in (("--target", args.target), ("--group", args.group)):
            if column is not None and column not in frame.columns:
                raise missing_column(flag, column, frame.columns, args.data)
        options = CompareOptions(
            target=args.target,
            task=args.task,
            pos_label=args.pos_label,
            losses=args.losses,
            model=args.model,
            metric=args.metric,
            cv=args.cv,
            val_size=args.val_size,
            test_size=args.test_size,
            bootstrap=args.bootstrap,
            group=args.group,
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
        with _one_line_warnings(quiet=not ctx.is_main), ExitStack() as stack:
            bars: list[Progress] = []

            def progress(label: str, epoch: int, total: int) -> None:
                if not bars:  # the bars start with training, so an error before it stays one line
                    bars.append(stack.enter_context(Progress(enabled=show)))
                bars[0].update(label, epoch, total)

            result = run_compare(frame, options, source=str(args.data), ctx=ctx, progress=progress)
        if ctx.is_main:
            from losskit.lab.outputs import write_outputs

            also = None
            if args.log_to:
                from losskit.lab.tracking import log_history

                def also(folder: Path) -> None:
                    log_history(args.log_to, result, folder)

            paths = write_outputs(result, args.out, overwrite=args.overwrite, also=also)
            print_summary(result, paths, quiet=args.quiet)
        ctx.barrier()
    except RuntimeError as exc:
        failed = _collective_failed(exc, ctx, args.timeout)
        if failed is None:
            raise
        raise failed from exc
    finally:
        ctx.close()
    return 0


def _drift(args: argparse.Namespace) -> int:
    from losskit.lab.card import ModelCard
    from losskit.lab.data import load_frame
    from losskit.lab.drift import check_drift

    with reworded("CARD.json", "path", "card"):
        card = ModelCard.load(args.card)
    with reworded("DATA", "path", "DATA"):
        frame = load_frame(args.data)
    flag, column = ("--target", args.target) if args.target is not None else ("--scores", args.scores)
    if column not in frame.columns:
        raise missing_column(flag, column, frame.columns, args.data)
    report = check_drift(
        card,
        frame,
        target=args.target,
        scores=args.scores,
        alpha=args.alpha,
        rate_ratio=args.rate_ratio,
        shift=args.shift,
        scale_ratio=args.scale_ratio,
    )
    print(json.dumps(report.to_dict(), indent=2, allow_nan=False) if args.json else report.to_text())
    return report.exit_status


def _predict(args: argparse.Namespace) -> int:
    from losskit.lab.predict import predict_file

    out = predict_file(args.run_dir, args.data, args.out)
    if out is not None:
        out.to_csv(sys.stdout, index=False)
    return 0


def _demo(args: argparse.Namespace) -> int:
    import torch

    from losskit.lab.demo import run_demo

    torch.set_num_threads(1)
    with _one_line_warnings():
        run_demo(Path(args.out), quiet=args.quiet)
    return 0
