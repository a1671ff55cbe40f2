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
values outside [0, 1]). The median absolute error and the quantile metrics have no mergeable
form here; compute them with :func:`losskit.evaluate.metrics` on gathered predictions.
"""

from __future__ import annotations

from torchmetrics import Metric, MetricCollection, classification, regression
from torchmetrics.text import Perplexity

from losskit._errors import LossInputError
from losskit._validation import check_choice

__all__ = ["STREAMING_TASKS", "streaming_metrics"]

STREAMING_TASKS = ("binary", "multiclass", "multilabel", "regression", "language")


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LossInputError(name, f"an integer >= {minimum}", repr(value))
    return value


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
            "ece": classification.BinaryCalibrationError(n_bins=n_bins),
        }
    elif task == "multiclass":
        c = _positive_int("num_classes", num_classes, 2)
        k = _positive_int("top_k", top_k)
        found = {
            "accuracy": classification.MulticlassAccuracy(num_classes=c, average="micro"),
            "macro_f1": classification.MulticlassF1Score(num_classes=c, average="macro"),
            "weighted_f1": classification.MulticlassF1Score(num_classes=c, average="weighted"),
            "ece": classification.MulticlassCalibrationError(num_classes=c, n_bins=n_bins),
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
