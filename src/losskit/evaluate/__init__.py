"""Evaluation: the metrics people report, built on scikit-learn and torchmetrics.

* :func:`metrics`: a flat dict of the standard metrics of a binary, multi-class, multi-label,
  regression or quantile task (``sklearn.metrics``), undefined ones NaN with a warning.
* :func:`tune_threshold`: the exact best decision threshold on validation scores.
* :func:`calibration`, :func:`temperature_scale`: ECE/MCE, reliability curve, temperature.
* :func:`adjust_for_prior_shift`, :func:`estimate_prior_shift`: label-shift correction (Saerens EM).
* :func:`perplexity`, :func:`bleu`: language-model and generation metrics.
* :func:`streaming_metrics`: mergeable, distributed-ready torchmetrics collections.
* :func:`poisson_deviance`, :func:`tweedie_deviance`, :func:`gamma_deviance`, :func:`d2_score`:
  count and positive targets.
* :func:`level_mae`, :func:`quadratic_weighted_kappa`: ordinal levels.
* :func:`ndcg_at_k`, :func:`mrr`, :func:`map_at_k`: ranked lists (padded, with a mask).
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

with requires_extra("eval", "losskit.evaluate"):
    from losskit.evaluate.counts import d2_score, gamma_deviance, poisson_deviance, tweedie_deviance
    from losskit.evaluate.ordinal import level_mae, quadratic_weighted_kappa
    from losskit.evaluate.ranking import GAINS, map_at_k, mrr, ndcg_at_k

__all__ += [
    "GAINS",
    "d2_score",
    "gamma_deviance",
    "level_mae",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "poisson_deviance",
    "quadratic_weighted_kappa",
    "tweedie_deviance",
]
