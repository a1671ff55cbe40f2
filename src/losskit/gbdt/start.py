"""Starting scores and predictions for models trained with a custom objective.

Neither library starts a custom objective where its built-in counterpart would:

* XGBoost starts from ``base_score`` (default 0.5) read in the output space of the configured
  ``objective`` parameter. With a custom objective and no ``objective`` parameter that is the
  identity (``reg:squarederror``, or ``multi:softmax`` with ``num_class``), so the start is a raw
  score of 0.5, not the optimal constant. Setting ``base_score`` to
  :meth:`Objective.init_score` fixes it and is stored in the model (:func:`xgboost_params`).
  Alternatively a per-row ``base_margin`` overrides ``base_score``; it is not stored in the model
  and must be passed again at prediction time.
* LightGBM ignores ``boost_from_average`` with a custom objective and starts from 0. The start
  goes in ``lgb.Dataset(init_score=...)`` (or ``fit(init_score=...)``); it is not stored in
  the model either, so :func:`predict` adds it back.

The sklearn wrappers differ again: ``XGBClassifier`` with a callable objective configures
``binary:logistic`` / ``multi:softprob`` internally (its ``base_score`` is then a probability);
``LGBMClassifier.predict_proba`` returns raw scores. Per-row margins (``base_margin`` /
``init_score`` from :func:`start_margin`) together with :func:`predict` work the same way in all
of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from losskit._errors import LossInputError
from losskit.gbdt._base import Objective
from losskit.gbdt._checks import as_init_score

__all__ = ["predict", "start_margin", "xgboost_params"]


def start_margin(init_score: float | npt.ArrayLike, n_rows: int) -> np.ndarray:
    """The starting raw score repeated for ``n_rows`` rows: ``(n,)``, or ``(n, K)`` for a vector.

    Pass it as ``xgb.DMatrix(base_margin=...)``, ``XGBModel.fit(base_margin=...)``,
    ``lgb.Dataset(init_score=...)`` or ``LGBMModel.fit(init_score=...)``, for every data set
    (training and evaluation) the model sees.
    """
    init = np.asarray(init_score, dtype=np.float64)
    if init.ndim > 1:
        raise LossInputError("init_score", "a number or a vector (K,)", f"an array of shape {init.shape}")
    return np.tile(init, (n_rows, 1)) if init.ndim == 1 else np.full(n_rows, float(init))


def xgboost_params(
    objective: Objective,
    y_true: npt.ArrayLike,
    sample_weight: npt.ArrayLike | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parameters for ``xgb.train(params, dtrain, obj=objective.xgboost)`` that start from the
    optimal constant.

    Adds ``base_score`` (the objective's :meth:`~Objective.init_score`, a raw score because no
    ``objective`` parameter is set; a per-class list for multi-class objectives, which needs
    XGBoost >= 3.1), ``num_class`` for multi-class objectives, ``disable_default_eval_metric``
    (the default metric would read raw scores as predictions) and the booster parameters the
    built-in counterpart sets (:attr:`~Objective.xgboost_tree_params`, unless ``params`` has them).
    The start is stored in the model, so predictions need no ``init_score``:
    ``predict(objective, booster, X)``.

    Raises:
        LossInputError: if ``params`` sets ``objective`` (it would change how ``base_score`` is read),
            or for a multi-class objective on XGBoost < 3.1 (use ``base_margin``, see the module docs).
    """
    out = dict(params or {})
    if "objective" in out:
        raise LossInputError(
            "params", "without an 'objective' entry (the custom objective replaces it)", repr(out["objective"])
        )
    init = objective.init_score(y_true, sample_weight)
    if objective.num_outputs > 1:
        version = _xgboost_version()
        if version < (3, 1):
            raise LossInputError(
                "objective",
                "a one-output objective: a per-class base_score needs XGBoost >= 3.1; on older versions pass "
                "start_margin(objective.init_score(y), n) as base_margin and predict(..., init_score=...)",
                f"a {objective.num_outputs}-class objective with XGBoost {'.'.join(map(str, version))}",
            )
        out["num_class"] = objective.num_outputs
    out["base_score"] = np.asarray(init).tolist()
    out.setdefault("disable_default_eval_metric", True)
    for key, value in objective.xgboost_tree_params.items():
        out.setdefault(key, value)
    return out


def _xgboost_version() -> tuple[int, int]:
    import xgboost

    major, minor = xgboost.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def _num_rows(X: Any) -> int:
    return int(X.num_row()) if hasattr(X, "num_row") else int(np.shape(X)[0])


def predict(
    objective: Objective,
    model: Any,
    X: Any,
    *,
    init_score: float | npt.ArrayLike | None = None,
    raw_score: bool = False,
) -> np.ndarray:
    """Predictions of a model trained with ``objective``: the starting score added back and the
    inverse link applied (probabilities for classification objectives).

    Args:
        objective: the objective the model was trained with.
        model: an ``xgboost.Booster``, an XGBoost sklearn estimator, a ``lightgbm.Booster`` or a
            LightGBM sklearn estimator.
        X: features (an ``xgb.DMatrix`` too, for an XGBoost booster).
        init_score: the start given as ``base_margin`` / ``init_score`` during training (None
            when it is stored in the model through ``base_score``, or when there was none).
        raw_score: return raw scores instead of transformed predictions.

    Returns:
        ``(n,)``, or ``(n, K)`` for a ``K``-class objective.
    """
    library = type(model).__module__.split(".")[0]
    margin = None
    if init_score is not None:
        margin = start_margin(as_init_score(init_score, objective.num_outputs), _num_rows(X))
    if library == "xgboost":
        import xgboost as xgb

        if isinstance(model, xgb.Booster):
            if not isinstance(X, xgb.DMatrix):
                X = xgb.DMatrix(X)
            if margin is not None:
                X.set_base_margin(margin)
            raw = model.predict(X, output_margin=True)
        else:
            raw = model.predict(X, output_margin=True, base_margin=margin)
    elif library == "lightgbm":
        raw = np.asarray(model.predict(X, raw_score=True), dtype=np.float64)
        if margin is not None:
            raw = raw + margin
    else:
        raise LossInputError("model", "an XGBoost or LightGBM booster or sklearn estimator", type(model).__name__)
    raw = np.asarray(raw, dtype=np.float64)
    return raw if raw_score else objective.transform(raw)
