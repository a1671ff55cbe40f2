"""Score new rows with a saved ``losskit compare`` run: ``losskit predict RUN_DIR DATA``.

A run folder holds ``model_card.json`` (task, classes, threshold, feature columns),
``preprocessor.joblib`` (the fitted scikit-learn preprocessing, one per fold) and the model:
``model.pt`` (PyTorch state dicts, one per fold), ``model.xgb.json`` or ``model.lgb.txt``.
:func:`load_run` rebuilds them and :meth:`SavedRun.predict` applies preprocessing, model and
threshold exactly as ``compare`` scored its test rows (fold models averaged on the score scale;
a ``target=log1p`` model's predictions taken back with ``expm1``; a resampled model's scores
moved from the balanced prior back to the training prior).

Trust: ``preprocessor.joblib`` is a pickle, and unpickling runs code. Load run folders you (or
your pipeline) wrote, never one from an untrusted source. Everything else loads without executing
code: the card is validated JSON, ``model.pt`` is read with ``torch.load(weights_only=True)``
and the tree models are XGBoost JSON / LightGBM text files.

Outputs (one row per input row, same order): ``score`` (probability of ``classes[1]``) and
``decision`` for a binary model; ``p_<class>`` per class and ``decision`` for multi-class;
``p_<level>`` per level and ``decision`` (the median level, CORN's ``corn_predict``) for an
ordinal model; ``prediction`` for regression (``exp`` of a count loss's log-mean output);
``score`` for a ranking model (higher ranks first; only the order within a query means anything)
and, when the table has the run's query-group column, ``rank`` within each query (1 = top).
:func:`write_table` writes them atomically (a temporary file in the destination's folder, then
:func:`os.replace`; a symbolic link at the destination is replaced, never followed).

A cross-validated tree run (``--cv K --model xgboost | lightgbm``) saves only the first fold's
booster; :func:`load_run` warns that its predictions come from that model alone.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from losskit._errors import LossInputError
from losskit._optional import requires_extra
from losskit.lab.card import ModelCard

__all__ = ["SavedRun", "load_run", "predict_file", "write_table"]


@dataclass
class SavedRun:
    """A loaded run: the card, the fitted preprocessors and the models (one per fold)."""

    card: ModelCard
    preprocessors: list[Any]
    models: list[Any]
    directory: Path

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Model scores of ``frame``'s rows: ``(N,)`` probabilities or predictions, ``(N, C)`` for multi-class."""
        columns = [str(c) for c in self.card.data["columns"]]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise LossInputError("frame", f"a table with the model's feature columns ({', '.join(columns)})", missing)
        features = frame[columns]
        parts = []
        for pre, model in zip(self.preprocessors, self.models, strict=True):
            x = np.asarray(pre.transform(features), dtype=np.float32)
            parts.append(self._raw_to_scores(self._raw(model, x)))
        return np.mean(parts, axis=0)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Scores and decisions of ``frame``'s rows (the module docstring lists the columns).

        ``load_run("lab-out").predict(pd.read_csv("new_week.csv"))`` scores a new table; the target
        column and any other extra columns are ignored, a missing feature column is an error.
        """
        scores = self.scores(frame)
        card = self.card
        if card.task == "regression":
            return pd.DataFrame({"prediction": scores}, index=frame.index)
        if card.task == "ranking":
            out = pd.DataFrame({"score": scores}, index=frame.index)
            group = card.data.get("group")
            if group in frame.columns:
                out["rank"] = (
                    out["score"].groupby(frame[group], dropna=False).rank(ascending=False, method="first").astype(int)
                )
            return out
        if card.task == "binary":
            t = 0.5 if card.threshold is None else card.threshold
            decision = np.where(scores >= t, card.classes[1], card.classes[0])
            return pd.DataFrame({"score": scores, "decision": decision}, index=frame.index)
        out = pd.DataFrame({f"p_{c}": scores[:, i] for i, c in enumerate(card.classes)}, index=frame.index)
        if card.task == "ordinal":
            from losskit.lab.scoring import median_level

            picked = median_level(scores)
        else:
            picked = scores.argmax(axis=1)
        out["decision"] = np.asarray(card.classes, dtype=object)[picked]
        return out

    def _raw(self, model: Any, x: np.ndarray) -> np.ndarray:
        kind = self.card.model["kind"]
        best = int(self.card.model.get("best_epoch") or 0)
        if kind in ("xgboost", "lightgbm"):
            from losskit.gbdt import start_margin

            if kind == "xgboost":
                with requires_extra("gbdt", "losskit.lab.predict"):
                    import xgboost as xgb

                rounds = (0, best) if best > 0 else (0, 0)
                raw = model.predict(xgb.DMatrix(x), output_margin=True, iteration_range=rounds)
            else:
                raw = model.predict(x, raw_score=True, num_iteration=best if best > 0 else None)
            # the start score where the saved booster does not hold it (LightGBM, XGBoost multi-class)
            start = self.card.model.get("start")
            return raw if start is None else raw + start_margin(start, len(x))
        import torch

        from losskit.lab.train import predict_raw

        return predict_raw(model, torch.as_tensor(x)).double().numpy()

    def _raw_to_scores(self, raw: np.ndarray) -> np.ndarray:
        """Scores in the target's units at the true prior, as ``compare`` scored its rows."""
        import torch

        from losskit.evaluate import adjust_for_prior_shift
        from losskit.lab.candidates import Candidate, scores_of

        loss = self.card.loss
        cand = Candidate(loss["name"], target_transform=loss.get("target_transform"), resample=loss.get("resample"))
        scores = scores_of(cand, torch.as_tensor(np.asarray(raw, dtype=np.float64)), self.card.task)
        if cand.resample is None:
            return scores
        # trained on class-balanced rows: back from the uniform prior to the training split's prior
        prior = np.asarray(self.card.reference["prior"], dtype=np.float64)
        if scores.ndim == 1:
            return np.asarray(adjust_for_prior_shift(scores, 0.5, prior[1]))
        return np.asarray(adjust_for_prior_shift(scores, np.full(len(prior), 1 / len(prior)), prior))


def _file(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise LossInputError("run_dir", f"a losskit compare output folder with {name}", repr(str(directory)))
    return path


def load_run(run_dir: str | Path) -> SavedRun:
    """Load the card, preprocessing and model that ``losskit compare`` wrote into ``run_dir``.

    ``preprocessor.joblib`` is a pickle: load only folders you trust (module docstring).

    Raises:
        LossInputError: the folder lacks a file, the card fails validation, or the model file does
            not match the card.
    """
    directory = Path(run_dir)
    if not directory.is_dir():
        raise LossInputError("run_dir", "a losskit compare output folder", repr(str(run_dir)))
    card = ModelCard.load(_file(directory, "model_card.json"))
    kind, name = card.model["kind"], card.model.get("file")
    if not isinstance(name, str) or Path(name).name != name:
        raise LossInputError("CARD field model.file", "a file name inside the run folder", repr(name))
    model_path = _file(directory, name)
    with requires_extra("lab", "losskit.lab.predict"):
        import joblib

    pre = joblib.load(_file(directory, "preprocessor.joblib"))
    preprocessors = pre if isinstance(pre, list) else [pre]
    if kind == "xgboost":
        with requires_extra("gbdt", "losskit.lab.predict"):
            import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(model_path))
        models: list[Any] = [booster]
    elif kind == "lightgbm":
        with requires_extra("gbdt", "losskit.lab.predict"):
            import lightgbm as lgb

        if "start" not in card.model:
            raise LossInputError("CARD field model.start", "the LightGBM start score (or null)", "nothing (missing)")
        models = [lgb.Booster(model_file=str(model_path))]
    elif kind in ("mlp", "linear"):
        models = _torch_models(model_path, card)
    else:
        raise LossInputError("CARD field model.kind", "one of mlp, linear, xgboost, lightgbm", repr(kind))
    if kind in ("xgboost", "lightgbm") and len(preprocessors) > 1:
        warnings.warn(
            f"the run was cross-validated ({len(preprocessors)} folds) but saved only the first fold's {kind} "
            "model: predictions come from it alone, not from the fold average compare scored its test rows with",
            UserWarning,
            stacklevel=2,
        )
    preprocessors = preprocessors[: len(models)]
    if len(preprocessors) != len(models):
        raise LossInputError("run_dir", f"one preprocessor per model ({len(models)})", len(preprocessors))
    return SavedRun(card=card, preprocessors=preprocessors, models=models, directory=directory)


def _torch_models(path: Path, card: ModelCard) -> list[Any]:
    import torch

    from losskit.lab.models import TabularNet

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        config = saved["config"]
        nets = []
        for state in saved["state_dicts"]:
            net = TabularNet(
                config["n_features"],
                config["n_outputs"],
                tuple(config["hidden"]),
                loc=torch.zeros(config["n_outputs"]),
            )
            net.load_state_dict(state)
            nets.append(net.eval())
    except (KeyError, TypeError, RuntimeError, OSError, ValueError, pickle.UnpicklingError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise LossInputError("run_dir", f"a readable {path.name} saved by losskit compare", detail) from None
    if saved.get("task") != card.task or [str(c) for c in saved.get("classes", [])] != [str(c) for c in card.classes]:
        raise LossInputError("run_dir", "a model file of the card's task and classes", f"{path.name} of another run")
    return nets


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV (Parquet for ``.parquet`` / ``.pq``) atomically; returns the path.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
        >>> write_table(pd.DataFrame({"score": [0.25]}), out).read_text()
        'score\\n0.25\\n'
    """
    target = _destination(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as fh:
            if target.suffix.lower() in (".parquet", ".pq"):
                frame.to_parquet(fh, index=False)
            else:
                frame.to_csv(fh, index=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _destination(path: str | Path) -> Path:
    target = Path(path)
    if target.is_dir():
        raise LossInputError("out", "a file path", f"the folder {str(path)!r}")
    if not target.parent.is_dir():
        raise LossInputError("out", "a path in an existing folder", repr(str(path)))
    return target


def predict_file(run_dir: str | Path, data: str | Path, out: str | Path | None = None) -> pd.DataFrame | None:
    """``losskit predict``: score the table at ``data`` with the run in ``run_dir``.

    Checks ``out`` and loads the run before reading the data; writes to ``out`` atomically and
    returns None, or returns the predictions when ``out`` is None.
    """
    from losskit.lab.data import load_frame

    if out is not None:
        _destination(out)
    run = load_run(run_dir)
    predictions = run.predict(load_frame(data))
    if out is None:
        return predictions
    write_table(predictions, out)
    return None
