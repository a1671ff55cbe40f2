"""``check``: a runtime lint of one loss call (input, target and the loss's configuration).

It looks at the tensors a loss is about to receive and at how the loss is configured, and
returns the classic mistakes it finds as :class:`LintWarning` objects:

* ``multi_hot_target``: multi-hot rows fed to softmax cross-entropy;
* ``probabilities_as_logits``: values in [0, 1] (rows summing to 1) where logits are expected;
* ``class_index_out_of_range`` and ``target_out_of_range``;
* ``heavy_tailed_target``: a regression target with outliers or a heavy right tail under MSE
  (judged by the advisor's own decision table);
* ``imbalance_without_weights``: a strongly imbalanced target with no class weights;
* ``train_eval_mismatch``: training and evaluation losses configured differently (label
  smoothing on one side only, weights, another loss altogether);
* ``nonfinite``: NaN or inf in the input or target.

With ``strict=True`` the first finding is raised as :class:`losskit.LossInputError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losskit import catalog
from losskit._errors import LossInputError

__all__ = ["LintWarning", "LossSpec", "check", "loss_spec"]

# Largest:smallest class ratio (or negatives per positive) from which weights are expected.
IMBALANCE_RATIO = 10.0
# Fewest targets on which imbalance and tail shape are judged.
MIN_ITEMS = 50

# PyTorch losses on probabilities or log-probabilities that losskit leaves out on purpose (they are
# not autocast-safe and invite the probabilities-as-logits mistake): name -> family.
_TORCH_ONLY = {
    "nll_loss": "log_probability",
    "nllloss": "log_probability",
    "binary_cross_entropy": "probability",
    "bceloss": "probability",
}
_OPTION_NAMES = ("weight", "pos_weight", "alpha", "gamma", "label_smoothing", "ignore_index", "reduction", "delta")
_DEFAULTS = {"label_smoothing": 0.0, "ignore_index": -100, "reduction": "mean"}


@dataclass(frozen=True)
class LintWarning:
    """One finding of :func:`check`: a code, the argument it concerns and a sentence."""

    code: str
    argument: str
    message: str
    expected: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclass(frozen=True)
class LossSpec:
    """What :func:`check` knows about a loss: its family (the catalog entry's ``kind``), name and options."""

    family: str
    name: str
    options: dict[str, Any]

    def option(self, key: str) -> Any:
        return self.options.get(key, _DEFAULTS.get(key))


def loss_spec(loss: str | Callable[..., Any] | LossSpec) -> LossSpec:
    """Read a loss given as a name, a function, a ``functools.partial`` or a module."""
    if isinstance(loss, LossSpec):
        return loss
    options: dict[str, Any] = {}
    target: Any = loss
    while hasattr(target, "func") and hasattr(target, "keywords"):  # functools.partial, possibly nested
        options = {**target.keywords, **options}
        target = target.func
    if isinstance(target, str):
        name = target
    elif isinstance(target, torch.nn.Module):
        name = type(target).__name__
        for key in _OPTION_NAMES:
            if hasattr(target, key):
                options.setdefault(key, getattr(target, key))
    elif callable(target):
        name = getattr(target, "__name__", type(target).__name__)
    else:
        raise LossInputError("loss", "a loss name, function, functools.partial or module", repr(loss))
    key = name.rsplit(".", 1)[-1].strip().lower()
    if key in _TORCH_ONLY:
        return LossSpec(_TORCH_ONLY[key], key, options)
    try:
        entry = catalog.lookup(key)
    except LossInputError:
        if isinstance(target, str):  # a name must be known; a custom function need not be
            raise
        return LossSpec("unknown", key, options)
    return LossSpec(entry.kind, entry.name, options)


def _as_tensor(name: str, t: Any) -> Tensor:
    if isinstance(t, Tensor):
        return t.detach()
    try:
        return torch.as_tensor(t)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise LossInputError(name, "a tensor or array", type(t).__name__) from exc


def _range(t: Tensor) -> tuple[float, float]:
    """Smallest and largest value in one pass; NaN when ``t`` holds a NaN, +-inf when an inf."""
    if not t.is_floating_point() or t.numel() == 0:
        return math.nan, math.nan
    lo, hi = torch.aminmax(t.detach())
    return float(lo), float(hi)


def _nonfinite(tensors: dict[str, Tensor], ranges: dict[str, tuple[float, float]]) -> list[LintWarning]:
    out = []
    for name, t in tensors.items():
        lo, hi = ranges[name]
        if t.is_floating_point() and t.numel() and not (math.isfinite(lo) and math.isfinite(hi)):
            bad = int((~torch.isfinite(t)).sum())
            out.append(LintWarning("nonfinite", name, f"{bad} of {t.numel()} `{name}` values are NaN or inf", "finite"))
    return out


def _multi_hot(input: Tensor, target: Tensor) -> list[LintWarning]:
    if not target.is_floating_point() or target.shape != input.shape or target.dim() < 2:
        return []
    rows = target.movedim(1, -1).reshape(-1, target.shape[1])
    positives = (rows > 0).sum(dim=1)
    multi = int((positives > 1).sum())
    binary = bool(((rows == 0) | (rows == 1)).all())
    if multi and binary:
        return [
            LintWarning(
                "multi_hot_target",
                "target",
                f"{multi} of {rows.shape[0]} target rows have more than one positive label (up to "
                f"{int(positives.max())}): softmax cross-entropy treats each row as one distribution over exclusive "
                "classes; use binary_cross_entropy_with_logits, one sigmoid per label",
                "one class per row for softmax cross-entropy",
            )
        ]
    return []


def _probabilities(input: Tensor, family: str, lo: float, hi: float) -> list[LintWarning]:
    if not input.is_floating_point() or input.numel() < 8 or not (0 <= lo < hi <= 1):
        return []
    x = input.detach()
    if family == "softmax" and x.dim() >= 2:
        sums = x.float().sum(dim=1)
        if bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3)):
            detail = "every row lies in [0, 1] and sums to 1: these are softmax probabilities"
        else:
            detail = f"all {x.numel()} values lie in [0, 1]: these look like probabilities"
    else:
        detail = f"all {x.numel()} values lie in [0, 1]: these look like sigmoid probabilities"
    return [
        LintWarning(
            "probabilities_as_logits",
            "input",
            f"{detail}, but the loss takes logits; pass the scores from before the softmax/sigmoid",
            "logits (unbounded scores)",
        )
    ]


def _class_range(input: Tensor, target: Tensor, spec: LossSpec) -> list[LintWarning]:
    if target.is_floating_point() or input.dim() < 2 or target.numel() == 0:
        return []
    c = input.shape[1]
    ignore = spec.option("ignore_index")
    bad = (target < 0) | (target >= c)
    if ignore is not None:
        bad &= target != ignore
    n_bad = int(bad.sum())
    if not n_bad:
        return []
    example = int(target[bad].flatten()[0])
    return [
        LintWarning(
            "class_index_out_of_range",
            "target",
            f"{n_bad} class indices lie outside [0, {c - 1}] (e.g. {example}; ignore_index is {ignore}): the input "
            f"has {c} classes",
            f"class indices in [0, {c - 1}]",
        )
    ]


def _target_range(target: Tensor) -> list[LintWarning]:
    if not target.is_floating_point() or target.numel() == 0:
        return []
    finite = target[torch.isfinite(target)]
    if finite.numel() and (finite.min() < 0 or finite.max() > 1):
        return [
            LintWarning(
                "target_out_of_range",
                "target",
                f"binary targets range over [{finite.min().item():.4g}, {finite.max().item():.4g}], outside [0, 1]",
                "targets in [0, 1]",
            )
        ]
    return []


def _imbalance(input: Tensor, target: Tensor, spec: LossSpec) -> list[LintWarning]:
    weighted = any(spec.options.get(k) is not None for k in ("weight", "pos_weight", "alpha"))
    if weighted or "focal" in spec.name:
        return []
    if spec.family == "softmax" and not target.is_floating_point() and input.dim() >= 2:
        ignore = spec.option("ignore_index")
        valid = target[target != ignore] if ignore is not None else target.reshape(-1)
        valid = valid[(valid >= 0) & (valid < input.shape[1])]
        if valid.numel() < MIN_ITEMS:
            return []
        counts = torch.bincount(valid.reshape(-1), minlength=input.shape[1]).float()
        present = counts[counts > 0]
        ratio = float(present.max() / present.min()) if present.numel() > 1 else 1.0
        if ratio < IMBALANCE_RATIO:
            return []
        smallest = int(torch.argmin(torch.where(counts > 0, counts, math.inf)))
        return [
            LintWarning(
                "imbalance_without_weights",
                "loss",
                f"the largest class outnumbers the smallest (class {smallest}, {int(counts[smallest])} of "
                f"{valid.numel()} targets) {ratio:.1f} to 1 and the loss has no class weights; pass "
                "weight=losskit.imbalance.class_weights(y) or use focal_loss",
                "class weights for an imbalanced target",
            )
        ]
    if spec.family == "sigmoid" and target.is_floating_point() and target.numel():
        t = target.reshape(target.shape[0], -1) if target.dim() > 1 else target.reshape(-1, 1)
        if t.shape[0] < MIN_ITEMS:
            return []
        rate = t.float().mean(dim=0)
        minority = torch.minimum(rate, 1 - rate)
        worst = int(torch.argmin(minority))
        low = float(minority[worst])
        if low <= 0 or (1 - low) / low < IMBALANCE_RATIO:
            return []
        found = f"{low:.2%} in its minority class ({(1 - low) / low:.1f} to 1) and the loss has no pos_weight"
        if t.shape[1] > 1:
            message = (
                f"label {worst} has {found}; pass pos_weight=losskit.imbalance.pos_weight(y) or use binary_focal_loss"
            )
            expected = "pos_weight for imbalanced labels"
        else:  # the decision table's advice for one rare class: keep the loss, tune the threshold
            message = (
                f"the target has {found}: tune the decision threshold on validation data "
                "(losskit.evaluate.tune_threshold), since at 0.5 the minority is rarely predicted, or pass "
                "pos_weight=losskit.imbalance.pos_weight(y) if decisions must be taken at 0.5"
            )
            expected = "a tuned threshold or pos_weight for an imbalanced target"
        return [LintWarning("imbalance_without_weights", "loss", message, expected)]
    return []


def _heavy_tail(target: Tensor) -> list[LintWarning]:
    from losskit.advisor.recommend import advise

    y = target.detach().double().reshape(-1)
    y = y[torch.isfinite(y)]
    if y.numel() < MIN_ITEMS or float(y.max() - y.min()) == 0:
        return []
    advice = advise(y.cpu().numpy(), task="regression")
    if advice.row == "regression_mse":
        return []
    return [
        LintWarning(
            "heavy_tailed_target",
            "target",
            f"{advice.reasons[0]}; losskit.advise suggests {advice.loss}({advice.options_text()})"
            + (f" on {advice.target_transform}(target)" if advice.target_transform else ""),
            "a target without heavy tails or outliers under MSE",
        )
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
            return False
        return a.shape == b.shape and bool(torch.equal(a.detach().cpu().float(), b.detach().cpu().float()))
    return a == b


def _mismatch(train: LossSpec, evaluation: LossSpec) -> list[LintWarning]:
    if train.family != evaluation.family or train.name != evaluation.name:
        return [
            LintWarning(
                "train_eval_mismatch",
                "eval_loss",
                f"training uses {train.name} but evaluation uses {evaluation.name}: the two losses are not comparable",
                f"the same loss as in training ({train.name})",
            )
        ]
    out = []
    for key in ("label_smoothing", "weight", "pos_weight", "alpha", "gamma", "ignore_index", "reduction", "delta"):
        a, b = train.option(key), evaluation.option(key)
        if _same(a, b):
            continue
        shown_a = "a tensor" if isinstance(a, Tensor) else repr(a)
        shown_b = "a tensor" if isinstance(b, Tensor) else repr(b)
        why = (
            "a smoothed loss never reaches 0, so training and validation curves sit at different levels"
            if key == "label_smoothing"
            else "training and validation numbers are not comparable"
        )
        out.append(
            LintWarning(
                "train_eval_mismatch",
                "eval_loss",
                f"{key} is {shown_a} in the training loss but {shown_b} in the evaluation loss: {why}",
                f"{key}={shown_a} as in training (or report both on the same loss)",
            )
        )
    return out


def check(
    input: Any,
    target: Any,
    *,
    loss: str | Callable[..., Any] | LossSpec = "cross_entropy",
    eval_loss: str | Callable[..., Any] | LossSpec | None = None,
    strict: bool = False,
) -> list[LintWarning]:
    """Lint one loss call before (or while) training.

    Args:
        input: what the loss receives as ``input`` (logits, predictions).
        target: the targets.
        loss: the training loss: a name (``"cross_entropy"``, ``"mse_loss"`` ...), a function,
            a ``functools.partial`` with its options, or a configured module (losskit's or
            torch's); its options (``weight``, ``pos_weight``, ``label_smoothing`` ...) are read.
        eval_loss: the loss used for validation, in the same forms; compared option by option.
        strict: raise the first finding as :class:`losskit.LossInputError`.

    Returns:
        The findings, possibly empty.

    Example:
        >>> import torch, losskit
        >>> y = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
        >>> [w.code for w in losskit.check(torch.randn(2, 3), y, loss="cross_entropy")]
        ['multi_hot_target']
    """
    x, t = _as_tensor("input", input), _as_tensor("target", target)
    spec = loss_spec(loss)
    ranges = {"input": _range(x), "target": _range(t)}
    found = _nonfinite({"input": x, "target": t}, ranges)
    lo, hi = ranges["input"]
    if spec.family == "softmax":
        found += _multi_hot(x, t) + _probabilities(x, "softmax", lo, hi) + _class_range(x, t, spec)
        found += _imbalance(x, t, spec)
    elif spec.family == "sigmoid":
        found += _probabilities(x, "sigmoid", lo, hi) + _target_range(t) + _imbalance(x, t, spec)
    elif spec.family == "squared" and t.is_floating_point():
        found += _heavy_tail(t)
    if eval_loss is not None:
        found += _mismatch(spec, loss_spec(eval_loss))
    if strict and found:
        first = found[0]
        raise LossInputError(first.argument, first.expected, str(first))
    return found
