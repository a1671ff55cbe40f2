"""``advise``: profile a target, match the decision table, fill in the options and reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from losskit.advisor.advice import Advice
from losskit.advisor.options import OPTION_RULES
from losskit.advisor.profile import TargetProfile, profile_features, profile_target
from losskit.advisor.table import GENERAL_NOTES, Alt, Field, Note, Row, holds, match
from losskit.catalog import LossChoice, lookup
from losskit.catalog import names as catalog_names

__all__ = ["advise", "advise_profile"]


def _fields(profile: TargetProfile) -> dict[str, Any]:
    out = {name: getattr(profile, name) for name in profile.__dataclass_fields__ if name != "encoded"}
    if profile.one_hot:
        out["n_labels"] = profile.n_classes
    features = profile.features
    if features is not None:
        out["feature_ratio"] = features.n_features / max(1, features.n_rows)
        out["missing_feature_share"] = features.missing_share
        out["constant_features"] = features.constant_features
    return out


def _render(notes: Sequence[Note], fields: dict[str, Any]) -> list[str]:
    return [note.text.format_map(fields) for note in notes if holds(note.when, fields)]


def _choice(row: Row, options: dict[str, Any], fields: dict[str, Any]) -> LossChoice | None:
    if row.loss not in catalog_names():
        return None  # the multi-task combination
    reason = _render(row.reasons[:1], fields)
    return LossChoice(lookup(row.loss), dict(options), row.target_transform, None, reason[0] if reason else "")


def _alternative(alt: Alt, fields: dict[str, Any]) -> LossChoice:
    options = {k: fields[v.name] if isinstance(v, Field) else v for k, v in alt.options}
    return LossChoice(lookup(alt.loss), options, alt.target_transform, alt.resample, alt.reason.format_map(fields))


def advise_profile(profile: TargetProfile, **request: Any) -> Advice:
    """Advice for an already measured profile (``request`` carries ``quantiles=``)."""
    fields = _fields(profile)
    row = match(fields)
    options, extra = OPTION_RULES[row.options](profile, request)
    fields.update(extra)
    parts = None
    if profile.tasks:
        parts = {name: advise_profile(sub, **request) for name, sub in profile.tasks.items()}
    choice = _choice(row, options, fields)
    return Advice(
        task=profile.task,
        loss=row.loss,
        module=f"nn.{choice.entry.module}" if choice else "multitask.MultiTaskLoss",
        options=options,
        row=row.id,
        reasons=_render(row.reasons, fields),
        alternatives=[_alternative(a, fields) for a in row.alternatives],
        warnings=_render(row.warnings, fields) + _render(GENERAL_NOTES, fields),
        metrics=list(row.metrics),
        target_transform=row.target_transform,
        profile=profile,
        parts=parts,
        choice=choice,
        metric_keys=list(row.metric_keys),
    )


def advise(
    y: Any,
    X: Any = None,
    *,
    task: str | None = None,
    scores: Any = None,
    quantiles: Sequence[float] | None = None,
    input_lengths: Any = None,
    tag_separator: str | None = None,
    pos_label: Any = None,
    group: Any = None,
) -> Advice:
    """Recommend a loss, its options and the metrics to report for a target.

    The target is profiled (:func:`losskit.advisor.profile.profile_target`), the first
    matching row of :data:`losskit.advisor.table.DECISION_TABLE` is taken, and its options
    rule computes ready-to-use arguments (class weights, ``pos_weight``, Huber ``delta``).

    Args:
        y: the target: 1-D values, a 0/1 indicator matrix, tag sets or delimited tags, label
            sequences, or several columns (DataFrame / mapping) for multi-label or multi-task.
        X: optional features; their shape and quality add warnings.
        task: override the inferred task: ``"regression"``, ``"binary"``, ``"multiclass"``,
            ``"multilabel"``, ``"ordinal"``, ``"ranking"``, ``"embedding"`` (``y`` holds
            identity labels), ``"sequence"`` (``y`` holds label sequences), ``"quantile"``,
            ``"multitask"``.
        scores: ``(N, C)`` probabilities or logits of a current multi-class model (columns in
            sorted label order); an overconfident model gets label smoothing.
        quantiles: the quantiles to forecast (``task="quantile"``), default 0.1, 0.5, 0.9.
        input_lengths: frames per sequence (``task="sequence"``) for a CTC feasibility check.
        tag_separator: separator of a delimited-tags column (detected among ``| ; ,``).
        pos_label: the positive class of a binary target (default: 1 / True for 0/1 and boolean
            labels, else the minority class; :func:`losskit.tasks.positive_class`).
        group: the query id of each row of a ranking target (``task="ranking"``): a table where
            nearly every query has exactly one relevant row (a choice among alternatives) gets
            ListNet, graded relevance RankNet.

    Returns:
        :class:`~losskit.advisor.advice.Advice`; ``advice.build()`` is the configured module.

    Example:
        >>> import numpy as np, losskit
        >>> y = np.r_[np.zeros(990), np.ones(10)]
        >>> advice = losskit.advise(y)
        >>> advice.row, advice.loss, advice.options, advice.profile.positive_class
        ('binary_rare', 'binary_cross_entropy_with_logits', {}, 1)
        >>> [(a.name, a.options, a.resample) for a in advice.alternatives]  # doctest: +NORMALIZE_WHITESPACE
        [('binary_focal_loss', {'gamma': 2.0}, None),
         ('binary_cross_entropy_with_logits', {'pos_weight': 'balanced'}, None),
         ('binary_cross_entropy_with_logits', {}, 'under')]
    """
    profile = profile_target(
        y,
        task=task,
        scores=scores,
        input_lengths=input_lengths,
        tag_separator=tag_separator,
        pos_label=pos_label,
        group=group,
    )
    if X is not None:
        profile.features = profile_features(X)
    return advise_profile(profile, quantiles=quantiles)
