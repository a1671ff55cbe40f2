"""The ``losskit`` command line: a thin dispatcher.

Each tool package contributes its sub-commands through a ``register(subparsers)`` function
in its own ``cli`` module; this file only wires them together and turns a
:class:`CLIError` (or a :class:`losskit.LossInputError`) into a one-line message and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from losskit._errors import LossInputError

# Packages whose ``cli`` module registers sub-commands, in help order.
_COMMAND_MODULES = (
    "losskit.advisor.cli",
    "losskit.auditor.cli",
    "losskit.lab.cli",
)


class CLIError(Exception):
    """A user error on the command line: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="losskit", description="Pick, apply, check and ship the right loss.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a tool package not installed (optional extra)
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except (CLIError, LossInputError, FileNotFoundError) as exc:
        print(f"losskit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
