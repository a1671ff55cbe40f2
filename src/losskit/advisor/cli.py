"""``losskit advise DATA --target COL [--target COL2 ...]``: loss advice for a CSV or Parquet file."""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path
from typing import Any

from losskit._cliutil import existing_file, missing_column, piped_width, probability
from losskit._errors import CLIError, LossInputError
from losskit.advisor.profile import TASKS
from losskit.advisor.recommend import advise

__all__ = ["read_table", "register"]

_READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str) -> Any:
    """Read a CSV, TSV or Parquet file into a DataFrame; user errors become one-line CLI errors."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"no such file: {path}")
    kind = _READERS.get(file.suffix.lower())
    if kind is None:
        raise CLIError(f"cannot read {file.suffix or 'a file without extension'}: expected .csv, .tsv or .parquet")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(file)
        else:
            frame = pd.read_csv(file, sep="\t" if kind == "tsv" else ",")
    except pd.errors.EmptyDataError as exc:
        raise CLIError(f"{path} is empty") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:  # pyarrow errors subclass these
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(f"cannot read {path}: {first}") from exc
    if frame.empty:
        raise CLIError(f"{path} has no rows")
    return frame


def _select(frame: Any, patterns: list[str], path: str) -> list[str]:
    chosen: list[str] = []
    for pattern in patterns:
        hits = [c for c in map(str, frame.columns) if fnmatch.fnmatchcase(c, pattern)]
        if not hits:
            raise missing_column("--target", pattern, frame.columns, path)
        chosen += [h for h in hits if h not in chosen]
    return chosen


def _quantiles(text: str) -> list[float]:
    try:
        values = [probability(q.strip()) for q in text.split(",") if q.strip()]
    except argparse.ArgumentTypeError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"expected numbers between 0 and 1 separated by commas, but got {text!r}")
    return values


def _run(args: argparse.Namespace) -> int:
    frame = read_table(args.data)
    targets = _select(frame, args.target, args.data)
    y = frame[targets[0]] if len(targets) == 1 else frame[targets]
    if args.group is not None and args.group not in frame.columns:
        raise missing_column("--group", args.group, frame.columns, args.data)
    rest = [c for c in frame.columns if str(c) not in targets and c != args.group]
    X = frame[rest] if rest else None
    try:
        advice = advise(
            y,
            X,
            task=args.task,
            pos_label=args.pos_label,
            quantiles=args.quantiles,
            tag_separator=args.tag_separator,
            group=None if args.group is None else frame[args.group],
        )
    except LossInputError as exc:
        if str(exc.argument) in targets or str(exc.argument) in ("y", "target"):  # the library names the column
            shown = exc.argument if str(exc.argument) in targets else ",".join(targets)
            raise CLIError(f"argument `--target {shown}`: expected {exc.expected}, but got {exc.actual}") from exc
        raise  # an option's error, worded by the command line in its flag
    if args.json:
        print(advice.to_json(indent=2))
    else:
        from rich.console import Console

        Console(width=piped_width()).print(advice)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``advise`` sub-command."""
    parser = subparsers.add_parser(
        "advise",
        help="recommend a loss for a data set",
        description="Profile the target column(s) of a CSV or Parquet file and recommend a loss, its options, "
        "the reasons, warnings and the metrics to report. Several --target columns, a column of delimited tags "
        "or 0/1 indicator columns make a multi-label target; columns of different kinds a multi-task one.",
    )
    parser.add_argument("data", metavar="DATA", type=existing_file, help="a .csv, .tsv or .parquet file")
    parser.add_argument(
        "--target", action="append", required=True, metavar="COL", help="target column (repeatable; globs like 'tag_*')"
    )
    parser.add_argument("--task", choices=TASKS, help="override the inferred task (default: inferred from the data)")
    parser.add_argument(
        "--pos-label", help="the positive class of a binary target (default: 1 / True, else the minority class)"
    )
    parser.add_argument(
        "--quantiles", type=_quantiles, help="quantiles to forecast for --task quantile, e.g. 0.1,0.5,0.9"
    )
    parser.add_argument("--tag-separator", help="separator of a delimited-tags column (default: detect | ; ,)")
    parser.add_argument("--group", metavar="COL", help="query-id column of a ranking target (with --task ranking)")
    parser.add_argument("--json", action="store_true", help="print the advice as JSON")
    parser.set_defaults(handler=_run)
