"""Options rules: the keyword arguments each decision-table row hands to its loss.

A rule takes the target profile and the user's request (``quantiles=...``) and returns
``(kwargs, fields)``: ``kwargs`` go straight to the loss (``losskit.nn`` module or function),
``fields`` are extra numbers the row's reasons and warnings quote (``delta``, the range of the
class weights ...). Rows name their rule in :data:`~losskit.advisor.table.DECISION_TABLE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from losskit._errors import LossInputError
from losskit.advisor.profile import TargetProfile

__all__ = ["HUBER_EFFICIENCY", "LABEL_SMOOTHING", "OPTION_RULES", "TRIPLET_MARGIN"]

# Huber's tuning constant: 95% asymptotic efficiency under Gaussian noise (Huber 1964).
HUBER_EFFICIENCY = 1.345
LABEL_SMOOTHING = 0.1
TRIPLET_MARGIN = 0.2
EFFECTIVE_NUMBER_BETA = 0.999
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)

Rule = Callable[[TargetProfile, dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def _none(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """No options."""
    return {}, {}


def _huber_delta(profile: TargetProfile) -> float:
    return HUBER_EFFICIENCY * float(profile.robust_scale)


def _huber(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``delta`` = 1.345 x 1.4826 x MAD(y)."""
    delta = _huber_delta(profile)
    return {"delta": delta}, {"delta": delta}


def _huber_alternative(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """No options; Huber's ``delta`` on the raw scale is computed for the alternative."""
    return {}, {"delta": _huber_delta(profile)}


def _rare_positive(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """No options (tune the threshold); ``pos_weight`` = n_neg / n_pos is measured for the reasons."""
    from losskit.imbalance import pos_weight

    w = pos_weight(torch.as_tensor(profile.encoded, dtype=torch.float32))
    return {}, {"pos_weight": float(torch.as_tensor(w).reshape(()))}


def _label_pos_weight(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``pos_weight`` = n_neg / n_pos, one per label."""
    from losskit.imbalance import pos_weight

    w = torch.as_tensor(pos_weight(torch.as_tensor(profile.encoded, dtype=torch.float32)), dtype=torch.float32)
    return {"pos_weight": w}, {"pos_weight_min": float(w.min()), "pos_weight_max": float(w.max())}


def _class_weights(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``weight`` = effective-number class weights (beta 0.999), summing to C."""
    from losskit.imbalance import class_weights

    y = torch.as_tensor(profile.encoded, dtype=torch.long)
    w = torch.as_tensor(
        class_weights(y, num_classes=profile.n_classes, method="effective_number", beta=EFFECTIVE_NUMBER_BETA),
        dtype=torch.float32,
    )
    fields = {"beta": EFFECTIVE_NUMBER_BETA, "weight_min": float(w.min()), "weight_max": float(w.max())}
    return {"weight": w}, fields


def _label_smoothing(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``label_smoothing`` = 0.1."""
    eps = LABEL_SMOOTHING
    # Smoothed target for the true class: (1 - eps) + eps / C.
    top = 1.0 - eps + eps / profile.n_classes
    return {"label_smoothing": eps}, {"label_smoothing": eps, "target_confidence": top}


def _quantiles(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``quantiles`` (default 0.1, 0.5, 0.9) and ``monotone=True``."""
    qs = request.get("quantiles")
    qs = DEFAULT_QUANTILES if qs is None else qs
    if not isinstance(qs, Sequence) or not qs or any(not isinstance(q, int | float) or not 0 < q < 1 for q in qs):
        raise LossInputError("quantiles", "a non-empty sequence of numbers strictly inside (0, 1)", repr(qs))
    qs = sorted(float(q) for q in qs)
    text = ", ".join(f"{q:g}" for q in qs)
    return {"quantiles": qs, "monotone": True}, {"quantiles_text": text, "n_quantiles": len(qs)}


def _triplet(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``margin`` = 0.2, ``mining='batch_hard'``."""
    return {"margin": TRIPLET_MARGIN, "mining": "batch_hard"}, {"margin": TRIPLET_MARGIN}


def _ctc(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``blank`` = 0."""
    return {"blank": 0}, {"n_symbols": profile.alphabet_size + 1}


def _multitask(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``tasks`` = {name: 'regression' or 'classification'}, ``weighting='uncertainty'``."""
    kinds = {
        name: "regression" if p.task in ("regression", "quantile") else "classification"
        for name, p in profile.tasks.items()
    }
    listing = ", ".join(f"{name}: {p.task}" for name, p in profile.tasks.items())
    baselines = ", ".join(f"{name} {value:.3g}" for name, value in profile.baseline_losses.items())
    fields = {"n_tasks": len(kinds), "task_list": listing, "baseline_text": baselines}
    return {"tasks": kinds, "weighting": "uncertainty"}, fields


def _ordinal(profile: TargetProfile, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """No options; the model has one output per threshold (levels - 1)."""
    return {}, {"n_thresholds": profile.n_classes - 1}


OPTION_RULES: dict[str, Rule] = {
    "none": _none,
    "huber": _huber,
    "huber_alternative": _huber_alternative,
    "rare_positive": _rare_positive,
    "label_pos_weight": _label_pos_weight,
    "class_weights": _class_weights,
    "label_smoothing": _label_smoothing,
    "quantiles": _quantiles,
    "triplet": _triplet,
    "ctc": _ctc,
    "multitask": _multitask,
    "ordinal": _ordinal,
}
