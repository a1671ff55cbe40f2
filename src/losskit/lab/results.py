"""What ``compare`` found: plain data that the report, the card, the console and the demo render.

Every number here is computed once, in :mod:`~losskit.lab.compare` (training) and
:mod:`~losskit.lab.scoring` (threshold, test metrics, bootstrap, winner); the renderers only
read it. Derived views (:attr:`LabResult.runner_up`, :attr:`CandidateResult.converged`) select
among stored values and compute no metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from losskit.lab.candidates import Candidate
    from losskit.lab.data import Table
    from losskit.lab.splits import SplitPlan

__all__ = ["CandidateResult", "LabResult"]


@dataclass
class CandidateResult:
    """One candidate's outcome.

    Attributes:
        candidate: the loss and its frozen options.
        history: per-epoch (per-round) log rows of every fold (``fold`` is a field).
        val_scores, test_scores: probabilities ``(N,)`` / ``(N, C)`` or predictions ``(N,)``.
        threshold: the decision threshold tuned on validation (binary), else ``None``.
        test_metrics: :func:`losskit.evaluate.metrics` of the test scores at ``threshold``.
        metrics_at_half: the same at the default threshold 0.5 (binary), else ``None``.
        value, interval, win_rate: the chosen metric on the test set, its paired-bootstrap 95%
            interval and the share of resamples this candidate is best.
        fits: per fold, the training facts (``epochs_run``, ``best_epoch``, ``converged``, ...).
        models: per fold, the trained model.
        curves: what the report plots beyond the metrics, computed in scoring (ranking:
            ``ndcg_at_k``, NDCG@1 to NDCG@10 of the test queries, and ``ndcg@10_per_query``).
    """

    candidate: Candidate
    history: list[dict[str, float]]
    val_scores: np.ndarray
    test_scores: np.ndarray
    threshold: float | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    metrics_at_half: dict[str, float] | None = None
    value: float = float("nan")
    interval: tuple[float, float] = (float("nan"), float("nan"))
    win_rate: float = 0.0
    fits: list[dict[str, Any]] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """False when some fold's best epoch (round) was its last: still improving when stopped."""
        return all(f.get("converged", True) for f in self.fits)


class Metric(Protocol):
    """What the result and its renderers read of the metric (:class:`losskit.lab.scoring.MetricSpec`,
    which is not imported here: scoring builds these results)."""

    name: str
    higher_is_better: bool

    @property
    def label(self) -> str: ...

    def better(self, a: float, b: float) -> bool: ...


@dataclass
class LabResult:
    """The whole comparison: data facts, settings, every candidate's result and the winner.

    ``options`` holds the settings actually used (automatic batch size and epochs resolved).
    ``positive_class`` is the class whose probability the binary scores are (``None`` when not
    recorded or not binary).
    """

    table: Table
    options: Any  # CompareOptions (defined with the pipeline)
    metric: Metric
    plan: SplitPlan
    results: list[CandidateResult]
    winner: CandidateResult
    y_val: np.ndarray
    y_test: np.ndarray
    imputed: dict[str, int]
    n_inputs: int
    advice: dict[str, Any] | None
    preprocessors: list[Any]
    seconds: float = 0.0
    positive_class: Any = None

    @property
    def train_prior(self) -> list[float]:
        y = self.table.y[self.plan.folds[0].train]
        counts = np.bincount(y, minlength=len(self.table.classes))
        return (counts / counts.sum()).tolist()

    @property
    def query_counts(self) -> dict[str, int] | None:
        """Query groups in the training, validation and test rows of a ranking table (else None)."""
        g = self.table.groups
        if g is None:
            return None
        first = self.plan.folds[0]
        return {
            name: len(np.unique(g[rows]))
            for name, rows in (("train", first.train), ("val", first.val), ("test", self.plan.test))
        }

    @property
    def runner_up(self) -> CandidateResult | None:
        """The best candidate other than the winner (by the stored metric values)."""
        others = [r for r in self.results if r is not self.winner]
        best = others[0] if others else None
        for r in others[1:]:
            if self.metric.better(r.value, best.value):
                best = r
        return best
