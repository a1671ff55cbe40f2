"""``compare``: train one model per candidate loss on the same data, splits and settings; score them.

The pipeline: clean the table (:mod:`~losskit.lab.data`), split it (:mod:`~losskit.lab.splits`),
fit the preprocessing on the training rows only, pick the candidates
(:mod:`~losskit.lab.candidates`, the advisor for ``auto``), train each with early stopping
(:mod:`~losskit.lab.train`, or :mod:`~losskit.lab.gbdt_models` for trees), tune the decision
threshold on validation, score the test set at that threshold with a paired bootstrap
(:mod:`~losskit.lab.scoring`) and name the winner. Everything outside the training loop runs on
every rank; only the main rank writes artefacts.

A ranking table (``group``: its query-id column) is split by whole groups, trains on batches of
whole groups (RankNet beside the listwise losses) and is scored by NDCG@10 over the test queries,
with the bootstrap resampling queries; it trains the ``mlp`` or ``linear`` model in one process.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from losskit import catalog
from losskit._errors import LossInputError
from losskit.catalog import TARGET_TRANSFORMS
from losskit.lab import candidates as cands
from losskit.lab.data import Table, build_preprocessor, missing_counts, prepare
from losskit.lab.distributed import DistContext
from losskit.lab.models import build_net, optimal_start
from losskit.lab.results import CandidateResult, LabResult
from losskit.lab.scoring import MetricSpec, parse_metric, score_candidates
from losskit.lab.splits import plan_splits
from losskit.lab.train import TrainConfig, fit, predict_raw, target_tensor

__all__ = ["MODELS", "CandidateResult", "CompareOptions", "LabResult", "run_compare"]

MODELS = ("mlp", "linear", "xgboost", "lightgbm")
# Threshold-free validation metrics logged every epoch, per task.
EPOCH_METRICS = {
    "binary": ("average_precision", "roc_auc"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse"),
    "ordinal": ("mae", "qwk"),
    "ranking": ("ndcg@10",),
}


@dataclass
class CompareOptions:
    """Everything ``losskit compare`` takes besides the data."""

    target: str
    task: str | None = None
    pos_label: Any = None
    losses: str = "auto"
    model: str = "mlp"
    metric: str | None = None
    cv: int | None = None
    val_size: float = 0.15
    test_size: float = 0.15
    bootstrap: int = 200
    train: TrainConfig = field(default_factory=TrainConfig)
    group: str | None = None


def _advice(
    table: Table, y_train: np.ndarray, x_train: pd.DataFrame, groups: np.ndarray | None = None
) -> tuple[list[cands.Candidate], dict[str, Any]]:
    """The advisor's recommendation and every alternative it names, as candidates, plus what it said.

    The advice is structure (:class:`losskit.catalog.LossChoice`): each alternative becomes a
    candidate with its options, target transform and resampling. A recommendation or an
    alternative the lab cannot train (a metric-learning loss, say) is listed
    under ``not_trained`` with the reason, never dropped silently.
    """
    from losskit.advisor import advise

    labels = np.asarray(table.classes, dtype=object)[y_train] if table.classes else y_train
    advice = advise(labels, x_train, task=table.task, pos_label=table.positive_class, group=groups)
    found, not_trained = [], []
    for choice, origin in [(advice.choice, "advisor"), *((alt, "alternative") for alt in advice.alternatives)]:
        if choice.entry.trainable and table.task in choice.entry.tasks:
            reasons = list(advice.reasons) if origin == "advisor" else None
            found.append(cands.Candidate.from_choice(choice, origin, reasons))
        else:  # e.g. a loss of embeddings, or CORAL, whose head shares its weights across thresholds
            why = (
                f"a loss for {' / '.join(choice.entry.tasks)} targets, not {table.task} ones"
                if table.task not in choice.entry.tasks
                else "the lab's model (one output per row, or one per class or threshold) does not fit it"
            )
            not_trained.append({**choice.to_dict(), "origin": origin, "why": why})
    said = {
        "loss": advice.loss,
        "options": _jsonable(advice.options),
        "target_transform": advice.target_transform,
        "row": advice.row,
        "reasons": list(advice.reasons),
        "alternatives": [a.to_dict() for a in advice.alternatives],
        "not_trained": not_trained,
        "warnings": list(advice.warnings),
        "metrics": list(advice.metrics),
        "metric_keys": list(advice.metric_keys),
        "positive_class": table.positive_class,
    }
    return found, said


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in dict(options).items():
        if isinstance(v, (torch.Tensor, np.ndarray, np.generic)):
            v = v.tolist()
        out[k] = v
    return out


def choose_candidates(
    spec: str,
    table: Table,
    y_train: np.ndarray,
    x_train: pd.DataFrame,
    model: str = "mlp",
    groups: np.ndarray | None = None,
) -> tuple[list[cands.Candidate], dict[str, Any] | None]:
    """The explicit list, or ``auto``: advisor recommendation, alternatives and the plain baseline
    (``groups``: the query ids of a ranking table's training rows, which the advisor reads).

    Checked against the model before any training: for tree models an explicit loss without a
    GBDT objective is an error, and ``auto`` keeps only losses with one (the others are listed
    under ``not_trained`` with the reason).
    """
    trees = model in ("xgboost", "lightgbm")
    explicit = cands.parse_losses(spec, table.task)
    if explicit is not None:
        for c in explicit:
            if trees and c.entry.gbdt is None:
                with_objective = ", ".join(e.name for e in catalog.trainable(table.task) if e.gbdt)
                raise LossInputError(
                    "losses", f"a loss with a GBDT objective for a {model} model ({with_objective})", repr(c.name)
                )
        return explicit, None
    found, said = _advice(table, y_train, x_train, groups)
    baseline = cands.Candidate(cands.BASELINES[table.task], origin="baseline")
    unique: dict[tuple, cands.Candidate] = {}
    for c in [*found, baseline]:
        if trees and c.entry.gbdt is None:
            said["not_trained"].append({"loss": c.name, "options": c.options, "why": f"no GBDT objective ({model})"})
            continue
        unique.setdefault(c.key(), c)
    return list(unique.values()), said


def _transform(pre: Any, frame: pd.DataFrame) -> torch.Tensor:
    return torch.as_tensor(np.asarray(pre.transform(frame), dtype=np.float32))


def run_compare(
    frame: pd.DataFrame,
    options: CompareOptions,
    *,
    source: str = "",
    ctx: DistContext | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LabResult:
    """Run the whole comparison on ``frame``; see the module docstring.

    Args:
        frame: the raw table, target column included.
        options: see :class:`CompareOptions`.
        source: where the table came from (for the report and the card).
        ctx: distributed context (single process when None).
        progress: ``progress(label, epoch, max_epochs)`` after every epoch.
    """
    ctx = ctx or DistContext()
    start = time.perf_counter()
    if options.model not in MODELS:
        raise LossInputError("model", f"one of {MODELS}", repr(options.model))
    if ctx.active and options.model in ("xgboost", "lightgbm"):
        raise LossInputError("model", "mlp or linear when distributed (trees train in one process)", options.model)
    if options.group is not None and options.model in ("xgboost", "lightgbm"):
        raise LossInputError("model", "mlp or linear for a ranking table (no GBDT ranking objective)", options.model)
    if options.group is not None and ctx.active:
        raise LossInputError("group", "a ranking table trained in one process (not distributed)", repr(options.group))
    table = prepare(
        frame, options.target, task=options.task, pos_label=options.pos_label, source=source, group=options.group
    )
    if table.task == "ordinal" and options.model in ("xgboost", "lightgbm"):
        raise LossInputError("model", "mlp or linear for an ordinal target (no GBDT ordinal objective)", options.model)
    classification = table.task not in ("regression", "ranking")
    plan = plan_splits(
        table.y,
        classification=classification,
        val_size=options.val_size,
        test_size=options.test_size,
        cv=options.cv,
        seed=options.train.seed,
        groups=table.groups,
    )
    first = plan.folds[0]
    options = dataclasses.replace(options, train=options.train.resolve(len(first.train)))  # the settings used
    candidates, said = choose_candidates(
        options.losses,
        table,
        table.y[first.train],
        table.features.iloc[first.train],
        options.model,
        None if table.groups is None else table.groups[first.train],
    )
    if options.model in ("xgboost", "lightgbm"):  # before any training: options the tree objectives take
        from losskit.lab.gbdt_models import check_candidates

        kept = check_candidates(candidates, explicit=said is None)
        for c in candidates:
            if said is not None and c not in kept:
                said["not_trained"].append(
                    {
                        "loss": c.name,
                        "options": c.options,
                        "why": f"options its GBDT objective does not take ({options.model})",
                    }
                )
        candidates = kept
    metric = parse_metric(options.metric or _advised_metric(said, table.task), table.task)
    if metric.name == "poisson_deviance" and float(np.min(table.y)) < 0:
        low = f"a minimum of {np.min(table.y):.4g}"
        raise LossInputError("metric", "a non-negative target for poisson_deviance", low)
    n_classes = max(len(table.classes), 2)
    y_test = table.y[plan.test]

    folds = []
    for fold in plan.folds:
        pre = build_preprocessor(table.features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # all-missing columns are dropped by the imputer
            x_tr = torch.as_tensor(np.asarray(pre.fit_transform(table.features.iloc[fold.train]), dtype=np.float32))
        folds.append(
            (
                fold,
                pre,
                x_tr,
                _transform(pre, table.features.iloc[fold.val]),
                _transform(pre, table.features.iloc[plan.test]),
            )
        )
    imputed = missing_counts(table.features.iloc[first.train])

    results = []
    for cand in candidates:
        results.append(_run_candidate(cand, table, folds, options, metric, n_classes, ctx, progress))
    oof_index = np.concatenate([f.val for f in plan.folds])
    y_val = table.y[oof_index]
    winner = score_candidates(
        results,
        metric,
        y_val,
        y_test,
        n_resamples=options.bootstrap,
        seed=options.train.seed,
        groups_test=None if table.groups is None else table.groups[plan.test],
    )
    return LabResult(
        table=table,
        options=options,
        metric=metric,
        plan=plan,
        results=results,
        winner=winner,
        y_val=y_val,
        y_test=y_test,
        imputed=imputed,
        n_inputs=int(folds[0][2].shape[1]),
        advice=said,
        preprocessors=[f[1] for f in folds],
        seconds=time.perf_counter() - start,
        positive_class=table.positive_class,
    )


def _advised_metric(said: dict[str, Any] | None, task: str) -> str | None:
    """The advisor's first suggested metric the lab can score, else None (the task default)."""
    for name in (said or {}).get("metric_keys", []):
        try:
            parse_metric(name, task)
        except LossInputError:
            continue
        return name
    return None


def _run_candidate(
    cand: cands.Candidate,
    table: Table,
    folds: list[tuple],
    options: CompareOptions,
    metric: MetricSpec,
    n_classes: int,
    ctx: DistContext,
    progress: Callable[[str, int, int], None] | None,
) -> CandidateResult:
    task = table.task
    val_parts, test_parts, history, fits, models = [], [], [], [], []
    reference = cands.reference_loss(task, cand)
    for k, (fold, _pre, x_tr_all, x_va, x_te) in enumerate(folds):
        y_train_all, y_va_orig = table.y[fold.train], table.y[fold.val]
        g_tr, g_va = (None, None) if table.groups is None else (table.groups[fold.train], table.groups[fold.val])
        rows = cands.resample_rows(cand, y_train_all, options.train.seed + k)  # training rows only
        x_tr, y_tr_orig = x_tr_all[torch.as_tensor(rows)], y_train_all[rows]
        y_tr_np, y_va_np = cands.transform_target(cand, y_tr_orig), cands.transform_target(cand, y_va_orig)
        loss = cands.make_loss(cand, y_tr_np, n_classes)
        label = cand.label if len(folds) == 1 else f"{cand.label} [fold {k + 1}]"

        def scores(raw: torch.Tensor, y_fit: np.ndarray = y_tr_orig, y_all: np.ndarray = y_train_all) -> np.ndarray:
            """Raw outputs as scores in the target's units, at the true class prior."""
            out = cands.scores_of(cand, raw, task)
            return cands.prior_correction(out, y_fit, y_all, n_classes) if cand.resample else out

        if options.model in ("xgboost", "lightgbm"):
            from losskit.lab.gbdt_models import fit_gbdt

            compute = _epoch_metrics(task, metric, y_va_orig)
            out = fit_gbdt(
                options.model,
                cand,
                task,
                n_classes,
                x_tr.numpy(),
                y_tr_np,
                x_va.numpy(),
                y_va_np,
                x_te.numpy(),
                config=options.train,
                epoch_metrics=lambda s, compute=compute: compute(cands.inverse_scores(cand, s)),
                progress=(lambda e, t, label=label: progress(label, e, t)) if progress else None,
            )
            val_raw, test_raw, fit_history, model, info = out
        else:
            y_tr_t = target_tensor(y_tr_np, task)
            outputs = cands.n_outputs(cand, task, n_classes)
            start = None if task == "ranking" else optimal_start(loss, y_tr_t, outputs)
            torch.manual_seed(options.train.seed)
            net = build_net(
                options.model,
                x_tr.shape[1],
                task,
                y_tr_np,
                n_classes,
                options.train.hidden,
                start,
                log_link=cands.log_link(cand),
                n_outputs=outputs,
            )
            cw = (
                cand.frozen.get("weight")
                if task in ("multiclass", "ordinal") and cand.entry.kind == "softmax"
                else None
            )
            on_epoch = _epoch_callback(task, metric, y_va_orig, options.train.epochs, label, progress, scores, g_va)
            result = fit(
                net,
                loss,
                reference,
                x_tr,
                y_tr_t,
                x_va,
                target_tensor(y_va_np, task),
                config=options.train,
                class_weight=None if cw is None else torch.as_tensor(cw),
                ctx=ctx,
                on_epoch=on_epoch,
                groups=None if g_tr is None else torch.as_tensor(g_tr[rows]),
                val_groups=None if g_va is None else torch.as_tensor(g_va),
            )
            if progress:
                progress(label, options.train.epochs, options.train.epochs)
            val_raw, test_raw = predict_raw(result.model, x_va, ctx), predict_raw(result.model, x_te, ctx)
            fit_history, model = result.history, result.model
            info = {
                "epochs_run": len(result.history),
                "best_epoch": result.best_epoch,
                "converged": result.converged,
                "epoch_budget": options.train.epochs,
                "epoch_cap": options.train.max_epochs,
                "seconds": round(result.seconds, 2),
            }
        info.update(_score_mapping(cand, y_tr_orig, y_train_all, n_classes))
        history += [{"fold": float(k), **row} for row in fit_history]
        val_parts.append(scores(val_raw))
        test_parts.append(scores(test_raw))
        fits.append(info)
        models.append(model)
    return CandidateResult(
        candidate=cand,
        history=history,
        val_scores=np.concatenate(val_parts),
        test_scores=np.mean(test_parts, axis=0),
        fits=fits,
        models=models,
    )


def _score_mapping(cand: cands.Candidate, y_fit: np.ndarray, y_train: np.ndarray, n_classes: int) -> dict[str, Any]:
    """How the model's outputs become scores, for the card: the inverse target transform and the
    prior correction of a resampled candidate."""
    out: dict[str, Any] = {}
    if cands.log_link(cand):
        out["link"] = {"name": "log", "inverse": "exp"}
    if cand.target_transform:
        inverse = TARGET_TRANSFORMS[cand.target_transform][1]
        out["target_transform"] = {"name": cand.target_transform, "inverse": inverse}
    if cand.resample:
        out["prior_correction"] = {
            "resample": cand.resample,
            "rows": len(y_fit),
            "fitted_prior": (np.bincount(y_fit, minlength=n_classes) / len(y_fit)).tolist(),
            "true_prior": (np.bincount(y_train, minlength=n_classes) / len(y_train)).tolist(),
        }
    return out


def _epoch_metrics(
    task: str, metric: MetricSpec, y_val: np.ndarray, groups: np.ndarray | None = None
) -> Callable[[np.ndarray], dict[str, float]]:
    specs = [parse_metric(name, task) for name in EPOCH_METRICS[task]]
    if not metric.needs_threshold and metric.label not in EPOCH_METRICS[task]:
        specs.append(metric)

    def compute(scores: np.ndarray) -> dict[str, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {f"val_{s.label}": s(y_val, scores, groups=groups) for s in specs}

    return compute


def _epoch_callback(
    task: str,
    metric: MetricSpec,
    y_val: np.ndarray,
    epochs: int,
    label: str,
    progress: Callable[[str, int, int], None] | None,
    scores: Callable[[torch.Tensor], np.ndarray],
    groups: np.ndarray | None = None,
) -> Callable[[int, torch.Tensor], dict[str, float]]:
    compute = _epoch_metrics(task, metric, y_val, groups)

    def on_epoch(epoch: int, val_out: torch.Tensor) -> dict[str, float]:
        row = compute(scores(val_out))
        if progress:
            progress(label, epoch, epochs)
        return row

    return on_epoch
