"""Write a comparison's artefacts: report, model card, metrics log, summary and the trained model."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch

from losskit.lab.card import ModelCard, clean, library_versions
from losskit.lab.report import recommendation, render_report
from losskit.lab.results import LabResult

__all__ = ["build_card", "write_outputs"]

_QUANTILES = np.linspace(0.0, 1.0, 201)


def build_card(result: LabResult) -> ModelCard:
    """The model card of the winning candidate."""
    t, w, m = result.table, result.winner, result.metric
    sizes = result.plan.sizes
    train_rows = result.plan.folds[0].train
    reference: dict[str, Any] = {}
    if t.task == "regression":
        reference["target_quantiles"] = np.quantile(t.y[train_rows], _QUANTILES).tolist()
        reference["score_quantiles"] = np.quantile(w.val_scores, _QUANTILES).tolist()
    else:
        counts = np.bincount(t.y[train_rows], minlength=len(t.classes))
        reference["class_counts"] = counts.tolist()
        reference["prior"] = (counts / counts.sum()).tolist()
        if t.task == "binary":
            reference["score_quantiles"] = np.quantile(w.val_scores, _QUANTILES).tolist()
            reference["score_mean"] = float(np.mean(w.val_scores))
    model: dict[str, Any] = {"kind": result.options.model, "file": _model_file(result.options.model), **w.fits[0]}
    if result.options.model in ("mlp", "linear"):
        cfg = result.options.train
        model.update(
            hidden=list(cfg.hidden) if result.options.model == "mlp" else [],
            inputs=result.n_inputs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            patience=cfg.patience,
        )
    extra = (
        ("xgboost",)
        if result.options.model == "xgboost"
        else ("lightgbm",)
        if result.options.model == "lightgbm"
        else ()
    )
    return ModelCard(
        task=t.task,
        target=t.target,
        classes=list(t.classes),
        loss={
            "name": w.candidate.name,
            "options": w.candidate.frozen,
            "origin": w.candidate.origin,
            "reasons": recommendation(result),
        },
        threshold=w.threshold,
        metric={
            "name": m.label,
            "value": w.value,
            "low": w.interval[0],
            "high": w.interval[1],
            "level": 0.95,
            "win_rate": w.win_rate,
            "higher_is_better": m.higher_is_better,
            "bootstrap": result.options.bootstrap,
        },
        test_metrics=w.test_metrics,
        model=model,
        data={
            "source": t.source,
            "fingerprint": t.fingerprint,
            "rows": len(t.y) + t.dropped_rows,
            "columns": [str(c) for c in t.features.columns],
            "dropped_rows": t.dropped_rows,
            "imputed": result.imputed,
        },
        splits={**sizes, "seed": result.options.train.seed},
        reference=reference,
        comparison=[
            {
                "loss": r.candidate.label,
                "origin": r.candidate.origin,
                "value": r.value,
                "low": r.interval[0],
                "high": r.interval[1],
                "win_rate": r.win_rate,
                "threshold": r.threshold,
                "converged": r.converged,
            }
            for r in result.results
        ],
        versions=library_versions(extra),
    )


def _model_file(kind: str) -> str:
    return {"xgboost": "model.xgb.json", "lightgbm": "model.lgb.txt"}.get(kind, "model.pt")


def _save_model(result: LabResult, out: Path) -> Path:
    w, kind = result.winner, result.options.model
    path = out / _model_file(kind)
    joblib.dump(
        result.preprocessors if len(result.preprocessors) > 1 else result.preprocessors[0], out / "preprocessor.joblib"
    )
    if kind == "xgboost":
        w.models[0].save_model(str(path))
    elif kind == "lightgbm":
        w.models[0].save_model(str(path))
    else:
        torch.save(
            {
                "config": w.models[0].config,
                "state_dicts": [m.state_dict() for m in w.models],
                "task": result.table.task,
                "classes": list(result.table.classes),
                "loss": w.candidate.name,
                "loss_options": clean(w.candidate.frozen),
                "threshold": w.threshold,
            },
            path,
        )
    return path


def _write_metrics_csv(result: LabResult, path: Path) -> None:
    rows = [{"loss": r.candidate.label, **h} for r in result.results for h in r.history]
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (int(v) if k in ("fold", "epoch") else v) for k, v in row.items()})


def write_outputs(result: LabResult, out_dir: str | Path) -> dict[str, Path]:
    """Write every artefact into ``out_dir`` (created if needed); returns their paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.html", "metrics": out / "metrics.csv", "summary": out / "summary.json"}
    paths["report"].write_text(render_report(result))
    _write_metrics_csv(result, paths["metrics"])
    card = build_card(result)
    paths["card_json"], paths["card_md"] = card.save(out)
    paths["model"] = _save_model(result, out)
    summary = {
        "task": result.table.task,
        "metric": result.metric.label,
        "winner": result.winner.candidate.label,
        "advice": result.advice,
        "seconds": result.seconds,
        "candidates": [
            {
                "loss": r.candidate.label,
                "name": r.candidate.name,
                "options": r.candidate.frozen,
                "origin": r.candidate.origin,
                "value": r.value,
                "interval": list(r.interval),
                "win_rate": r.win_rate,
                "threshold": r.threshold,
                "test_metrics": r.test_metrics,
                "converged": r.converged,
                "fits": r.fits,
            }
            for r in result.results
        ],
    }
    paths["summary"].write_text(json.dumps(clean(summary), indent=2, allow_nan=False) + "\n")
    return paths
