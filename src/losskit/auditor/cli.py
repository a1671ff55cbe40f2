"""``losskit audit PACKAGE.MODULE:FUNCTION --task binary``: audit a user's own loss.

The audit imports the named module and runs its code, like ``python -c "import MODULE"``:
audit only code you trust. The working directory is searched last (after the installed
packages), so a file there cannot replace a library that losskit itself imports.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from losskit._cliutil import piped_width, positive_int
from losskit._errors import CLIError
from losskit.auditor.checks import AUDIT_TASKS, audit

__all__ = ["load_callable", "register"]


def load_callable(spec: str) -> Any:
    """``package.module:name`` (``name`` may be dotted) to the object; a class is instantiated."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CLIError(f"expected PACKAGE.MODULE:FUNCTION, got {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # modules in the working directory import, installed packages first
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way while importing
        raise CLIError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise CLIError(f"{module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise CLIError(f"cannot construct {attribute}() without arguments: {exc}") from exc
    if not callable(obj):
        raise CLIError(f"{spec} is not callable")
    return obj


def _run(args: argparse.Namespace) -> int:
    loss = load_callable(args.loss)
    report = audit(loss, task=args.task, num_classes=args.num_classes, input_kind=args.input_kind)
    if args.json:
        print(report.to_json(indent=2))
    else:
        from rich.console import Console

        Console(width=piped_width()).print(report)
    return 0 if report.passed else 1


def register(subparsers: Any) -> None:
    """Add the ``audit`` sub-command."""
    parser = subparsers.add_parser(
        "audit",
        help="run a loss through edge batches and consistency checks",
        description="Audit a loss callable: edge batches (empty, all ignored, one class, zero and +-1e4 logits, "
        "fp16, bf16), float64 gradcheck, reduction consistency, batch-split invariance and logits vs "
        "probabilities. Exit status 1 when a check fails. The module is imported and its code runs: audit "
        "only code you trust.",
    )
    parser.add_argument(
        "loss",
        metavar="PACKAGE.MODULE:FUNCTION",
        help="the loss to audit (a class is instantiated); the module is imported and its code runs",
    )
    parser.add_argument("--task", choices=AUDIT_TASKS, required=True, help="the task the loss is meant for")
    parser.add_argument("--num-classes", type=positive_int, help="classes, labels or quantiles (default 4, 3, 3)")
    parser.add_argument(
        "--input-kind",
        choices=("logits", "probabilities"),
        default="logits",
        help="what the loss takes as input (default: logits)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_run)
