"""Streaming, mergeable evaluation: a ready-made :class:`torchmetrics.MetricCollection` per task.

torchmetrics keeps each metric's sufficient statistics, updates them batch by batch and syncs
them over ``torch.distributed`` when ``compute()`` runs in a process group, so evaluation over
data that does not fit in memory, or that is spread over ranks, needs no code of ours beyond
choosing the metrics. The keys match those of :func:`losskit.evaluate.metrics` for the same task.

=============  ===============================================================================
task           keys (torchmetrics classes)
=============  ===============================================================================
binary         accuracy, precision, recall, f1, roc_auc, average_precision, ece
multiclass     accuracy, macro_f1, weighted_f1, top_{k}_accuracy (when k < classes), ece
multilabel     subset_accuracy, hamming_loss, micro_f1, macro_f1, average_precision_macro
regression     mae, mse, rmse, r2 (single-output targets)
language       perplexity (``update(logits (B, T, V), target (B, T))``)
=============  ===============================================================================

Classification inputs are probabilities (torchmetrics would silently apply a sigmoid/softmax to
values outside [0, 1]). ``ece`` is :class:`CalibrationError`, not torchmetrics' own: it bins by
the rule of :func:`losskit.evaluate.calibration` (a probability on a bin edge goes to the bin
below), so the streaming and the one-shot ECE agree on every input. The median absolute error
and the quantile metrics have no mergeable form here; compute them with
:func:`losskit.evaluate.metrics` on gathered predictions.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric, MetricCollection, classification, regression
from torchmetrics.text import Perplexity

from losskit._errors import LossInputError
from losskit._validation import check_choice, check_values_in_range
from losskit.evaluate.calibration import bin_index

__all__ = ["STREAMING_TASKS", "CalibrationError", "streaming_metrics"]

STREAMING_TASKS = ("binary", "multiclass", "multilabel", "regression", "language")


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LossInputError(name, f"an integer >= {minimum}", repr(value))
    return value


class CalibrationError(Metric):
    """Mergeable expected calibration error with the binning rule of :func:`losskit.evaluate.calibration`.

    The state is three float64 vectors per bin (count, summed confidence, summed hits), summed
    across ranks. ``update(preds, target)``: binary ``preds`` ``(N,)`` probabilities of the
    positive class with 0/1 ``target``; multi-class ``preds`` ``(N, C)`` probabilities with class
    indices (binned by the top-label confidence).

    Example:
        >>> import torch
        >>> m = CalibrationError(n_bins=5)
        >>> m.update(torch.tensor([0.15, 0.2, 0.25, 0.6], dtype=torch.float64), torch.tensor([0, 1, 1, 1]))
        >>> round(float(m.compute()), 6)
        0.45
    """

    full_state_update = False

    def __init__(self, n_bins: int = 15) -> None:
        super().__init__()
        self.n_bins = n_bins
        self._edges = np.linspace(0.0, 1.0, n_bins + 1)
        for name in ("count", "confidence", "hits"):
            self.add_state(name, default=torch.zeros(n_bins, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        check_values_in_range("preds", preds, 0.0, 1.0)
        p = preds.detach().to("cpu", torch.float64)
        t = target.detach().to("cpu")
        if p.dim() == 2:
            confidence, predicted = p.max(dim=1)
            hit = (predicted == t).to(torch.float64)
        else:
            confidence, hit = p, t.to(torch.float64)
        bins = torch.from_numpy(bin_index(confidence.numpy(), self._edges))
        device = self.count.device
        self.count += torch.bincount(bins, minlength=self.n_bins).to(device, torch.float64)
        self.confidence += torch.bincount(bins, weights=confidence, minlength=self.n_bins).to(device)
        self.hits += torch.bincount(bins, weights=hit, minlength=self.n_bins).to(device)

    def compute(self) -> torch.Tensor:
        filled = self.count > 0
        gap = (self.hits[filled] - self.confidence[filled]).abs()
        return (gap.sum() / self.count.sum()) if bool(filled.any()) else self.count.sum() * 0


def streaming_metrics(
    task: str,
    *,
    num_classes: int | None = None,
    num_labels: int | None = None,
    threshold: float = 0.5,
    top_k: int = 5,
    n_bins: int = 15,
    thresholds: int | None = None,
    ignore_index: int = -100,
) -> MetricCollection:
    """Build the streaming metric collection of a task.

    Args:
        task: one of :data:`STREAMING_TASKS`.
        num_classes: number of classes (multi-class, ≥ 2).
        num_labels: number of labels (multi-label).
        threshold: decision threshold of the hard predictions (binary, multi-label).
        top_k: ``k`` of the multi-class top-k accuracy.
        n_bins: bins of the expected calibration error.
        thresholds: None keeps every score for exact ROC-AUC / average precision (memory grows
            with the data); an integer bins the scores into that many thresholds (constant memory,
            approximate curves).
        ignore_index: target id that perplexity skips.

    Returns:
        A :class:`torchmetrics.MetricCollection`: ``update(preds, target)`` per batch, then
        ``compute()`` (synced across ranks under ``torch.distributed``), ``reset()`` to reuse.

    Example:
        >>> import torch
        >>> from losskit.evaluate import streaming_metrics
        >>> m = streaming_metrics("regression")
        >>> for _ in range(3):
        ...     m.update(torch.ones(4), torch.zeros(4))
        >>> float(m.compute()["mae"])
        1.0
    """
    check_choice("task", task, STREAMING_TASKS)
    if thresholds is not None:
        _positive_int("thresholds", thresholds, 2)
    n_bins = _positive_int("n_bins", n_bins)
    found: dict[str, Metric]
    if task == "binary":
        found = {
            "accuracy": classification.BinaryAccuracy(threshold=threshold),
            "precision": classification.BinaryPrecision(threshold=threshold),
            "recall": classification.BinaryRecall(threshold=threshold),
            "f1": classification.BinaryF1Score(threshold=threshold),
            "roc_auc": classification.BinaryAUROC(thresholds=thresholds),
            "average_precision": classification.BinaryAveragePrecision(thresholds=thresholds),
            "ece": CalibrationError(n_bins=n_bins),
        }
    elif task == "multiclass":
        c = _positive_int("num_classes", num_classes, 2)
        k = _positive_int("top_k", top_k)
        found = {
            "accuracy": classification.MulticlassAccuracy(num_classes=c, average="micro"),
            "macro_f1": classification.MulticlassF1Score(num_classes=c, average="macro"),
            "weighted_f1": classification.MulticlassF1Score(num_classes=c, average="weighted"),
            "ece": CalibrationError(n_bins=n_bins),
        }
        if k < c:
            found[f"top_{k}_accuracy"] = classification.MulticlassAccuracy(num_classes=c, top_k=k, average="micro")
    elif task == "multilabel":
        n = _positive_int("num_labels", num_labels)
        found = {
            "subset_accuracy": classification.MultilabelExactMatch(num_labels=n, threshold=threshold),
            "hamming_loss": classification.MultilabelHammingDistance(num_labels=n, threshold=threshold),
            "micro_f1": classification.MultilabelF1Score(num_labels=n, threshold=threshold, average="micro"),
            "macro_f1": classification.MultilabelF1Score(num_labels=n, threshold=threshold, average="macro"),
            "average_precision_macro": classification.MultilabelAveragePrecision(
                num_labels=n, average="macro", thresholds=thresholds
            ),
        }
    elif task == "regression":
        found = {
            "mae": regression.MeanAbsoluteError(),
            "mse": regression.MeanSquaredError(),
            "rmse": regression.MeanSquaredError(squared=False),
            "r2": regression.R2Score(),
        }
    else:
        found = {"perplexity": Perplexity(ignore_index=ignore_index)}
    return MetricCollection(found)
