"""The :class:`Advice` a call to :func:`losskit.advise` returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from losskit._errors import LossInputError
from losskit.advisor.profile import TargetProfile
from losskit.catalog import LossChoice

__all__ = ["Advice"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Advice:
    """A recommended loss with its options and the evidence for it.

    Attributes:
        task: the inferred (or given) task.
        loss: the :mod:`losskit.catalog` name of the loss (``"MultiTaskLoss"`` for several targets).
        module: path of the module class below ``losskit`` (``"nn.HuberLoss"``, ``"multitask.MultiTaskLoss"``).
        options: ready-to-use keyword arguments (class weights, ``pos_weight``, ``delta`` ...).
        row: id of the decision-table row the advice comes from.
        reasons: plain sentences quoting the measured numbers.
        alternatives: other reasonable choices, each a :class:`losskit.catalog.LossChoice`
            (catalog entry, options, target transform, resampling, reason). Data-derived option
            values stay symbolic (``pos_weight="balanced"``) until training labels resolve them.
        warnings: pitfalls to watch for with this target.
        metrics: what to report.
        target_transform: transform the target first (``"log1p"``), or ``None``.
        profile: the measured target profile.
        parts: per-task advice of a multi-task target.
        choice: the recommendation as a :class:`~losskit.catalog.LossChoice` (None for a multi-task target).
        metric_keys: the :func:`losskit.evaluate.metrics` keys of ``metrics``, in the same order.
    """

    task: str
    loss: str
    module: str
    options: dict[str, Any]
    row: str
    reasons: list[str]
    alternatives: list[LossChoice]
    warnings: list[str]
    metrics: list[str]
    target_transform: str | None = None
    profile: TargetProfile | None = field(default=None, repr=False)
    parts: dict[str, Advice] | None = None
    choice: LossChoice | None = field(default=None, repr=False)
    metric_keys: list[str] = field(default_factory=list)

    def function(self) -> Callable[..., torch.Tensor]:
        """The losskit function; call it as ``fn(input, target, **advice.options)``."""
        if self.choice is None:
            raise LossInputError("advice", "a single loss", "a multi-task combination (use advice.build())")
        return self.choice.entry.function()

    def build(self) -> torch.nn.Module:
        """The configured loss module, e.g. ``BCEWithLogitsLoss(pos_weight=tensor(19.))``.

        For a multi-task target this is the ``MultiTaskLoss`` combining the tasks; build each
        task's own loss from ``advice.parts[name].build()``.
        """
        if self.choice is None:
            from losskit.multitask import MultiTaskLoss

            return MultiTaskLoss(**self.options)
        return self.choice.entry.module_class()(**self.options)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tensors become lists)."""
        return {
            "task": self.task,
            "loss": self.loss,
            "module": self.module,
            "options": _jsonable(self.options),
            "row": self.row,
            "target_transform": self.target_transform,
            "reasons": list(self.reasons),
            "alternatives": [a.to_dict() for a in self.alternatives],
            "warnings": list(self.warnings),
            "metrics": list(self.metrics),
            "metric_keys": list(self.metric_keys),
            "profile": self.profile.to_dict() if self.profile is not None else None,
            "parts": {k: v.to_dict() for k, v in self.parts.items()} if self.parts else None,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def options_text(self) -> str:
        """The options as a call signature, e.g. ``delta=1.62, reduction='mean'``."""
        parts = []
        for key, value in self.options.items():
            if isinstance(value, torch.Tensor):
                flat = [round(v, 4) for v in value.reshape(-1).tolist()]
                shown = f"tensor({flat[0]})" if value.dim() == 0 else f"tensor({flat if len(flat) <= 6 else '...'})"
            elif isinstance(value, float):
                shown = f"{value:.4g}"
            else:
                shown = repr(value)
            parts.append(f"{key}={shown}")
        return ", ".join(parts)

    def headline(self) -> str:
        """``losskit.nn.HuberLoss(delta=1.62)`` plus the target transform and the table row."""
        target = f" on {self.target_transform}(y)" if self.target_transform else ""
        return f"losskit.{self.module}({self.options_text()}){target}  [row {self.row}]"

    def __str__(self) -> str:
        lines = [f"{self.task}: {self.headline()}"]
        for title, items in (
            ("why", self.reasons),
            ("alternatives", self.alternatives),
            ("warnings", self.warnings),
            ("report", self.metrics),
        ):
            lines += [f"  {title}:"] + [f"    - {item}" for item in items] if items else []
        for name, part in (self.parts or {}).items():
            lines.append(f"  task {name!r}: " + str(part).replace("\n", "\n  "))
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(title=f"losskit advice: {self.task}", show_header=False, show_lines=True)
        table.add_column("", style="bold")
        table.add_column("")
        target = f" on {self.target_transform}(y)" if self.target_transform else ""
        table.add_row("loss", f"losskit.{self.loss}{target}")
        table.add_row("module", f"losskit.{self.module}({self.options_text()})")
        table.add_row("table row", self.row)
        for title, items in (
            ("why", self.reasons),
            ("alternatives", self.alternatives),
            ("warnings", self.warnings),
            ("report", self.metrics),
        ):
            if items:
                table.add_row(title, "\n".join(f"• {item}" for item in items))
        for name, part in (self.parts or {}).items():
            table.add_row(f"task {name}", part.headline() + "\n• " + "\n• ".join(part.reasons))
        return table
