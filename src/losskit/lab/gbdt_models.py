"""Gradient-boosted trees (``--model xgboost | lightgbm``) trained on the losskit GBDT objectives.

A candidate loss maps to its :mod:`losskit.gbdt` objective (same per-row loss as the PyTorch
function). Boosting starts from the objective's optimal constant, stops early on the validation
loss, and logs per round what the PyTorch loop logs per epoch. ``mae_loss`` trains as the
pinball loss at 0.5 (half the absolute error, the same minimiser) and ``smooth_l1_loss`` as
Huber with ``delta = beta`` (Huber divided by ``beta``, the same minimiser).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from losskit.lab.candidates import Candidate, reference_loss
from losskit.lab.train import TrainConfig, target_tensor

__all__ = ["fit_gbdt", "objective_for"]


def objective_for(cand: Candidate, n_classes: int) -> Any:
    """The :mod:`losskit.gbdt` objective of a candidate (frozen options), as the catalog maps it."""
    from losskit import catalog

    return catalog.gbdt_objective(cand.entry, cand.frozen, n_classes)


def fit_gbdt(
    library: str,
    cand: Candidate,
    task: str,
    n_classes: int,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    *,
    config: TrainConfig,
    epoch_metrics: Callable[[np.ndarray], dict[str, float]],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]], Any, dict[str, Any]]:
    """Boost up to ``config.rounds`` rounds; returns validation and test raw scores, the per-round log,
    the booster (best round) and fit facts."""
    from losskit.lab.train import scores_from_raw

    objective = objective_for(cand, n_classes)
    reference = reference_loss(task)
    yt_train, yt_val = target_tensor(y_train, task), target_tensor(y_val, task)
    history: list[dict[str, float]] = []

    def log(round_: int, raw_train: np.ndarray, raw_val: np.ndarray) -> float:
        rt, rv = torch.as_tensor(raw_train), torch.as_tensor(raw_val)
        row = {
            "epoch": float(round_),
            "train_loss": float(objective.loss(y_train, raw_train).mean()),
            "val_loss": float(objective.loss(y_val, raw_val).mean()),
            "train_ref": float(reference(rt.float(), yt_train)),
            "val_ref": float(reference(rv.float(), yt_val)),
        }
        row.update(epoch_metrics(scores_from_raw(rv, task)))
        history.append(row)
        if progress:
            progress(round_, config.rounds)
        return row["val_loss"]

    start = objective.init_score(y_train)
    if library == "xgboost":
        model, best = _xgboost(objective, x_train, y_train, x_val, y_val, config, log)
        raw_val = _xgb_raw(model, x_val, best)
        raw_test = _xgb_raw(model, x_test, best)
    else:
        model, best = _lightgbm(objective, start, x_train, y_train, x_val, config, log)
        raw_val = model.predict(x_val, raw_score=True, num_iteration=best) + _margin(start, len(x_val))
        raw_test = model.predict(x_test, raw_score=True, num_iteration=best) + _margin(start, len(x_test))
    info = {"epochs_run": len(history), "best_epoch": best, "library": library, "objective": repr(objective)}
    info["init_score"] = np.asarray(start).tolist()  # LightGBM does not store it; losskit predict adds it back
    return torch.as_tensor(raw_val), torch.as_tensor(raw_test), history, model, info


def _margin(start: Any, n: int) -> np.ndarray:
    from losskit.gbdt import start_margin

    return start_margin(start, n)


def _xgb_raw(model: Any, x: np.ndarray, best: int) -> np.ndarray:
    import xgboost as xgb

    return model.predict(xgb.DMatrix(x), output_margin=True, iteration_range=(0, best))


def _params(config: TrainConfig) -> dict[str, Any]:
    return {"learning_rate": 0.1, "max_depth": 6, "seed": config.seed, "nthread": 1}


def _xgboost(objective, x_train, y_train, x_val, y_val, config, log) -> tuple[Any, int]:
    import xgboost as xgb

    from losskit.gbdt import xgboost_params

    dtrain, dval = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_val, label=y_val)
    best = [float("inf"), 0]

    class Logger(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            value = log(epoch + 1, model.predict(dtrain, output_margin=True), model.predict(dval, output_margin=True))
            if value < best[0] - 1e-9:
                best[:] = [value, epoch + 1]
            return epoch + 1 - best[1] >= config.patience

    params = xgboost_params(objective, y_train, params={**_params(config), "verbosity": 0})
    model = xgb.train(params, dtrain, config.rounds, obj=objective.xgboost, callbacks=[Logger()])
    return model, int(best[1])


def _lightgbm(objective, start, x_train, y_train, x_val, config, log) -> tuple[Any, int]:
    import lightgbm as lgb

    init_train, init_val = _margin(start, len(x_train)), _margin(start, len(x_val))
    params = {**_params(config), "objective": objective.lightgbm, "verbosity": -1, "num_leaves": 31}
    if objective.num_outputs > 1:
        params["num_class"] = objective.num_outputs
    best = [float("inf"), 0]

    def callback(env: Any) -> None:
        round_ = env.iteration + 1
        value = log(
            round_,
            env.model.predict(x_train, raw_score=True) + init_train,
            env.model.predict(x_val, raw_score=True) + init_val,
        )
        if value < best[0] - 1e-9:
            best[:] = [value, round_]
        if round_ - best[1] >= config.patience:
            raise lgb.callback.EarlyStopException(best[1] - 1, [])

    train_set = lgb.Dataset(x_train, label=y_train, init_score=init_train)
    model = lgb.train(params, train_set, config.rounds, callbacks=[callback])
    return model, int(best[1])
