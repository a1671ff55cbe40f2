"""Candidate losses: parse ``--losses``, resolve names and options, freeze data-derived options.

Syntax of ``--losses``: ``auto`` (the advisor's recommendation, its alternatives and the plain
baseline) or a comma-separated list ``name[:key=value,key=value...],name...``; a comma-separated
item containing ``=`` but no ``:`` continues the options of the previous name. Names are losskit
functional names (``binary_focal_loss``) or their short aliases (``focal``). Values are read as
numbers, booleans, ``none`` or strings; ``pos_weight=balanced`` and ``weight=balanced`` are computed
from the *training* labels and frozen into the candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit.imbalance import class_weights, pos_weight

__all__ = [
    "BASELINES",
    "LOSSES_BY_TASK",
    "Candidate",
    "canonical_name",
    "make_loss",
    "parse_losses",
    "reference_loss",
]

# Per task: the losses the lab can train with, and their short aliases.
LOSSES_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary": ("binary_cross_entropy_with_logits", "binary_focal_loss"),
    "multiclass": ("cross_entropy", "focal_loss"),
    "regression": ("mse_loss", "mae_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss", "pinball_loss"),
}
ALIASES: dict[str, dict[str, str]] = {
    "binary": {
        "bce": "binary_cross_entropy_with_logits",
        "log_loss": "binary_cross_entropy_with_logits",
        "logistic": "binary_cross_entropy_with_logits",
        "focal": "binary_focal_loss",
        "binary_focal": "binary_focal_loss",
    },
    "multiclass": {
        "ce": "cross_entropy",
        "log_loss": "cross_entropy",
        "softmax": "cross_entropy",
        "focal": "focal_loss",
    },
    "regression": {
        "mse": "mse_loss",
        "squared": "mse_loss",
        "l2": "mse_loss",
        "mae": "mae_loss",
        "l1": "mae_loss",
        "huber": "huber_loss",
        "smooth_l1": "smooth_l1_loss",
        "log_cosh": "log_cosh_loss",
        "pinball": "pinball_loss",
        "quantile": "pinball_loss",
    },
}
_WEIGHT_METHODS = ("balanced", "inverse", "effective_number")
# The plain loss every comparison includes, and the common reference loss logged for all candidates.
BASELINES = {"binary": "binary_cross_entropy_with_logits", "multiclass": "cross_entropy", "regression": "mse_loss"}


@dataclass
class Candidate:
    """One loss to train with.

    Attributes:
        name: the losskit functional name.
        options: keyword options as given (JSON-friendly; ``"balanced"`` not yet resolved).
        origin: ``"advisor"``, ``"alternative"``, ``"baseline"`` or ``"user"``.
        reasons: why it is a candidate (the advisor's reasons, when it came from there).
        frozen: the options actually used, data-derived values resolved (filled by :func:`make_loss`).
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    origin: str = "user"
    reasons: list[str] = field(default_factory=list)
    frozen: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        shown = self.frozen or self.options
        if not shown:
            return self.name
        parts = [f"{k}={_short(v)}" for k, v in shown.items()]
        return f"{self.name}({', '.join(parts)})"

    def key(self) -> tuple[str, tuple]:
        return self.name, tuple(sorted((k, repr(v)) for k, v in self.options.items()))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def canonical_name(name: str, task: str) -> str:
    """Resolve an alias; raise :class:`LossInputError` naming ``--losses`` for an unknown name."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES[task].get(key, key)
    if key not in LOSSES_BY_TASK[task]:
        known = sorted(set(LOSSES_BY_TASK[task]) | set(ALIASES[task]))
        raise LossInputError("losses", f"loss names for a {task} task ({', '.join(known)})", repr(name))
    return key


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if ";" in text:  # a list, e.g. quantiles=0.1;0.5;0.9
        return [_value(t) for t in text.split(";") if t.strip()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def parse_losses(spec: str, task: str) -> list[Candidate] | None:
    """Parse ``--losses``; ``None`` means ``auto``. Duplicates are removed, order kept."""
    if spec.strip().lower() == "auto":
        return None
    out: list[Candidate] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        if "=" in item and ":" not in item:
            if not out:
                raise LossInputError("losses", "name[:key=value,...],...", repr(spec))
            key, _, val = item.partition("=")
            out[-1].options[key.strip()] = _value(val)
            continue
        name, _, first = item.partition(":")
        cand = Candidate(name=canonical_name(name, task))
        if first:
            key, eq, val = first.partition("=")
            if not eq:
                raise LossInputError("losses", "options written as key=value", repr(item))
            cand.options[key.strip()] = _value(val)
        out.append(cand)
    if not out:
        raise LossInputError("losses", "'auto' or at least one loss name", repr(spec))
    unique: dict[tuple, Candidate] = {}
    for c in out:
        unique.setdefault(c.key(), c)
    return list(unique.values())


def _freeze(cand: Candidate, y_train: np.ndarray, n_classes: int) -> dict[str, Any]:
    frozen: dict[str, Any] = {}
    for key, value in cand.options.items():
        if value == "balanced" and key == "pos_weight" and cand.name in LOSSES_BY_TASK["binary"]:
            value = float(pos_weight(y_train))
        elif value in _WEIGHT_METHODS and key == "weight" and cand.name in LOSSES_BY_TASK["multiclass"]:
            value = class_weights(y_train, num_classes=n_classes, method=value).tolist()
        elif isinstance(value, str):
            raise LossInputError(f"losses {cand.name}:{key}", "a number, a boolean or 'balanced'", repr(value))
        frozen[key] = value
    if cand.name == "pinball_loss":
        q = frozen.get("quantiles", 0.5)
        q = q if isinstance(q, list) else [q]
        if len(q) != 1:
            raise LossInputError("losses pinball_loss:quantiles", "a single quantile (one output per row)", q)
        frozen["quantiles"] = [float(q[0])]
    return frozen


def _tensor_options(frozen: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in frozen.items():
        if key in ("pos_weight", "weight", "quantiles") and value is not None:
            out[key] = torch.as_tensor(value, dtype=torch.float32)
        elif key == "alpha" and isinstance(value, list):
            out[key] = torch.as_tensor(value, dtype=torch.float32)
        else:
            out[key] = value
    return out


LossFn = Callable[..., Tensor]


def _function(name: str) -> LossFn:
    from losskit import functional

    return getattr(functional, name)


def make_loss(cand: Candidate, y_train: np.ndarray, n_classes: int) -> LossFn:
    """Freeze ``cand``'s options on the training labels and return ``loss(input, target, num_items=None)``.

    The returned function calls the one losskit functional definition with ``reduction="mean"``;
    an option the loss does not accept is reported as a bad ``--losses`` option.
    """
    cand.frozen = _freeze(cand, y_train, n_classes)
    fn = _function(cand.name)
    options = _tensor_options(cand.frozen)
    try:  # fail now, on a tiny batch, rather than mid-training
        _probe(fn, cand.name, options, n_classes)
    except TypeError as exc:
        raise LossInputError(f"losses {cand.name}", "options the loss accepts", f"{exc}") from exc

    on_device: dict[torch.device, dict[str, Any]] = {}

    def loss(input: Tensor, target: Tensor, num_items: Any = None) -> Tensor:
        if input.device not in on_device:  # tensor options (pos_weight, class weights) follow the model
            on_device[input.device] = {
                k: v.to(input.device) if isinstance(v, Tensor) else v for k, v in options.items()
            }
        if cand.name == "pinball_loss":
            input = input.unsqueeze(-1)
        return fn(input, target, **on_device[input.device], reduction="mean", num_items=num_items)

    return loss


def _probe(fn: LossFn, name: str, options: dict[str, Any], n_classes: int) -> None:
    if name in LOSSES_BY_TASK["multiclass"]:
        fn(torch.zeros(2, n_classes), torch.zeros(2, dtype=torch.long), **options)
    elif name == "pinball_loss":
        fn(torch.zeros(2, 1), torch.zeros(2), **options)
    else:
        fn(torch.zeros(2), torch.zeros(2), **options)


def reference_loss(task: str) -> LossFn:
    """The common yardstick: plain log-loss (binary / multiclass) or MSE (regression), no options."""
    return _function(BASELINES[task])
