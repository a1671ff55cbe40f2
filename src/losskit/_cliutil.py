"""Shared pieces of the command-line layer: validated option types and the wording of errors.

Every sub-command validates its options while parsing, before any work starts: an option
declared with ``type=positive_float`` (or another function here) fails with one line and exit
status 2 when the value is out of range. Adding a validated option is one ``add_argument`` call::

    parser.add_argument("--lr", type=positive_float, default=2e-3, help="learning rate")

Library code raises :class:`~losskit.LossInputError` naming its own arguments (``target``,
``losses``, ...); :func:`flag_names` and :func:`in_flags` turn those into the flags the user typed.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from losskit._errors import CLIError, LossInputError
from losskit._optional import extra_error

__all__ = [
    "flag_names",
    "in_flags",
    "missing_column",
    "missing_extra",
    "existing_file",
    "false_alarm_level",
    "nonnegative_int",
    "open_fraction",
    "output_dir",
    "piped_width",
    "positive_float",
    "positive_int",
    "probability",
    "ratio_above_one",
    "reworded",
]


def _bad(expected: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"expected {expected}, but got {text!r}")


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(expected, text) from None
    if not math.isfinite(value):
        raise _bad(expected, text)
    return value


def _number_where(text: str, expected: str, ok: Callable[[float], bool]) -> float:
    """A finite number for which ``ok`` holds, else the one-line error naming ``expected``."""
    value = _number(text, expected)
    if not ok(value):
        raise _bad(expected, text)
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _number_where(text, "a positive number", lambda v: v > 0)


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (a p-value level, a quantile)."""
    return _number_where(text, "a number between 0 and 1 (exclusive)", lambda v: 0 < v < 1)


def false_alarm_level(text: str) -> float:
    """A false-alarm level: a number strictly between 0 and 0.5."""
    return _number_where(text, "a level between 0 and 0.5 (exclusive)", lambda v: 0 < v < 0.5)


def ratio_above_one(text: str) -> float:
    """A finite ratio > 1 (an odds or scale ratio that counts as a change, either way)."""
    return _number_where(text, "a finite ratio > 1", lambda v: v > 1)


def open_fraction(text: str) -> float:
    """A share of the rows: a number strictly between 0 and 1."""
    return _number_where(text, "a fraction of the rows between 0 and 1 (exclusive)", lambda v: 0 < v < 1)


def _integer(text: str, lowest: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _bad(expected, text) from None
    if value < lowest:
        raise _bad(expected, text)
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _integer(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """An integer >= 0."""
    return _integer(text, 0, "an integer >= 0")


def existing_file(text: str) -> str:
    """The path of an existing file (not a folder)."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(
            f"expected an existing file, but got {text!r} ({'a folder' if Path(text).is_dir() else 'no such file'})"
        )
    return text


def output_dir(text: str) -> Path:
    """A folder to write into: absent or a folder, never an existing file or a symbolic link."""
    path = Path(text)
    if path.is_symlink():
        raise argparse.ArgumentTypeError(f"expected an output folder, but {text!r} is a symbolic link")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"expected an output folder, but {text!r} is an existing file")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"expected an output folder, but {str(parent)!r} is a file")
            break
    return path


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest`` -> what the user types: ``{"target": "--target", "data": "DATA", ...}``."""
    names = {}
    for action in parser._actions:  # argparse has no public list of a parser's actions
        if action.option_strings:
            names[action.dest] = max(action.option_strings, key=len)
        elif action.dest != argparse.SUPPRESS:
            names[action.dest] = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    return names


def in_flags(exc: LossInputError, flags: dict[str, str]) -> str:
    """A library error worded with the command line's flags: ``argument `--target`: expected ...``.

    The first word of ``exc.argument`` is looked up (``"losses focal:gamma"`` -> ``--losses focal:gamma``).
    """
    head, _, rest = str(exc.argument).partition(" ")
    name = flags.get(head, flags.get(head.replace("-", "_"), head))
    shown = f"{name} {rest}" if rest else name
    return f"argument `{shown}`: expected {exc.expected}, but got {exc.actual}"


@contextmanager
def reworded(flag: str, *generic: str) -> Iterator[None]:
    """Word a library error raised inside the block as an error of ``flag``.

    For a call that takes one user-given value under a generic name (``load_frame(path)`` reading
    ``DATA``): the library's argument is kept after the flag unless it is one of ``generic``.
    """
    try:
        yield
    except LossInputError as exc:
        argument = str(exc.argument)
        where = "" if argument in generic or argument == flag else f" ({argument})"
        raise CLIError(f"argument `{flag}`{where}: expected {exc.expected}, but got {exc.actual}") from exc


def missing_column(flag: str, name: str, columns: Iterable[object], where: str) -> CLIError:
    """The one wording, in every command, of a column that the table lacks: the columns it has."""
    shown = [str(c) for c in columns]
    listed = ", ".join(shown[:30]) + (f", ... ({len(shown)} in all)" if len(shown) > 30 else "")
    return CLIError(f"argument `{flag}`: no column {name!r} in {where} (columns: {listed})")


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """``... needs the optional package 'x': pip install 'losskit[lab]'``, or None for another module."""
    named = re.search(r"pip install 'losskit\[(\w+)\]'", str(exc))  # the extra the library named, if it did
    error = extra_error(exc, "this command", named.group(1) if named else None)
    return None if error is None else str(error)


def piped_width() -> int | None:
    """Width for a rich ``Console`` on stdout: wide (200) when piped, so tables do not wrap at 80.

    ``None`` (rich's own choice) on a terminal or when ``COLUMNS`` is set.
    """
    if "COLUMNS" in os.environ or sys.stdout.isatty():
        return None
    return 200
