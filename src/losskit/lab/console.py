"""Console output of ``compare``: rich progress bars and the final comparison table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from losskit._cliutil import piped_width
from losskit._format import number as _fmt
from losskit.lab.report import recommendation
from losskit.lab.results import LabResult

__all__ = ["Progress", "print_summary"]


class Progress:
    """One bar per candidate (and fold), advanced every epoch; does nothing when disabled."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}
        self._rich = (
            RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            if enabled
            else None
        )

    def __enter__(self) -> Progress:
        if self._rich is not None:
            self._rich.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)

    def update(self, label: str, epoch: int, total: int) -> None:
        if self._rich is None:
            return
        if label not in self._bars:
            self._bars[label] = self._rich.add_task(label, total=total)
        self._rich.update(self._bars[label], completed=epoch)


def print_summary(result: LabResult, paths: dict[str, Path], *, quiet: bool = False) -> None:
    """The comparison table, the recommendation and where the artefacts are."""
    console = Console(width=piped_width())
    m = result.metric
    positive = "" if result.positive_class is None else f", positive class {result.positive_class!r}"
    table = Table(title=f"losskit compare: {result.table.target} ({result.table.task}, test {m.label}{positive})")
    for col in ("loss", "origin", m.label, "95% interval", "best in", "threshold"):
        table.add_column(col, justify="left" if col in ("loss", "origin") else "right", overflow="fold")
    for r in result.results:
        style = "bold green" if r is result.winner else None
        table.add_row(
            r.candidate.label if r.converged else f"{r.candidate.label} (not converged)",
            r.candidate.origin,
            _fmt(r.value),
            f"{_fmt(r.interval[0])} to {_fmt(r.interval[1])}",
            f"{r.win_rate:.0%}",
            _fmt(r.threshold),
            style=style,
        )
    console.print(table)
    if not quiet:
        for line in recommendation(result):
            console.print(f"• {line}", highlight=False)
    t = result.table
    imputed = ", ".join(f"{k}: {v}" for k, v in result.imputed.items()) or "none"
    console.print(
        f"data: {len(t.y)} rows ({t.dropped_rows} dropped for a missing target), imputed values in training rows: "
        f"{imputed}",
        highlight=False,
    )
    console.print(f"report: {paths['report'].resolve()}", highlight=False, soft_wrap=True)
