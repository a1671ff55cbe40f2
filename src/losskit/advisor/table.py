"""The decision table: which loss for which target, as data.

The advisor, the documentation and the tests all read :data:`DECISION_TABLE`; nothing else
decides. Rows are tried in order and the first whose every clause holds wins, so specific
rows come before general ones. A clause is ``(field, op, value)`` over the measured
:class:`~losskit.advisor.profile.TargetProfile` fields and the numbers the row's options rule
computes (``delta``, ``pos_weight`` ...); a clause on a field that is not measured is false.
Reasons and warnings are ``str.format`` templates over the same fields, so every reason quotes
the numbers it rests on.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DECISION_TABLE",
    "GENERAL_NOTES",
    "Alt",
    "Clause",
    "Field",
    "Note",
    "Row",
    "decision_table_markdown",
    "holds",
    "match",
]

Clause = tuple[str, str, Any]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# Plain words for the fields that clauses use (documentation and rendering).
FIELD_WORDS = {
    "task": "task",
    "imbalance_ratio": "largest:smallest class ratio",
    "overconfidence_gap": "current model's confidence minus accuracy",
    "outlier_share": "share beyond 3.5 robust SDs",
    "extreme_share": "share beyond 10 robust SDs",
    "nonnegative": "target >= 0",
    "skew": "skewness",
    "log1p_skew": "skewness of log1p(target)",
    "log_scale": "target >= 0, right-skewed, and log1p removes the skew",
    "integer_valued": "whole numbers",
    "zero_share": "share of exact zeros",
    "dispersion": "variance / mean",
    "infeasible": "sequences shorter than their CTC alignment",
    "singleton_classes": "identities with one example",
    "minority_count": "minority class rows",
    "pos_weight_max": "largest pos_weight",
    "top_pair_jaccard": "largest label-pair Jaccard",
    "n_missing": "rows without a target",
    "one_hot": "one-hot indicator columns",
    "single_relevant_share": "share of queries with exactly one relevant row",
    "feature_ratio": "features per row",
    "missing_feature_share": "share of missing feature values",
    "constant_features": "constant feature columns",
}


@dataclass(frozen=True)
class Note:
    """A text template, shown only when all its clauses hold."""

    text: str
    when: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class Field:
    """An alternative's option value taken from the measured fields (``Field("delta")``)."""

    name: str


@dataclass(frozen=True)
class Alt:
    """An alternative as structure: a catalog loss, its options, a target transform or resampling,
    and the reason in words (a template over the same fields as the reasons).

    Attributes:
        loss: a :mod:`losskit.catalog` name.
        reason: when and why to prefer it.
        options: ``(key, value)`` pairs; a :class:`Field` value is read from the measured fields,
            a string such as ``"balanced"`` is a data-derived value (see :class:`losskit.catalog.Option`).
        target_transform: train on ``transform(target)`` (``"log1p"``).
        resample: ``"under"`` / ``"over"``: resample the training rows to balanced classes.
    """

    loss: str
    reason: str
    options: tuple[tuple[str, Any], ...] = ()
    target_transform: str | None = None
    resample: str | None = None


@dataclass(frozen=True)
class Row:
    """One row of the decision table.

    Attributes:
        id: stable identifier (``Advice.row``).
        when: clauses that must all hold.
        loss: the :mod:`losskit.catalog` name of the loss (``"huber_loss"``), or ``"MultiTaskLoss"``
            for the multi-task row (a combination of losses, not a catalog entry).
        options: name of the rule in :mod:`losskit.advisor.options` computing the keyword
            arguments (class weights, ``pos_weight``, ``delta`` ...).
        reasons, warnings: templates over the profile and option fields.
        alternatives: other reasonable choices, as :class:`Alt` structures.
        metrics: what to report for this kind of target, in words.
        metric_keys: the same metrics by name, where ``losskit compare --metric`` knows them
            (``average_precision``, ``macro_f1``, ``mae`` ...), best first.
        target_transform: a transform to apply to the target before the loss (``"log1p"``).
        reference: the paper or source behind the choice.
    """

    id: str
    when: tuple[Clause, ...]
    loss: str
    options: str
    reasons: tuple[Note, ...]
    alternatives: tuple[Alt, ...]
    warnings: tuple[Note, ...]
    metrics: tuple[str, ...]
    metric_keys: tuple[str, ...] = ()
    target_transform: str | None = None
    reference: str = ""


def holds(clauses: tuple[Clause, ...], fields: Mapping[str, Any]) -> bool:
    """Whether every clause holds for ``fields`` (a missing or ``None`` field fails)."""
    for name, op, value in clauses:
        actual = fields.get(name)
        if actual is None or not _OPS[op](actual, value):
            return False
    return True


def match(fields: Mapping[str, Any]) -> Row:
    """The first row of :data:`DECISION_TABLE` whose clauses hold."""
    for row in DECISION_TABLE:
        if holds(row.when, fields):
            return row
    raise LookupError(f"no decision-table row matches task {fields.get('task')!r}")


_TASK = "task"

# The listwise alternative of both ranking rows.
_LAMBDA_ALT = Alt(
    "lambda_loss", "listwise: weighs each pair by what swapping it costs in NDCG, so the top of each list counts most"
)

DECISION_TABLE: tuple[Row, ...] = (
    Row(
        id="sequence_ctc",
        when=((_TASK, "==", "sequence"),),
        loss="ctc_loss",
        options="ctc",
        reasons=(
            Note(
                "{n} label sequences (mean length {mean_length:.1f}, longest {max_length}, alphabet of "
                "{alphabet_size} symbols) with no frame alignment: CTC sums over every alignment"
            ),
            Note("the longest target needs {max_frames_needed} input frames (its length plus repeated labels)"),
        ),
        alternatives=(
            Alt("cross_entropy", "per frame, only when frame-level alignments exist"),
            Alt(
                "crf_loss",
                "for sequence tagging (one label per step) with correlated neighbouring labels: a linear-chain CRF "
                "scores whole tag paths",
            ),
        ),
        warnings=(
            Note(
                "ctc_loss takes log-probabilities (log_softmax over {n_symbols} classes, blank = 0) of shape "
                "(T, N, C), not raw logits"
            ),
            Note(
                "{infeasible} sequences have fewer input frames than their alignment needs: CTC is infinite for them",
                when=(("infeasible", ">", 0),),
            ),
        ),
        metrics=("character or word error rate (edit distance)", "exact-match rate of the decoded sequences"),
        reference="Graves et al. 2006, Connectionist Temporal Classification",
    ),
    Row(
        id="segmentation_dice_ce",
        when=((_TASK, "==", "segmentation"),),
        loss="dice_ce_loss",
        options="none",
        reasons=(
            Note(
                "{n} masks of {pixels_per_image} pixels over {n_classes} classes; the rarest class covers "
                "{minority_share:.2%} of the pixels (largest:smallest {imbalance_ratio:.1f}): cross-entropy alone is "
                "dominated by the common classes, the Dice term scores every class by its overlap whatever its size"
            ),
            Note(
                "{absent_class_share:.0%} of the (image, class) pairs have no pixel of the class: classes='present' "
                "leaves them out of the Dice mean instead of counting them as perfect or as failures",
                when=(("absent_class_share", ">", 0.0),),
            ),
        ),
        alternatives=(
            Alt(
                "focal_tversky_loss",
                "when small structures are missed: false negatives weigh more than false positives",
                (("alpha", 0.3), ("beta", 0.7)),
            ),
            Alt("lovasz_softmax_loss", "to fine-tune for the mean IoU (Jaccard index) itself"),
        ),
        warnings=(
            Note(
                "{ignored_share:.2%} of the pixels hold a negative value: pass it as ignore_index (void pixels)",
                when=(("ignored_share", ">", 0.0),),
            ),
        ),
        metrics=("mean IoU over classes", "Dice per class", "pixel accuracy"),
        reference="Isensee et al. 2021, nnU-Net (Dice + cross-entropy)",
    ),
    Row(
        id="embedding_triplet",
        when=((_TASK, "==", "embedding"),),
        loss="triplet_loss",
        options="triplet",
        reasons=(
            Note(
                "{n_classes} identities with a median of {median_per_class:.0f} examples each: learn a distance "
                "between embeddings rather than a classifier over fixed classes"
            ),
            Note("batch-hard mining finds the informative triplets inside each batch (margin {margin})"),
        ),
        alternatives=(
            Alt("contrastive_loss", "for labelled pairs (same / different)"),
            Alt("info_nce", "when every item comes with a second view"),
            Alt("arcface_loss", "for a closed set of identities with many examples each"),
            Alt("cosface_loss", "for a closed set of identities with many examples each"),
        ),
        warnings=(
            Note("build batches of P identities x K >= 2 examples, or batch-hard mining finds no positive"),
            Note(
                "{singleton_classes} identities have a single example: they can only serve as negatives",
                when=(("singleton_classes", ">", 0),),
            ),
        ),
        metrics=("recall@k", "mean average precision at R", "verification ROC-AUC"),
        reference="Hermans et al. 2017, In Defense of the Triplet Loss for Person Re-Identification",
    ),
    Row(
        id="multitask_uncertainty",
        when=((_TASK, "==", "multitask"),),
        loss="MultiTaskLoss",
        options="multitask",
        reasons=(
            Note("{n_tasks} targets of their own kinds ({task_list}), each with its own loss"),
            Note(
                "the losses of a constant prediction differ {loss_scale_ratio:.3g}-fold ({baseline_text}): with equal "
                "fixed weights the largest dominates the gradient",
                when=(("loss_scale_ratio", ">", 1.0),),
            ),
            Note("uncertainty weighting learns one log-variance per task and rescales each loss by it"),
        ),
        alternatives=(),
        warnings=(
            Note("log each task's metric separately: the weighted total hides a task that stops learning"),
            Note(
                "other weightings: weighting='gradnorm' (balances gradient norms at a shared layer) or fixed "
                "weights tuned by hand"
            ),
        ),
        metrics=("each task's own metric (see the per-task advice)",),
        reference="Kendall et al. 2018, Multi-Task Learning Using Uncertainty to Weigh Losses",
    ),
    Row(
        id="quantile_pinball",
        when=((_TASK, "==", "quantile"),),
        loss="pinball_loss",
        options="quantiles",
        reasons=(
            Note("a forecast of the quantiles {quantiles_text}: the pinball loss is minimised by the true quantile"),
            Note("the target's 10%-90% range is [{q10:.4g}, {q90:.4g}] around a median of {median:.4g}"),
        ),
        alternatives=(Alt("huber_loss", "for a single point forecast"),),
        warnings=(
            Note("the model's output needs a trailing dimension of {n_quantiles}, one column per quantile"),
            Note("monotone=True keeps the quantiles from crossing"),
        ),
        metrics=("pinball loss per quantile", "coverage of the outer interval", "interval width"),
        reference="Koenker and Bassett 1978, Regression Quantiles",
    ),
    Row(
        id="ranking_choice",
        when=((_TASK, "==", "ranking"), ("single_relevant_share", ">=", 0.9)),
        loss="listnet_loss",
        options="none",
        reasons=(
            Note(
                "{single_relevant_share:.0%} of the {n_queries} queries have exactly one relevant item, a choice "
                "among alternatives: ListNet's softmax over each list is then the conditional-logit likelihood of "
                "that choice"
            ),
        ),
        alternatives=(
            Alt("pairwise_logistic_loss", "RankNet: pairs within each query, the default for graded relevance"),
            _LAMBDA_ALT,
        ),
        warnings=(Note("scores are compared only within a query group: pass the group ids"),),
        metrics=("MRR", "NDCG@k"),
        metric_keys=("ndcg@10", "mrr"),
        reference="McFadden 1974, Conditional logit analysis of qualitative choice; Cao et al. 2007 (ListNet)",
    ),
    Row(
        id="ranking_pairwise",
        when=((_TASK, "==", "ranking"),),
        loss="pairwise_logistic_loss",
        options="none",
        reasons=(
            Note(
                "relevance labels with {n_classes} levels: the order of scores within a query matters, not their values"
            ),
        ),
        alternatives=(
            _LAMBDA_ALT,
            Alt("listnet_loss", "listwise: cross-entropy between the score and relevance distributions of each list"),
            Alt("margin_ranking_loss", "on sampled pairs"),
        ),
        warnings=(Note("pairs must only be formed within a query group: pass the group ids"),),
        metrics=("NDCG@k", "mean average precision", "MRR"),
        metric_keys=("ndcg@10", "map@10", "mrr"),
        reference="Burges et al. 2005, Learning to Rank using Gradient Descent (RankNet)",
    ),
    Row(
        id="ordinal_corn",
        when=((_TASK, "==", "ordinal"),),
        loss="corn_loss",
        options="ordinal",
        reasons=(
            Note(
                "{n_classes} ordered levels ({classes}): CORN learns {n_thresholds} conditional 'above level k' "
                "tasks, so a prediction is off by as few levels as possible and the predicted levels are rank "
                "consistent with any network"
            ),
        ),
        alternatives=(
            Alt("cross_entropy", "ignores the order; a safe baseline"),
            Alt("coral_loss", "with a head of shared weights and one bias per threshold"),
            Alt("mae_loss", "on the level index (respects the order, assumes equally spaced levels)"),
        ),
        warnings=(
            Note(
                "the model needs {n_thresholds} outputs (levels - 1) and predicts with losskit.corn_predict; "
                "the levels, lowest first: {classes} (sorted values, or an ordered categorical's own order)"
            ),
        ),
        metrics=("mean absolute error on the level index", "quadratic weighted kappa"),
        metric_keys=("mae", "qwk"),
        reference="Shi, Cao and Raschka 2023, Deep Neural Networks for Rank-Consistent Ordinal Regression (CORN)",
    ),
    Row(
        id="multilabel_bce",
        when=((_TASK, "==", "multilabel"),),
        loss="binary_cross_entropy_with_logits",
        options="label_pos_weight",
        reasons=(
            Note(
                "rows carry {label_cardinality:.2f} of {n_labels} labels on average: labels are not exclusive, so "
                "a softmax would make them compete; use one sigmoid per label"
            ),
            Note(
                "label rates range from {rarest_label_rate:.2%} ({rarest_label}) to {commonest_label_rate:.2%}: "
                "pos_weight = n_neg / n_pos per label, from {pos_weight_min:.3g} to {pos_weight_max:.3g}"
            ),
            Note(
                "labels co-occur ({top_pair}: Jaccard {top_pair_jaccard:.2f}); per-label sigmoids allow that",
                when=(("top_pair_jaccard", ">=", 0.1),),
            ),
        ),
        alternatives=(
            Alt("binary_focal_loss", "when rare labels are swamped by easy negatives", (("gamma", 2.0),)),
            Alt(
                "asymmetric_loss",
                "with rare labels: negatives focused harder than positives and the easiest ones discarded "
                "(probability margin), Ridnik et al. 2021",
                (("gamma_neg", 4.0), ("clip", 0.05)),
            ),
        ),
        warnings=(
            Note("tune one threshold per label on validation data: 0.5 is rarely right for rare labels"),
            Note(
                "pos_weight reaches {pos_weight_max:.3g}: cap it or try binary_focal_loss if training is unstable",
                when=(("pos_weight_max", ">", 50.0),),
            ),
        ),
        metrics=("macro and micro PR-AUC", "per-label F1 at tuned thresholds", "Hamming loss"),
    ),
    Row(
        id="multiclass_overconfident",
        when=((_TASK, "==", "multiclass"), ("overconfidence_gap", ">", 0.05)),
        loss="cross_entropy",
        options="label_smoothing",
        reasons=(
            Note(
                "the current model's mean confidence {confidence:.1%} exceeds its accuracy {accuracy:.1%} by "
                "{overconfidence_gap:.1%}: it is overconfident"
            ),
            Note(
                "label smoothing {label_smoothing} caps the target probability at {target_confidence:.1%} over "
                "{n_classes} classes"
            ),
        ),
        alternatives=(
            Alt("focal_loss", "also tempers confidence", (("gamma", 2.0),)),
            Alt("cross_entropy", "plain, then temperature scaling after training (losskit.evaluate)"),
        ),
        warnings=(
            Note(
                "evaluate with an unsmoothed cross-entropy: a smoothed training loss is not comparable with it "
                "(losskit.check(..., eval_loss=...) flags the mismatch)"
            ),
        ),
        metrics=("expected calibration error", "negative log-likelihood", "accuracy"),
        metric_keys=("log_loss", "accuracy"),
        reference="Szegedy et al. 2016, Rethinking the Inception Architecture (label smoothing)",
    ),
    Row(
        id="multiclass_imbalanced",
        when=((_TASK, "==", "multiclass"), ("imbalance_ratio", ">=", 10.0)),
        loss="cross_entropy",
        options="class_weights",
        reasons=(
            Note(
                "{n_classes} classes; the largest ({majority_class!r}, {majority_share:.1%}) outnumbers the smallest "
                "({minority_class!r}, {minority_count} rows) {imbalance_ratio:.1f} to 1"
            ),
            Note(
                "class weights by the effective number of samples (beta {beta}) range from {weight_min:.3g} to "
                "{weight_max:.3g}"
            ),
        ),
        alternatives=(
            Alt("focal_loss", "down-weights the easy majority examples", (("gamma", 2.0),)),
            Alt("cross_entropy", "on class-balanced resampled training rows instead of weights", resample="over"),
            Alt("cross_entropy", "label smoothing, if the model turns out overconfident", (("label_smoothing", 0.1),)),
        ),
        warnings=(Note("accuracy is dominated by {majority_class!r}: report macro-F1 and balanced accuracy"),),
        metrics=("macro-F1", "balanced accuracy", "per-class recall"),
        metric_keys=("macro_f1", "balanced_accuracy"),
        reference="Cui et al. 2019, Class-Balanced Loss Based on Effective Number of Samples",
    ),
    Row(
        id="multiclass_ce",
        when=((_TASK, "==", "multiclass"),),
        loss="cross_entropy",
        options="none",
        reasons=(
            Note(
                "{n_classes} exclusive classes, largest to smallest {imbalance_ratio:.2f} to 1: plain softmax "
                "cross-entropy"
            ),
        ),
        alternatives=(
            Alt("cross_entropy", "label smoothing, if the model turns out overconfident", (("label_smoothing", 0.1),)),
            Alt("focal_loss", "when a few hard classes are swamped by easy ones", (("gamma", 2.0),)),
        ),
        warnings=(),
        metrics=("accuracy", "macro-F1", "negative log-likelihood"),
        metric_keys=("accuracy", "macro_f1", "log_loss"),
    ),
    Row(
        id="binary_rare",
        when=((_TASK, "==", "binary"), ("imbalance_ratio", ">=", 4.0)),
        loss="binary_cross_entropy_with_logits",
        options="rare_positive",
        reasons=(
            Note(
                "the minority class {minority_class!r} is {minority_share:.2%} of {n} rows ({minority_count} rows, "
                "{imbalance_ratio:.1f} to 1)"
            ),
            Note(
                "tune the decision threshold on validation data (losskit.evaluate.tune_threshold): 0.5 maximises "
                "accuracy for calibrated scores, while the F1-optimal threshold is half the best attainable F1 "
                "(Lipton et al. 2014)"
            ),
            Note(
                "pos_weight = n_neg / n_pos = {pos_weight:.3g} would add log({pos_weight:.3g}) to the best logit, the "
                "same ranking with another threshold, while multiplying the pull of each of the {minority_count} "
                "positives: an unweighted loss with a tuned threshold keeps calibrated probabilities and less variance"
            ),
        ),
        alternatives=(
            Alt("binary_focal_loss", "when easy negatives swamp the gradient", (("gamma", 2.0),)),
            Alt(
                "binary_cross_entropy_with_logits",
                "pos_weight = n_neg / n_pos, when decisions must be taken at the fixed threshold 0.5",
                (("pos_weight", "balanced"),),
            ),
            Alt(
                "binary_cross_entropy_with_logits",
                "on the majority randomly undersampled to the minority's size, scores corrected back to the true "
                "prior (losskit.evaluate.adjust_for_prior_shift)",
                resample="under",
            ),
        ),
        warnings=(
            Note(
                "accuracy will look high with {minority_share:.2%} in the minority: always predicting "
                "{majority_class!r} scores {majority_share:.1%}; report PR-AUC and tune the threshold on "
                "validation data"
            ),
            Note(
                "with pos_weight or a focal loss the scores are not calibrated probabilities: recalibrate before "
                "reading them as such"
            ),
            Note(
                "only {minority_count} minority rows: every metric will be noisy; use stratified cross-validation",
                when=(("minority_count", "<", 100),),
            ),
        ),
        metrics=("PR-AUC (average precision)", "ROC-AUC", "F1 and recall at the tuned threshold"),
        metric_keys=("average_precision", "roc_auc", "f1", "recall"),
        reference="Elkan 2001, The Foundations of Cost-Sensitive Learning (reweighting equals a threshold change)",
    ),
    Row(
        id="binary_bce",
        when=((_TASK, "==", "binary"),),
        loss="binary_cross_entropy_with_logits",
        options="none",
        reasons=(
            Note(
                "two classes at {majority_share:.1%} / {minority_share:.1%} ({imbalance_ratio:.2f} to 1): balanced "
                "enough for plain binary cross-entropy on logits"
            ),
        ),
        alternatives=(Alt("binary_focal_loss", "if hard examples are rare", (("gamma", 2.0),)),),
        warnings=(),
        metrics=("ROC-AUC", "log loss", "accuracy", "Brier score"),
        metric_keys=("roc_auc", "log_loss", "accuracy", "brier"),
    ),
    Row(
        id="regression_counts",
        when=((_TASK, "==", "regression"), ("integer_valued", "==", True), ("minimum", "==", 0.0)),
        loss="poisson_loss",
        options="none",
        reasons=(
            Note(
                "{n} whole numbers from 0 to {maximum:.4g} (mean {mean:.3g}, {zero_share:.1%} zeros): counts, "
                "whose spread grows with their mean; the Poisson deviance with a log link models the mean count "
                "(the network outputs log(mean); predict exp(output))"
            ),
            Note(
                "variance / mean = {dispersion:.2f}: over-dispersed (Poisson expects 1); the Poisson fit of the "
                "mean stays consistent, but its likelihood understates the spread",
                when=(("dispersion", ">", 1.5),),
            ),
            Note(
                "variance / mean = {dispersion:.2f}: close to Poisson's 1",
                when=(("dispersion", "<=", 1.5),),
            ),
        ),
        alternatives=(
            Alt("tweedie_loss", "when many zeros sit beside a long tail", (("power", 1.5),)),
            Alt("mse_loss", "a relative-error fit", target_transform="log1p"),
        ),
        warnings=(
            Note("pass log(exposure) as offset when the counts cover different exposures (time, area, population)"),
        ),
        metrics=("mean Poisson deviance", "D^2 (deviance explained)", "MAE"),
        metric_keys=("poisson_deviance", "mae"),
        reference="McCullagh and Nelder 1989, Generalized Linear Models (Poisson regression)",
    ),
    Row(
        id="regression_tweedie",
        when=(
            (_TASK, "==", "regression"),
            ("nonnegative", "==", True),
            ("integer_valued", "==", False),
            ("zero_share", ">=", 0.05),
        ),
        loss="tweedie_loss",
        options="huber_alternative",
        reasons=(
            Note(
                "{zero_share:.1%} of the targets are exactly 0 and the rest continuous up to {maximum:.4g} (mean "
                "{mean:.3g}): the Tweedie deviance (power 1.5, a compound Poisson-Gamma) models the zeros and the "
                "positive amounts with one log-link mean"
            ),
        ),
        alternatives=(
            Alt("mse_loss", "a relative-error fit", target_transform="log1p"),
            Alt("huber_loss", "on the raw target, delta = 1.345 x 1.4826 x MAD", (("delta", Field("delta")),)),
        ),
        warnings=(Note("the network outputs log(mean): predict exp(output)"),),
        metrics=("mean Tweedie deviance (power 1.5)", "D^2 (deviance explained)", "MAE"),
        metric_keys=("mae",),
        reference="Jorgensen 1987, Exponential Dispersion Models (Tweedie)",
    ),
    Row(
        id="regression_log1p",
        when=((_TASK, "==", "regression"), ("log_scale", "==", True)),
        loss="mse_loss",
        options="huber_alternative",
        target_transform="log1p",
        reasons=(
            Note(
                "the target is non-negative (min {minimum:.4g}) and heavy-tailed to the right: skew {skew:.2f}, "
                "excess kurtosis {kurtosis:.1f}, max {maximum:.4g} against a median of {median:.4g}"
            ),
            Note(
                "after log1p the skew is {log1p_skew:.2f}: MSE on log1p(y) fits relative errors; predict expm1(output)"
            ),
        ),
        alternatives=(
            Alt("huber_loss", "on the raw target, delta = 1.345 x 1.4826 x MAD", (("delta", Field("delta")),)),
            Alt("pinball_loss", "at q = 0.5 (the median) on the raw target", (("quantiles", [0.5]),)),
            Alt("mse_loss", "on the raw target, when the mean in original units matters"),
        ),
        warnings=(
            Note(
                "expm1 of a fitted log1p mean predicts roughly the median, not the mean: fit on the raw scale if the "
                "mean matters"
            ),
            Note("report errors on the original scale"),
        ),
        metrics=("MAE and RMSE on the original scale", "RMSLE"),
        metric_keys=("mae", "rmse"),
    ),
    Row(
        id="regression_outliers",
        when=((_TASK, "==", "regression"), ("outlier_share", ">", 0.01)),
        loss="huber_loss",
        options="huber",
        reasons=(
            Note(
                "{outlier_share:.1%} of the targets lie beyond 3.5 robust SDs of the median (up to "
                "{max_robust_z:.1f}); Gaussian noise puts 0.05% there, and MSE would chase them"
            ),
            Note(
                "delta = 1.345 x 1.4826 x MAD = {delta:.4g} (MAD {mad:.4g}): Huber's 95%-efficiency constant on the "
                "robust scale"
            ),
        ),
        alternatives=(
            Alt("mae_loss", "median regression, when outliers are common"),
            Alt("log_cosh_loss", "smooth everywhere, quadratic near zero"),
        ),
        warnings=(
            Note("delta comes from the target's spread; once a model fits, re-estimate it from validation residuals"),
            Note(
                "{extreme_share:.2%} of the values lie beyond 10 robust SDs: check them for data errors",
                when=(("extreme_share", ">", 0.0),),
            ),
        ),
        metrics=("MAE", "median absolute error", "RMSE (sensitive to the outliers)"),
        metric_keys=("mae", "median_absolute_error", "rmse"),
        reference="Huber 1964, Robust Estimation of a Location Parameter",
    ),
    Row(
        id="regression_mse",
        when=((_TASK, "==", "regression"),),
        loss="mse_loss",
        options="huber_alternative",
        reasons=(
            Note(
                "{n} continuous values, {outlier_share:.2%} beyond 3.5 robust SDs, skew {skew:.2f}: close enough to "
                "Gaussian noise for MSE, its maximum-likelihood loss"
            ),
        ),
        alternatives=(Alt("huber_loss", "if residuals turn out heavy-tailed", (("delta", Field("delta")),)),),
        warnings=(),
        metrics=("RMSE", "MAE", "R^2"),
        metric_keys=("rmse", "mae", "r2"),
    ),
)

# Notes added to every advice when their clauses hold: data quality rather than loss choice.
GENERAL_NOTES: tuple[Note, ...] = (
    Note("{n_missing} rows have no target and were left out", when=(("n_missing", ">", 0),)),
    Note(
        "the {n_labels} indicator columns hold exactly one 1 per row: read as one multi-class target",
        when=(("one_hot", "==", True),),
    ),
    Note(
        "X has {feature_ratio:.2g} features per row: expect overfitting, regularise",
        when=(("feature_ratio", ">", 0.5),),
    ),
    Note("{missing_feature_share:.1%} of the feature values are missing", when=(("missing_feature_share", ">", 0.0),)),
    Note("{constant_features} feature columns are constant", when=(("constant_features", ">", 0),)),
)


def _clause_text(clause: Clause) -> str:
    name, op, value = clause
    word = FIELD_WORDS.get(name, name)
    if name == _TASK:
        return f"task is {value}"
    if value is True:
        return word
    if value is False:
        return f"not {word}"
    symbol = {"==": "=", "!=": "≠", "<=": "≤", ">=": "≥"}.get(op, op)
    shown = f"{value:.0%}" if name.endswith("share") and isinstance(value, float) else f"{value:g}"
    return f"{word} {symbol} {shown}"


def alt_text(alt: Alt) -> str:
    """An alternative in words: ``huber_loss(delta=δ) on log1p(y): reason``."""
    shown = ", ".join(f"{k}={'δ' if isinstance(v, Field) else v}" for k, v in alt.options)
    text = f"`{alt.loss}`" + (f"({shown})" if shown else "")
    text += f" on `{alt.target_transform}(y)`" if alt.target_transform else ""
    text += f" + {alt.resample}sampling" if alt.resample else ""
    return f"{text}: {alt.reason}"


def condition_text(row: Row) -> str:
    """A row's clauses in words."""
    return " and ".join(_clause_text(c) for c in row.when)


def decision_table_markdown() -> str:
    """The decision table as a Markdown table (the documentation embeds this text)."""
    from losskit.advisor.options import OPTION_RULES

    lines = [
        "| # | Row | When (first match wins) | Loss | Options | Alternatives | Report |",
        "|---|-----|-------------------------|------|---------|--------------|--------|",
    ]
    for i, row in enumerate(DECISION_TABLE, 1):
        loss = f"`{row.loss}`" + (f" on `{row.target_transform}(y)`" if row.target_transform else "")
        cells = [
            str(i),
            f"`{row.id}`",
            condition_text(row),
            loss,
            (OPTION_RULES[row.options].__doc__ or row.options).replace("``", "`"),
            "; ".join(alt_text(a) for a in row.alternatives),
            ", ".join(row.metrics),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
