"""Gradient-boosted trees (``--model xgboost | lightgbm``) trained on the losskit GBDT objectives.

A candidate loss maps to its :mod:`losskit.gbdt` objective (same per-row loss as the PyTorch
function). Boosting starts from the objective's optimal constant, stops early on the validation
loss, and logs per round what the PyTorch loop logs per epoch. ``mae_loss`` trains as the
pinball loss at 0.5 (half the absolute error, the same minimiser) and ``smooth_l1_loss`` as
Huber with ``delta = beta`` (Huber divided by ``beta``, the same minimiser).

Where a library has the same loss built in, the lab trains with the built-in: ``mae_loss`` and
``pinball_loss`` as XGBoost ``reg:absoluteerror`` / ``reg:quantileerror`` and LightGBM ``l1`` /
``quantile``, whose leaf values are refreshed from the residuals' quantile (the losskit pinball
objective's IRLS steps get within a few percent of that at the median, and up to about 15% behind
at far quantiles; see :mod:`losskit.gbdt.regression`). The log still records the losskit loss of
each round's predictions, and ``tests/test_lab_gbdt.py`` checks that each built-in's own metric
equals that loss. Everything else, Huber included (XGBoost only has pseudo-Huber, a different
loss), trains on the losskit objective.

:func:`check_candidates` runs before any training: explicit losses without a GBDT objective (or
with options it does not take) are refused, and ``auto`` keeps only the losses the trees train.
XGBoost starts multi-class objectives from per-row margins (``base_margin``): a per-class
``base_score`` needs XGBoost >= 3.1 and the ``gbdt`` extra allows 2.1. Those margins, like
LightGBM's ``init_score``, are not stored in the saved model: the fit facts record the start
(``fits[k]["start"]``) to add back when scoring new rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from losskit._errors import LossInputError
from losskit._optional import requires_extra
from losskit.lab.candidates import Candidate, reference_loss
from losskit.lab.train import TrainConfig, target_tensor

__all__ = ["builtin_params", "check_candidates", "fit_gbdt", "objective_for"]


def _tree_losses() -> str:
    from losskit import catalog

    return ", ".join(e.name for e in catalog.ENTRIES if e.gbdt is not None and e.trainable)


def check_candidates(candidates: list[Candidate], *, explicit: bool) -> list[Candidate]:
    """The candidates the trees can train, checked before any training.

    Explicit candidates (the user's list) must all have a GBDT objective (in the catalog) taking
    their options, else :class:`LossInputError`; ``auto`` candidates without one are dropped.
    """
    kept = []
    for cand in candidates:
        problem = _problem(cand)
        if problem is None:
            kept.append(cand)
        elif explicit:
            raise LossInputError(*problem)
    if not kept:
        raise LossInputError("losses", f"at least one loss with a GBDT objective ({_tree_losses()})", "none")
    return kept


def _problem(cand: Candidate) -> tuple[str, str, Any] | None:
    spec = cand.entry.gbdt
    if spec is None:
        return "losses", f"a loss with a GBDT objective ({_tree_losses()})", repr(cand.name)
    takes = [option for option, _ in spec.options]
    extra = sorted(set(cand.options) - set(takes))
    if extra:
        return f"losses {cand.name}", f"options its GBDT objective takes {takes}", extra
    return None


def objective_for(cand: Candidate, n_classes: int) -> Any:
    """The :mod:`losskit.gbdt` objective of a candidate (frozen options), as the catalog maps it."""
    from losskit import catalog

    return catalog.gbdt_objective(cand.entry, cand.frozen, n_classes)


def builtin_params(library: str, cand: Candidate) -> dict[str, Any] | None:
    """The library's built-in objective equal to the candidate's loss (``None`` where there is none).

    The losses the catalog maps to the pinball objective (the absolute error at 0.5, the quantile
    losses) have one: the libraries' quantile objectives, which refresh leaf values from residual
    quantiles and so reach targets in the thousands.
    """
    spec = cand.entry.gbdt
    if spec is None or spec.factory != "pinball":
        return None
    q = objective_for(cand, 1).quantile
    if library == "xgboost":
        if q == 0.5:
            return {"objective": "reg:absoluteerror"}
        return {"objective": "reg:quantileerror", "quantile_alpha": q}
    return {"objective": "l1"} if q == 0.5 else {"objective": "quantile", "alpha": q}


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

    config = config.resolve(len(x_train))  # patience from the data size unless given
    objective = objective_for(cand, n_classes)
    reference = reference_loss(task, cand)
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

    began = time.perf_counter()
    builtin = builtin_params(library, cand)
    start = objective.init_score(y_train)
    train = _xgboost if library == "xgboost" else _lightgbm
    model, best, raw = train(objective, builtin, start, x_train, y_train, x_val, config, log)
    raw_val, raw_test = raw(x_val, best), raw(x_test, best)
    info = {
        "epochs_run": len(history),
        "best_epoch": best,
        "converged": best < len(history),  # still improving at the last round allowed: not converged
        "epoch_budget": config.rounds,
        "library": library,
        "objective": repr(builtin or objective),
        "seconds": round(time.perf_counter() - began, 2),
        # the start where the saved model does not hold it (added back when scoring new rows)
        "start": np.asarray(start).tolist()
        if builtin is None and (library == "lightgbm" or objective.num_outputs > 1)
        else None,
    }
    return torch.as_tensor(raw_val), torch.as_tensor(raw_test), history, model, info


def _margin(start: Any, n: int) -> np.ndarray:
    from losskit.gbdt import start_margin

    return start_margin(start, n)


def _params(config: TrainConfig) -> dict[str, Any]:
    return {"learning_rate": 0.1, "max_depth": 6, "seed": config.seed, "nthread": 1}


def _xgboost(objective, builtin, start, x_train, y_train, x_val, config, log) -> tuple[Any, int, Callable]:
    with requires_extra("gbdt", "the lab's xgboost model"):
        import xgboost as xgb

    from losskit.gbdt import xgboost_params

    per_row = builtin is None and objective.num_outputs > 1  # a per-class base_score needs XGBoost >= 3.1

    def data(x: np.ndarray, label: np.ndarray | None = None) -> Any:
        return xgb.DMatrix(x, label=label, base_margin=_margin(start, len(x)) if per_row else None)

    dtrain, dval = data(x_train, y_train), data(x_val)
    best = [float("inf"), 0]

    class Logger(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            value = log(epoch + 1, model.predict(dtrain, output_margin=True), model.predict(dval, output_margin=True))
            if value < best[0] - 1e-9:
                best[:] = [value, epoch + 1]
            return epoch + 1 - best[1] >= config.patience

    params = {**_params(config), "verbosity": 0}
    if builtin is not None:
        params.update(builtin)
    elif per_row:
        params.update(num_class=objective.num_outputs, disable_default_eval_metric=True)
    else:
        params = xgboost_params(objective, y_train, params=params)
    obj = None if builtin is not None else objective.xgboost
    model = xgb.train(params, dtrain, config.rounds, obj=obj, callbacks=[Logger()])

    def raw(x: np.ndarray, rounds: int) -> np.ndarray:
        return model.predict(data(x), output_margin=True, iteration_range=(0, rounds))

    return model, int(best[1]), raw


def _lightgbm(objective, builtin, start, x_train, y_train, x_val, config, log) -> tuple[Any, int, Callable]:
    with requires_extra("gbdt", "the lab's lightgbm model"):
        import lightgbm as lgb

    def margin(n: int) -> np.ndarray | float:
        return 0.0 if builtin is not None else _margin(start, n)  # built-ins boost from their own start

    params = {**_params(config), "objective": objective.lightgbm, "verbosity": -1, "num_leaves": 31, "metric": "None"}
    if builtin is not None:
        params.update(builtin)
    if objective.num_outputs > 1:
        params["num_class"] = objective.num_outputs
    best = [float("inf"), 0]
    init = (lambda n: None) if builtin is not None else margin
    train_set = lgb.Dataset(x_train, label=y_train, init_score=init(len(x_train)))
    val_set = lgb.Dataset(x_val, label=np.zeros(len(x_val)), init_score=init(len(x_val)), reference=train_set)
    scores: dict[str, np.ndarray] = {}

    def capture(preds: np.ndarray, data: Any) -> tuple[str, float, bool]:
        # LightGBM's running scores (start included): no re-prediction of every row every round
        scores["train" if data is train_set else "val"] = np.array(preds)
        return "scores", 0.0, False

    def callback(env: Any) -> None:
        round_ = env.iteration + 1
        value = log(round_, scores["train"], scores["val"])
        if value < best[0] - 1e-9:
            best[:] = [value, round_]
        if round_ - best[1] >= config.patience:
            raise lgb.callback.EarlyStopException(best[1] - 1, [])

    model = lgb.train(
        params, train_set, config.rounds, valid_sets=[train_set, val_set], feval=capture, callbacks=[callback]
    )

    def raw(x: np.ndarray, rounds: int) -> np.ndarray:
        return model.predict(x, raw_score=True, num_iteration=rounds) + margin(len(x))

    return model, int(best[1]), raw
