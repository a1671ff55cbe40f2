"""Candidate losses: read ``--losses`` through the catalog, freeze data-derived options.

``--losses`` is ``auto`` (the advisor's recommendation, its alternatives and the plain
baseline) or a list parsed by :func:`losskit.catalog.parse_losses`
(``name[:key=value,key=value...],name...``, ``target=log1p`` and ``resample=under|over``
included). Only catalog entries the lab can train (``LossEntry.trainable``) are accepted. Values
named in an option's ``from_data`` (``pos_weight=balanced``, ``weight=balanced``) are computed from
the *training* labels and frozen into the candidate.

Count losses (``poisson_loss``, ``tweedie_loss``, ``gamma_loss``, catalog kind ``"log_rate"``)
train the model's one output as the **log of the mean**: their scores, the common reference
loss and every metric use the prediction ``exp(output)``, in the target's own units
(:func:`log_link`, :func:`inverse_scores`).

Ranking losses (``--group``) train one score per row. RankNet (``pairwise_logistic_loss``) forms
its pairs within each query group of a batch; the listwise losses (ListNet, ListMLE, LambdaLoss,
ApproxNDCG) see the batch's groups padded into lists with a validity mask
(:func:`losskit.pad_lists`). A batch holds whole groups, and "mean" is over its lists (its pairs
for RankNet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from losskit import catalog
from losskit._errors import LossInputError
from losskit.imbalance import class_weights, pos_weight
from losskit.tasks import LAB_TASKS

__all__ = [
    "BASELINES",
    "LOSSES_BY_TASK",
    "Candidate",
    "canonical_name",
    "inverse_scores",
    "level_probabilities",
    "log_link",
    "n_outputs",
    "make_loss",
    "parse_losses",
    "prior_correction",
    "ranking_loss",
    "reference_loss",
    "resample_rows",
    "scores_of",
    "transform_target",
]

# Per task: the catalog entries the lab can train.
LOSSES_BY_TASK: dict[str, tuple[str, ...]] = {t: tuple(e.name for e in catalog.trainable(t)) for t in LAB_TASKS}
# The plain loss every comparison includes, and the common reference loss logged for all candidates.
BASELINES = {
    "binary": "binary_cross_entropy_with_logits",
    "multiclass": "cross_entropy",
    "regression": "mse_loss",
    "ordinal": "cross_entropy",
    "ranking": "pairwise_logistic_loss",
}


@dataclass
class Candidate:
    """One loss to train with.

    Attributes:
        name: the catalog (losskit functional) name.
        options: keyword options as given (JSON-friendly; ``"balanced"`` not yet resolved).
        origin: ``"advisor"``, ``"alternative"``, ``"baseline"`` or ``"user"``.
        reasons: why it is a candidate (the advisor's reasons, when it came from there).
        frozen: the options actually used, data-derived values resolved (filled by :func:`make_loss`).
        target_transform: train on ``transform(target)`` and score ``inverse(prediction)`` in the
            target's units (:data:`losskit.catalog.TARGET_TRANSFORMS`), or None.
        resample: ``"under"`` / ``"over"``: train on randomly resampled, class-balanced training
            rows, scores corrected back to the true prior; None: the rows as they are.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    origin: str = "user"
    reasons: list[str] = field(default_factory=list)
    frozen: dict[str, Any] = field(default_factory=dict)
    target_transform: str | None = None
    resample: str | None = None

    @classmethod
    def from_choice(
        cls, choice: catalog.LossChoice, origin: str = "user", reasons: list[str] | None = None
    ) -> Candidate:
        """A candidate from a catalog choice (the advisor's or a parsed ``--losses`` item)."""
        reasons = reasons if reasons is not None else ([choice.reason] if choice.reason else [])
        return cls(
            choice.name, dict(choice.options), origin, list(reasons), {}, choice.target_transform, choice.resample
        )

    @property
    def entry(self) -> catalog.LossEntry:
        return catalog.lookup(self.name)

    @property
    def label(self) -> str:
        choice = catalog.LossChoice(self.entry, {}, self.target_transform, self.resample)
        return choice.label(self.frozen or self.options)

    def key(self) -> tuple[Any, ...]:
        opts = tuple(sorted((k, repr(v)) for k, v in self.options.items()))
        return self.name, opts, self.target_transform, self.resample


def canonical_name(name: str, task: str) -> str:
    """The catalog name of a loss the lab trains for ``task``; :class:`LossInputError` otherwise."""
    entry = catalog.lookup(name, task=task, argument="losses")
    _check_trainable(entry, task)
    return entry.name


def _check_trainable(entry: catalog.LossEntry, task: str) -> None:
    if not entry.trainable:
        known = ", ".join(LOSSES_BY_TASK[task])
        raise LossInputError("losses", f"a loss the lab trains for a {task} task ({known})", repr(entry.name))


def parse_losses(spec: str, task: str) -> list[Candidate] | None:
    """Parse ``--losses`` (:func:`losskit.catalog.parse_losses`); ``None`` means ``auto``."""
    if spec.strip().lower() == "auto":
        return None
    choices = catalog.parse_losses(spec, task, argument="losses")
    for choice in choices:
        _check_trainable(choice.entry, task)
        if log_link_entry(choice.entry) and choice.target_transform:
            raise LossInputError(
                f"losses {choice.name}:target", "no target transform (the loss already uses a log link)", "log1p"
            )
    return [Candidate.from_choice(c) for c in choices]


def _freeze(cand: Candidate, y_train: np.ndarray, n_classes: int) -> dict[str, Any]:
    entry = cand.entry
    frozen: dict[str, Any] = {}
    for key, value in entry.check_options(cand.options).items():
        if isinstance(value, str) and value in entry.option(key).from_data:
            if key == "pos_weight":
                value = float(pos_weight(y_train))
            else:  # class weights by the named method
                value = class_weights(y_train, num_classes=n_classes, method=value).tolist()
        frozen[key] = value
    if entry.kind == "quantile":
        q = frozen.get("quantiles", [0.5])
        if len(q) != 1:
            raise LossInputError(f"losses {entry.name}:quantiles", "a single quantile (one output per row)", q)
        frozen["quantiles"] = [float(q[0])]
    return frozen


def _tensor_options(entry: catalog.LossEntry, frozen: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in frozen.items():
        kind = entry.option(key).type
        tensor = kind in ("tensor", "floats") or (kind == "float|tensor" and isinstance(value, list))
        out[key] = torch.as_tensor(value, dtype=torch.float32) if tensor and value is not None else value
    return out


LossFn = Callable[..., Tensor]


def make_loss(cand: Candidate, y_train: np.ndarray, n_classes: int) -> LossFn:
    """Freeze ``cand``'s options on the training labels and return ``loss(input, target, num_items=None)``.

    The returned function calls the one losskit functional definition with ``reduction="mean"``;
    an option the loss does not accept is reported as a bad ``--losses`` option.
    """
    cand.frozen = _freeze(cand, y_train, n_classes)
    fn = cand.entry.function()
    options = _tensor_options(cand.entry, cand.frozen)
    _probe(fn, cand.entry, options, n_classes, y_train)  # fail now, on a tiny batch, rather than mid-training

    on_device: dict[torch.device, dict[str, Any]] = {}

    def loss(input: Tensor, target: Tensor, num_items: Any = None, group: Tensor | None = None) -> Tensor:
        if input.device not in on_device:  # tensor options (pos_weight, class weights) follow the model
            on_device[input.device] = {
                k: v.to(input.device) if isinstance(v, Tensor) else v for k, v in options.items()
            }
        opts = on_device[input.device]
        if cand.entry.kind == "quantile":  # input (N, Q) with one quantile
            input = input.unsqueeze(-1)
        if cand.entry.kind == "ranking":
            return ranking_loss(fn, cand.entry, input, target, group, num_items=num_items, **opts)
        return fn(input, target, **opts, reduction="mean", num_items=num_items)

    return loss


def ranking_loss(
    fn: LossFn, entry: catalog.LossEntry, input: Tensor, target: Tensor, group: Tensor | None, **options: Any
) -> Tensor:
    """A ranking loss of flat rows ``(n,)`` with their query ``group`` ids: pairs within groups
    (RankNet), or the groups padded into lists with a validity mask (listwise losses)."""
    if group is None:
        raise LossInputError("group", "the query id of every row for a ranking loss", "None")
    if entry.family != "listwise":
        return fn(input, target, group=group, reduction="mean", **options)
    from losskit.functional.listwise import pad_lists

    lists = pad_lists(input, target, group)
    return fn(lists.input, lists.target, mask=lists.mask, reduction="mean", **options)


def _probe(fn: LossFn, entry: catalog.LossEntry, options: dict[str, Any], n_classes: int, y: np.ndarray) -> None:
    if log_link_entry(entry):  # the target's domain too (a Gamma deviance refuses zero counts)
        target = torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32)
        fn(torch.zeros(target.shape[0]), target, **options)
    elif entry.kind == "ordinal":
        fn(torch.zeros(2, n_classes - 1), torch.zeros(2, dtype=torch.long), **options)
    elif entry.kind == "softmax":
        fn(torch.zeros(2, n_classes), torch.zeros(2, dtype=torch.long), **options)
    elif entry.kind == "quantile":
        fn(torch.zeros(2, 1), torch.zeros(2), **options)
    elif entry.kind == "ranking":
        ranking_loss(fn, entry, torch.zeros(2), torch.tensor([1.0, 0.0]), torch.zeros(2, dtype=torch.long), **options)
    else:
        fn(torch.zeros(2), torch.zeros(2), **options)


def log_link_entry(entry: catalog.LossEntry) -> bool:
    """Whether the loss reads its input as a log-mean (the count losses)."""
    return entry.kind == "log_rate"


def log_link(cand: Candidate) -> bool:
    """Whether the candidate's model outputs a log-mean, predicted as ``exp(output)``."""
    return log_link_entry(cand.entry)


def reference_loss(task: str, cand: Candidate | None = None) -> LossFn:
    """The common yardstick: plain log-loss (binary / multiclass), MSE (regression) or RankNet's pair
    loss within query groups (ranking: called with ``group=``), no options.

    Every candidate's reference curve is in the target's units: for a log-link candidate the
    yardstick reads the prediction ``exp(output)``; for a candidate trained on a transformed target
    (``target=log1p``) both the output and the target are taken back first (``expm1``); an ordinal
    candidate is scored on its level probabilities.
    """
    plain = catalog.lookup(BASELINES[task]).function()
    if task == "ordinal" and cand is not None and cand.entry.kind == "ordinal":

        def on_levels(input: Tensor, target: Tensor, **kw: Any) -> Tensor:
            log_p = level_probabilities(cand, input).clamp_min(1e-12).log()
            return torch.nn.functional.nll_loss(log_p, target, **kw)

        return on_levels
    if cand is not None and log_link(cand):

        def on_mean(input: Tensor, target: Tensor, **kw: Any) -> Tensor:
            return plain(torch.exp(input), target, **kw)

        return on_mean
    if cand is not None and cand.target_transform is not None:
        inverse = getattr(torch, catalog.TARGET_TRANSFORMS[cand.target_transform][1])

        def in_target_units(input: Tensor, target: Tensor, **kw: Any) -> Tensor:
            return plain(inverse(input), inverse(target), **kw)

        return in_target_units
    return plain


def n_outputs(cand: Candidate, task: str, n_classes: int) -> int:
    """The model's outputs per row: ``K - 1`` threshold logits (CORN), ``K`` logits (softmax) or 1."""
    if cand.entry.kind == "ordinal":
        return n_classes - 1
    return n_classes if task in ("multiclass", "ordinal") else 1


def level_probabilities(cand: Candidate, raw: Tensor) -> Tensor:
    r"""``(N, K)`` level probabilities of an ordinal candidate's outputs.

    CORN's ``K - 1`` logits are conditional: :math:`P(y > k) = \prod_{j \le k} \sigma(x_j)`, so
    :math:`P(y = k) = P(y > k - 1) - P(y > k)` (Shi et al. 2023); the median of these
    probabilities is :func:`losskit.corn_predict`'s level. Cross-entropy's ``K`` logits: softmax.

    Example:
        >>> import torch
        >>> level_probabilities(Candidate("corn_loss"), torch.zeros(1, 2))  # P(y > 0) = 1/2, P(y > 1) = 1/4
        tensor([[0.5000, 0.2500, 0.2500]])
    """
    if cand.entry.kind != "ordinal":
        return torch.softmax(raw, dim=-1)
    above = torch.cumprod(torch.sigmoid(raw), dim=-1)
    ones = torch.ones_like(above[:, :1])
    return torch.cat([ones, above], dim=1) - torch.cat([above, torch.zeros_like(ones)], dim=1)


def scores_of(cand: Candidate, raw: Tensor, task: str) -> np.ndarray:
    """Raw model outputs as scores in the target's units: probabilities (binary, multi-class),
    level probabilities (ordinal) or predictions (regression, inverse link and transform applied)."""
    from losskit.lab.train import scores_from_raw

    if task == "ordinal":
        return level_probabilities(cand, raw.double()).numpy()
    return inverse_scores(cand, scores_from_raw(raw, task))


def transform_target(cand: Candidate, y: np.ndarray) -> np.ndarray:
    """``y`` on the scale the candidate trains on (``log1p(y)`` for ``target=log1p``)."""
    if cand.target_transform is None:
        return y
    forward, _, domain = catalog.TARGET_TRANSFORMS[cand.target_transform]
    if cand.target_transform == "log1p" and float(np.min(y)) <= -1:
        raise LossInputError(f"losses {cand.name}:target", domain, f"a minimum of {float(np.min(y)):.4g}")
    return getattr(np, forward)(y)


def inverse_scores(cand: Candidate, scores: np.ndarray) -> np.ndarray:
    """Predictions back in the target's units: ``exp`` of a log-mean output (count losses),
    ``expm1`` of the prediction for ``target=log1p``."""
    if log_link(cand):
        scores = np.exp(scores)
    if cand.target_transform is None:
        return scores
    return getattr(np, catalog.TARGET_TRANSFORMS[cand.target_transform][1])(scores)


def resample_rows(cand: Candidate, y_train: np.ndarray, seed: int) -> np.ndarray:
    """Training-row positions after random under- or over-sampling to balanced classes.

    imbalanced-learn's ``RandomUnderSampler`` / ``RandomOverSampler`` on the training split only
    (validation and test rows are never resampled); all rows when the candidate does not resample.
    """
    rows = np.arange(len(y_train))
    if cand.resample is None:
        return rows
    try:
        from imblearn.over_sampling import RandomOverSampler
        from imblearn.under_sampling import RandomUnderSampler
    except ImportError as exc:
        raise LossInputError(
            f"losses {cand.name}:resample", "imbalanced-learn installed (pip install 'losskit[lab]')", "not installed"
        ) from exc
    sampler = RandomUnderSampler if cand.resample == "under" else RandomOverSampler
    picked, _ = sampler(random_state=seed).fit_resample(rows.reshape(-1, 1), y_train)
    return np.sort(picked.reshape(-1))


def prior_correction(scores: np.ndarray, y_resampled: np.ndarray, y_train: np.ndarray, n_classes: int) -> np.ndarray:
    """Scores of a model trained on resampled rows, moved back to the training split's true class
    prior (:func:`losskit.evaluate.adjust_for_prior_shift`, one Bayes step)."""
    from losskit.evaluate import adjust_for_prior_shift

    fitted = np.bincount(y_resampled, minlength=n_classes) / len(y_resampled)
    true = np.bincount(y_train, minlength=n_classes) / len(y_train)
    if scores.ndim == 1:  # binary: probability of class 1
        return np.asarray(adjust_for_prior_shift(scores, fitted[1], true[1]))
    return np.asarray(adjust_for_prior_shift(scores, fitted, true))
