"""The ``losskit`` command line: a thin dispatcher.

Each tool package contributes its sub-commands through a ``register(subparsers)`` function
in its own ``cli`` module; this file only wires them together and words every user error as one
line on stderr with exit status 2, never a traceback: bad options (argparse), a
:class:`~losskit._errors.CLIError`, a :class:`losskit.LossInputError` (its argument named by
the flag the user typed) and a missing optional dependency (naming the extra to install).

A library argument is worded as the option of the same ``dest`` (``target`` -> ``--target``); a
command maps the others with ``set_defaults(argument_flags={"frame": "DATA"})``. Options take
their checks from :mod:`losskit._cliutil` (``type=positive_float`` and the like), so a bad value
fails while parsing, before any work.

Exit status: 0 success, 1 as the command defines it (a failed audit, a drift), 2 bad input,
130 interrupted (Ctrl-C), 141 when the reader of stdout went away (``losskit advise --json | head``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

import losskit
from losskit._cliutil import flag_names, in_flags, missing_extra
from losskit._errors import CLIError, LossInputError

__all__ = ["CLIError", "build_parser", "main"]

# Packages whose ``cli`` module registers sub-commands, in help order.
_COMMAND_MODULES = (
    "losskit.advisor.cli",
    "losskit.auditor.cli",
    "losskit.lab.cli",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and a hint to ``--help`` instead of the whole usage block."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", lambda m: f"argument `{m.group(1)}`: ", message)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="losskit", description="Pick, apply, check and ship the right loss.")
    parser.add_argument("--version", action="version", version=f"losskit {losskit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():
        # a library argument that no option is named after: the command maps it (``frame`` -> ``DATA``)
        mapped = command.get_default("argument_flags") or {}
        command.set_defaults(_flags={**flag_names(command), **mapped}, _parser=command)
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    """The sub-command names of ``parser``, in help order."""
    return [name for action in parser._actions if action.dest == "command" for name in action.choices]


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (captured output)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # worded by the sub-command's parser, which knows the options meant
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
        if not getattr(args, "handler", None):
            parser.error(f"a command is required: {', '.join(_commands(parser))}")
    except SystemExit as exc:  # --help, --version, or a bad option (already printed in one line)
        return exc.code if isinstance(exc.code, int) else 0
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()
        return status
    except CLIError as exc:
        message = str(exc)
    except LossInputError as exc:
        message = in_flags(exc, args._flags)
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        message = extra
    except KeyboardInterrupt:
        print(f"losskit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except OSError as exc:  # a file that cannot be read or written
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    print(f"losskit {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
