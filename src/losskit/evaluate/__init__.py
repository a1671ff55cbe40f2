"""Evaluation: the metrics people report, built on scikit-learn and torchmetrics.

* :func:`metrics`: a flat dict of the standard metrics of a binary, multi-class, multi-label,
  regression or quantile task (``sklearn.metrics``), undefined ones NaN with a warning.
* :func:`tune_threshold`: the exact best decision threshold on validation scores.
* :func:`calibration`, :func:`temperature_scale`: ECE/MCE, reliability curve, temperature.
* :func:`adjust_for_prior_shift`, :func:`estimate_prior_shift`: label-shift correction (Saerens EM).
* :func:`perplexity`, :func:`bleu`: language-model and generation metrics.
* :func:`streaming_metrics`: mergeable, distributed-ready torchmetrics collections.
"""

from losskit._optional import requires_extra

with requires_extra("eval", "losskit.evaluate"):
    from losskit.evaluate.calibration import STRATEGIES, CalibrationResult, calibration, temperature_scale
    from losskit.evaluate.language import BleuResult, bleu, perplexity
    from losskit.evaluate.metrics import TASKS, infer_task, metrics
    from losskit.evaluate.prior_shift import PriorShiftEstimate, adjust_for_prior_shift, estimate_prior_shift
    from losskit.evaluate.streaming import STREAMING_TASKS, streaming_metrics
    from losskit.evaluate.thresholds import (
        OBJECTIVES,
        MultiLabelThresholdResult,
        ThresholdCurve,
        ThresholdResult,
        tune_threshold,
    )

__all__ = [
    "OBJECTIVES",
    "STRATEGIES",
    "STREAMING_TASKS",
    "TASKS",
    "BleuResult",
    "CalibrationResult",
    "MultiLabelThresholdResult",
    "PriorShiftEstimate",
    "ThresholdCurve",
    "ThresholdResult",
    "adjust_for_prior_shift",
    "bleu",
    "calibration",
    "estimate_prior_shift",
    "infer_task",
    "metrics",
    "perplexity",
    "streaming_metrics",
    "temperature_scale",
    "tune_threshold",
]
