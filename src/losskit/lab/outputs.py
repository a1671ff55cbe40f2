"""Write a comparison's artefacts: report, model card, metrics log, summary and the trained model.

The artefacts appear all at once or not at all. They are written into a fresh temporary folder
beside the output folder (same parent, so on the same file system) that is renamed into place
at the end. A run that fails or is interrupted leaves no folder behind, and never a mix of two
runs' files. An existing folder is replaced only when asked (``overwrite=True``) and only when
it holds an earlier run (a ``model_card.json``): the old folder is moved aside, the new one
renamed in, and the old one deleted. Nothing is written through a symbolic link: the temporary
folder is new and empty, the output folder itself may not be a link, and the old folder is
deleted without following links in it.

``preprocessor.joblib`` is a pickle: loading it runs code, so load only files you trust.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch

from losskit._errors import LossInputError
from losskit.lab.card import ModelCard, clean, library_versions
from losskit.lab.report import recommendation, render_report
from losskit.lab.results import LabResult

__all__ = ["build_card", "card_classes", "check_out_dir", "write_outputs"]

_QUANTILES = np.linspace(0.0, 1.0, 201)


def card_classes(result: LabResult) -> list:
    """The card's classes: the table's, or a ranking table's relevance levels in its training rows."""
    t = result.table
    if t.task != "ranking":
        return list(t.classes)
    return [int(v) for v in np.unique(t.y[result.plan.folds[0].train])]


def build_card(result: LabResult) -> ModelCard:
    """The model card of the winning candidate."""
    t, w, m = result.table, result.winner, result.metric
    sizes = result.plan.sizes
    train_rows = result.plan.folds[0].train
    classes = card_classes(result)
    reference: dict[str, Any] = {}
    if t.task == "regression":
        reference["target_quantiles"] = np.quantile(t.y[train_rows], _QUANTILES).tolist()
        reference["score_quantiles"] = np.quantile(w.val_scores, _QUANTILES).tolist()
    elif t.task == "ranking":  # relevance levels as classes (drift checks their shares), scores as numbers
        _, counts = np.unique(t.y[train_rows], return_counts=True)
        reference["class_counts"] = counts.tolist()
        reference["prior"] = (counts / counts.sum()).tolist()
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
        classes=classes,
        loss={
            "name": w.candidate.name,
            "options": w.candidate.frozen,
            "origin": w.candidate.origin,
            "reasons": recommendation(result),
            "target_transform": w.candidate.target_transform,  # losskit predict applies the inverse
            "resample": w.candidate.resample,  # losskit predict corrects the scores back to the prior
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
            "positive_class": t.positive_class,
            **({"group": t.group, "groups": result.query_counts} if t.group is not None else {}),
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
                "classes": card_classes(result),
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


def check_out_dir(out_dir: str | Path, *, overwrite: bool = False) -> None:
    """Raise :class:`LossInputError` (argument ``out_dir``) unless a run's artefacts may go there.

    Accepted: a name that does not exist yet, an empty folder, or (with ``overwrite``) the folder
    of an earlier run. Refused: a file, a symbolic link, a folder with other files, and the
    working directory or a folder above it.
    """
    out = Path(out_dir)
    shown = repr(str(out_dir))
    if out.is_symlink():
        raise LossInputError("out_dir", "a folder, not a symbolic link", shown)
    if out.exists() and not out.is_dir():
        raise LossInputError("out_dir", "a folder or a name to create", f"{shown}, an existing file")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise LossInputError("out_dir", "a new or empty folder", f"{shown}, which holds files")
    if not (out / "model_card.json").is_file():
        raise LossInputError("out_dir", "a new or empty folder, or an earlier run's (with model_card.json)", shown)
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise LossInputError("out_dir", "a folder other than the working directory or one above it", shown)


@contextmanager
def _staged(out: Path, *, overwrite: bool) -> Iterator[Path]:
    """A new temporary folder beside ``out`` that replaces ``out`` when the block ends without error."""
    check_out_dir(out, overwrite=overwrite)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the final folder gets the usual mode
        yield tmp
        check_out_dir(out, overwrite=overwrite)  # nothing appeared there meanwhile
        old = parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
        if out.is_dir():
            out.rename(old)
        try:
            tmp.rename(out)
        except OSError:
            if old.exists():
                old.rename(out)
            raise
        shutil.rmtree(old, ignore_errors=True)  # rmtree does not follow symbolic links
    except BaseException:  # KeyboardInterrupt too: never leave a partial folder behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_outputs(
    result: LabResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    also: Callable[[Path], None] | None = None,
) -> dict[str, Path]:
    """Write every artefact into ``out_dir``, all at once (see the module docstring).

    Args:
        result: the comparison to write.
        out_dir: the output folder: new, empty, or (with ``overwrite``) an earlier run's folder.
        overwrite: replace the folder of an earlier run.
        also: ``also(folder)`` writes further files (tracker logs) into the folder before it is
            moved into place.

    Returns:
        The artefacts' final paths by name (``report``, ``metrics``, ``summary``, ``card_json``,
        ``card_md``, ``model``).

    Raises:
        LossInputError: ``out_dir`` is a file, a symbolic link, or a folder that may not be replaced.
    """
    final = Path(out_dir)
    with _staged(final, overwrite=overwrite) as out:
        staged = _write_all(result, out)
        if also is not None:
            also(out)
    return {name: final / path.relative_to(out) for name, path in staged.items()}


def _write_all(result: LabResult, out: Path) -> dict[str, Path]:
    paths = {"report": out / "report.html", "metrics": out / "metrics.csv", "summary": out / "summary.json"}
    paths["report"].write_text(render_report(result))
    _write_metrics_csv(result, paths["metrics"])
    card = build_card(result)
    paths["card_json"], paths["card_md"] = card.save(out)
    paths["model"] = _save_model(result, out)
    summary = {
        "task": result.table.task,
        "positive_class": result.table.positive_class,
        "metric": result.metric.label,
        "winner": result.winner.candidate.label,
        "advice": result.advice,
        "seconds": result.seconds,
        "candidates": [
            {
                "loss": r.candidate.label,
                "name": r.candidate.name,
                "options": r.candidate.frozen,
                "target_transform": r.candidate.target_transform,
                "resample": r.candidate.resample,
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
