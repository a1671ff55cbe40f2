"""``compare``: train one model per candidate loss on the same data, splits and settings; score them.

The pipeline: clean the table (:mod:`~losskit.lab.data`), split it (:mod:`~losskit.lab.splits`),
fit the preprocessing on the training rows only, pick the candidates
(:mod:`~losskit.lab.candidates`, the advisor for ``auto``), train each with early stopping
(:mod:`~losskit.lab.train`, or :mod:`~losskit.lab.gbdt_models` for trees), tune the decision
threshold on validation, score the test set at that threshold with a paired bootstrap
(:mod:`~losskit.lab.scoring`) and name the winner. Everything outside the training loop runs on
every rank; only the main rank writes artefacts.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from losskit._errors import LossInputError
from losskit.lab import candidates as cands
from losskit.lab.data import Table, build_preprocessor, missing_counts, prepare
from losskit.lab.distributed import DistContext
from losskit.lab.models import build_net, optimal_start, output_size
from losskit.lab.results import CandidateResult, LabResult
from losskit.lab.scoring import MetricSpec, parse_metric, score_candidates
from losskit.lab.splits import plan_splits
from losskit.lab.train import TrainConfig, fit, predict_raw, scores_from_raw, target_tensor

__all__ = ["MODELS", "CandidateResult", "CompareOptions", "LabResult", "run_compare"]

MODELS = ("mlp", "linear", "xgboost", "lightgbm")
# Threshold-free validation metrics logged every epoch, per task.
EPOCH_METRICS = {"binary": ("pr_auc", "roc_auc"), "multiclass": ("accuracy", "macro_f1"), "regression": ("mae", "rmse")}


@dataclass
class CompareOptions:
    """Everything ``losskit compare`` takes besides the data."""

    target: str
    task: str | None = None
    losses: str = "auto"
    model: str = "mlp"
    metric: str | None = None
    cv: int | None = None
    val_size: float = 0.15
    test_size: float = 0.15
    bootstrap: int = 200
    train: TrainConfig = field(default_factory=TrainConfig)


def _advice(table: Table, y_train: np.ndarray, x_train: pd.DataFrame) -> tuple[list[cands.Candidate], dict[str, Any]]:
    """The advisor's recommendation and the alternatives it names as candidates, plus what it said."""
    from losskit.advisor import advise

    advice = advise(y_train, x_train, task=table.task)
    reasons = list(advice.reasons)
    if advice.target_transform:
        reasons.append(
            f"the advisor suggests training on {advice.target_transform}(target); the lab trains every candidate "
            "on the raw target so that their metrics compare directly"
        )
    found = [("advisor", advice.loss, _jsonable(advice.options), reasons)]
    for text in advice.alternatives:
        match = re.match(r"\s*([a-z_0-9]+)", text)
        if match:
            found.append(("alternative", match.group(1), _options_in_words(match.group(1), text), [text]))
    out = []
    for origin, name, options, reasons in found:
        try:
            canonical = cands.canonical_name(name, table.task)
        except LossInputError:
            continue  # not a loss (e.g. "undersampling ...") or one the lab's models do not train
        out.append(cands.Candidate(canonical, options, origin=origin, reasons=reasons))
    said = {
        "loss": advice.loss,
        "options": _jsonable(advice.options),
        "row": advice.row,
        "reasons": list(advice.reasons),
        "alternatives": list(advice.alternatives),
        "warnings": list(advice.warnings),
        "metrics": list(advice.metrics),
    }
    return out, said


def _options_in_words(name: str, text: str) -> dict[str, Any]:
    """``key=number`` (and ``key=balanced`` for weights) pairs in an alternative's words that the
    loss accepts as keyword options."""
    from losskit import functional

    fn = getattr(functional, name, None)
    accepted = set(inspect.signature(fn).parameters) if fn is not None else set()
    found = re.findall(r"([a-z_]+)=(-?[0-9.]+(?:e-?[0-9]+)?|balanced)", text)
    return {
        k: v if v == "balanced" else float(v)
        for k, v in found
        if k in accepted and k not in ("input", "target") and (v != "balanced" or k in ("weight", "pos_weight"))
    }


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in dict(options).items():
        if isinstance(v, (torch.Tensor, np.ndarray, np.generic)):
            v = v.tolist()
        out[k] = v
    return out


def choose_candidates(
    spec: str, table: Table, y_train: np.ndarray, x_train: pd.DataFrame
) -> tuple[list[cands.Candidate], dict[str, Any] | None]:
    """The explicit list, or ``auto``: advisor recommendation, alternatives and the plain baseline."""
    explicit = cands.parse_losses(spec, table.task)
    if explicit is not None:
        return explicit, None
    found, said = _advice(table, y_train, x_train)
    baseline = cands.Candidate(cands.BASELINES[table.task], origin="baseline")
    unique: dict[tuple, cands.Candidate] = {}
    for c in [*found, baseline]:
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
        raise LossInputError("--model", f"one of {MODELS}", repr(options.model))
    if ctx.active and options.model in ("xgboost", "lightgbm"):
        raise LossInputError("--distributed", "used with --model mlp or linear (trees train in one process)", "gbdt")
    table = prepare(frame, options.target, task=options.task, source=source)
    classification = table.task != "regression"
    plan = plan_splits(
        table.y,
        classification=classification,
        val_size=options.val_size,
        test_size=options.test_size,
        cv=options.cv,
        seed=options.train.seed,
    )
    first = plan.folds[0]
    options = dataclasses.replace(options, train=options.train.resolve(len(first.train)))  # the settings used
    candidates, said = choose_candidates(options.losses, table, table.y[first.train], table.features.iloc[first.train])
    if options.model in ("xgboost", "lightgbm"):  # before any training: only losses the trees train
        from losskit.lab.gbdt_models import check_candidates

        kept = check_candidates(candidates, explicit=said is None)
        if said is not None:  # auto: say which advised losses the trees cannot train
            said["warnings"] = list(said.get("warnings", [])) + [
                f"{c.name} ({c.origin}) has no GBDT objective, so the {options.model} model does not train it"
                for c in candidates
                if c not in kept
            ]
        candidates = kept
    metric = parse_metric(options.metric or _advised_metric(said, table.task), table.task)
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
    winner = score_candidates(results, metric, y_val, y_test, n_resamples=options.bootstrap, seed=options.train.seed)
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
    )


def _advised_metric(said: dict[str, Any] | None, task: str) -> str | None:
    """The advisor's first suggested metric when the lab can score it, else the task default."""
    if not said:
        return None
    for words in said.get("metrics", []):
        name = re.split(r"[\s(]", str(words).strip().lower(), maxsplit=1)[0].replace("-", "_")
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
    reference = cands.reference_loss(task)
    for k, (fold, _pre, x_tr, x_va, x_te) in enumerate(folds):
        y_tr_np, y_va_np = table.y[fold.train], table.y[fold.val]
        loss = cands.make_loss(cand, y_tr_np, n_classes)
        label = cand.label if len(folds) == 1 else f"{cand.label} [fold {k + 1}]"
        if options.model in ("xgboost", "lightgbm"):
            from losskit.lab.gbdt_models import fit_gbdt

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
                epoch_metrics=_epoch_metrics(task, metric, y_va_np),
                progress=(lambda e, t, label=label: progress(label, e, t)) if progress else None,
            )
            val_raw, test_raw, fit_history, model, info = out
        else:
            y_tr_t = target_tensor(y_tr_np, task)
            start = optimal_start(loss, y_tr_t, output_size(task, n_classes))
            torch.manual_seed(options.train.seed)
            net = build_net(options.model, x_tr.shape[1], task, y_tr_np, n_classes, options.train.hidden, start)
            cw = cand.frozen.get("weight") if task == "multiclass" else None
            on_epoch = _epoch_callback(task, metric, y_va_np, options.train.epochs, label, progress)
            result = fit(
                net,
                loss,
                reference,
                x_tr,
                target_tensor(y_tr_np, task),
                x_va,
                target_tensor(y_va_np, task),
                config=options.train,
                class_weight=None if cw is None else torch.as_tensor(cw),
                ctx=ctx,
                on_epoch=on_epoch,
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
        history += [{"fold": float(k), **row} for row in fit_history]
        val_parts.append(scores_from_raw(val_raw, task))
        test_parts.append(scores_from_raw(test_raw, task))
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


def _epoch_metrics(task: str, metric: MetricSpec, y_val: np.ndarray) -> Callable[[np.ndarray], dict[str, float]]:
    specs = [parse_metric(name, task) for name in EPOCH_METRICS[task]]
    if not metric.needs_threshold and metric.label not in EPOCH_METRICS[task]:
        specs.append(metric)

    def compute(scores: np.ndarray) -> dict[str, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {f"val_{s.label}": s(y_val, scores) for s in specs}

    return compute


def _epoch_callback(
    task: str,
    metric: MetricSpec,
    y_val: np.ndarray,
    epochs: int,
    label: str,
    progress: Callable[[str, int, int], None] | None,
) -> Callable[[int, torch.Tensor], dict[str, float]]:
    compute = _epoch_metrics(task, metric, y_val)

    def on_epoch(epoch: int, val_out: torch.Tensor) -> dict[str, float]:
        row = compute(scores_from_raw(val_out, task))
        if progress:
            progress(label, epoch, epochs)
        return row

    return on_epoch
