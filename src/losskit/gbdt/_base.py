"""The objective base class and its adapters to XGBoost's and LightGBM's calling conventions.

A subclass supplies the mathematics on validated NumPy arrays (labels ``y``, raw scores ``z``):
``_labels`` (domain check), ``_grad_hess`` (unweighted first and second derivatives of the
per-row loss with respect to the raw score), ``_loss``, ``_init_score`` and ``transform``.
The base class adds validation, sample weights, the Hessian floor and the adapters.

Calling conventions the adapters follow (XGBoost >= 2.1, LightGBM >= 4.0):

* ``xgb.train(params, dtrain, obj=o.xgboost, custom_metric=o.xgboost_metric)``: the objective
  is called as ``obj(predt, dtrain)`` with raw margins ``predt`` of shape ``(n,)`` or ``(n, K)``
  and must apply the sample weights itself (``dtrain.get_weight()``).
* ``XGBClassifier(objective=o.xgboost_sklearn, eval_metric=o.xgboost_metric)``: called as
  ``obj(y_true, y_pred, sample_weight=...)`` and ``metric(y_true, y_pred, sample_weight=...)``.
* ``lgb.train({"objective": o.lightgbm, ...}, train_set, feval=o.lightgbm_metric)``: called as
  ``obj(preds, train_data)``; the sklearn estimators (``LGBMClassifier(objective=o.lightgbm)``)
  call ``obj(y_true, y_pred, weight, group)``. One callable serves both: the second argument
  tells them apart (a data set has ``get_label``).

Custom objectives hand raw margins to metrics too, so the metrics compute the loss from raw
scores (the inverse link is part of the loss), as a weighted mean over rows.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from losskit._errors import LossInputError
from losskit._validation import check_scalar_range
from losskit.gbdt._checks import as_labels, as_raw_score, as_weight

__all__ = ["DEFAULT_HESSIAN_FLOOR", "Objective"]

DEFAULT_HESSIAN_FLOOR = 1e-16
"""Smallest Hessian handed to a library (per row, before sample weights); XGBoost's built-in
objectives use the same ``1e-16``. It only keeps Hessians positive: rows whose true curvature is
negative or zero then carry (almost) no weight in the Newton step, and the libraries' own
minimum child Hessian (``min_child_weight``, ``min_sum_hessian_in_leaf``) and L2 penalty
(``lambda``) keep a leaf from being fitted to such rows alone."""


class Objective(abc.ABC):
    """A training loss as a gradient-boosting objective (per-row loss of raw scores).

    Attributes:
        name: short name, also the metric's name (``"<name>_loss"``).
        num_outputs: raw scores per row: 1, or ``K`` for a ``K``-class objective.
        hessian_floor: lower bound applied to every per-row Hessian before sample weights.
    """

    name: str = "objective"
    num_outputs: int = 1

    def __init__(self, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR, **params: Any) -> None:
        check_scalar_range("hessian_floor", hessian_floor, 0.0, low_inclusive=False)
        self.hessian_floor = float(hessian_floor)
        self._params = params

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{self.name}({args})"

    # ------------------------------------------------------------------ the mathematics (subclasses)

    @abc.abstractmethod
    def _labels(self, y: np.ndarray) -> np.ndarray:
        """Check the label domain; return the labels in the form the formulas use."""

    @abc.abstractmethod
    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted gradient and (diagonal) Hessian of the per-row loss, before the floor."""

    @abc.abstractmethod
    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Per-row loss ``(n,)``."""

    @abc.abstractmethod
    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float | np.ndarray:
        """The constant raw score minimising the (weighted) total loss."""

    @abc.abstractmethod
    def transform(self, raw_score: npt.ArrayLike) -> np.ndarray:
        """The inverse link: raw scores to predictions (identity, sigmoid or softmax)."""

    # ------------------------------------------------------------------ public NumPy face

    def _inputs(
        self, y_true: npt.ArrayLike, raw_score: npt.ArrayLike, sample_weight: npt.ArrayLike | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        z = as_raw_score(raw_score, self.num_outputs)
        y = self._labels(as_labels(y_true, z.shape[0]))
        return y, z, as_weight(sample_weight, z.shape[0])

    def grad_hess(
        self, y_true: npt.ArrayLike, raw_score: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian of each row's loss with respect to its raw score(s).

        Args:
            y_true: labels ``(n,)``.
            raw_score: raw scores ``(n,)``, or ``(n, K)`` for a ``K``-class objective.
            sample_weight: optional non-negative weights ``(n,)``; they scale both outputs.

        Returns:
            ``(grad, hess)`` shaped like ``raw_score``; the Hessian (its diagonal for ``K``
            classes) is floored at ``hessian_floor`` before the weights are applied.
        """
        y, z, w = self._inputs(y_true, raw_score, sample_weight)
        grad, hess = self._grad_hess(y, z)
        hess = np.maximum(hess, self.hessian_floor)
        if w is not None:
            w = w if z.ndim == 1 else w[:, None]
            grad, hess = grad * w, hess * w
        return grad, hess

    def loss(self, y_true: npt.ArrayLike, raw_score: npt.ArrayLike) -> np.ndarray:
        """Per-row loss ``(n,)`` of raw scores (the same value the PyTorch loss gives for that row)."""
        y, z, _ = self._inputs(y_true, raw_score, None)
        return self._loss(y, z)

    def init_score(self, y_true: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None) -> float | np.ndarray:
        """The optimal constant raw score: a float, or a vector ``(K,)`` for ``K`` classes.

        Boosting from it instead of 0 saves the first rounds (and is what the libraries' own
        objectives do). See :mod:`losskit.gbdt.start` for handing it to XGBoost / LightGBM.
        """
        y = as_labels(y_true, None)
        if y.shape[0] == 0:
            raise LossInputError("y_true", "at least one label", "an empty array")
        y = self._labels(y)
        w = as_weight(sample_weight, y.shape[0])
        if w is not None and not w.sum() > 0:
            raise LossInputError("sample_weight", "weights with a positive sum", float(w.sum()))
        return self._init_score(y, w)

    def _mean_loss(self, y_true: npt.ArrayLike, raw_score: npt.ArrayLike, sample_weight: npt.ArrayLike | None) -> float:
        y, z, w = self._inputs(y_true, raw_score, sample_weight)
        return float(np.average(self._loss(y, z), weights=w))

    @property
    def xgboost_tree_params(self) -> dict[str, Any]:
        """Booster parameters XGBoost's built-in counterpart sets for itself (``count:poisson``
        clips every leaf at ``max_delta_step``); :func:`~losskit.gbdt.xgboost_params` adds them."""
        return {}

    @property
    def metric_name(self) -> str:
        return f"{self.name}_loss"

    # ------------------------------------------------------------------ adapters

    @property
    def xgboost(self) -> Callable[[np.ndarray, Any], tuple[np.ndarray, np.ndarray]]:
        """Objective for ``xgb.train(..., obj=...)``: ``(predt, dtrain) -> (grad, hess)``."""

        def objective(predt: np.ndarray, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
            return self.grad_hess(dtrain.get_label(), predt, dtrain.get_weight())

        return objective

    @property
    def xgboost_sklearn(self) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
        """Objective for ``XGBClassifier`` / ``XGBRegressor(objective=...)`` (sample weights supported)."""

        def objective(
            y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
        ) -> tuple[np.ndarray, np.ndarray]:
            return self.grad_hess(y_true, y_pred, sample_weight)

        return objective

    @property
    def lightgbm(self) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
        """Objective for ``params["objective"]`` in ``lgb.train`` and for the LightGBM sklearn estimators."""

        def objective(
            first: np.ndarray, second: Any, weight: np.ndarray | None = None, group: np.ndarray | None = None
        ) -> tuple[np.ndarray, np.ndarray]:
            if hasattr(second, "get_label"):  # lgb.train: (preds, train_data)
                return self.grad_hess(second.get_label(), first, second.get_weight())
            return self.grad_hess(first, second, weight)  # sklearn: (y_true, y_pred, weight, group)

        return objective

    @property
    def xgboost_metric(self) -> Callable[..., Any]:
        """Weighted mean loss of raw margins, for ``xgb.train(custom_metric=...)`` (returns
        ``(name, value)``) and for the sklearn estimators' ``eval_metric`` (returns the value)."""

        def metric(first: np.ndarray, second: Any, sample_weight: np.ndarray | None = None) -> Any:
            if hasattr(second, "get_label"):  # xgb.train: (predt, dtrain)
                return self.metric_name, self._mean_loss(second.get_label(), first, second.get_weight())
            return self._mean_loss(first, second, sample_weight)

        metric.__name__ = self.metric_name
        return metric

    @property
    def lightgbm_metric(self) -> Callable[..., tuple[str, float, bool]]:
        """Weighted mean loss of raw scores as ``(name, value, is_higher_better=False)``, for
        ``lgb.train(feval=...)`` and the LightGBM sklearn estimators' ``eval_metric``."""

        def metric(
            first: np.ndarray, second: Any, weight: np.ndarray | None = None, group: np.ndarray | None = None
        ) -> tuple[str, float, bool]:
            if hasattr(second, "get_label"):  # lgb.train: (preds, eval_data)
                return self.metric_name, self._mean_loss(second.get_label(), first, second.get_weight()), False
            return self.metric_name, self._mean_loss(first, second, weight), False

        return metric


def argmin_1d(fun: Callable[[float], float], low: float, high: float) -> float:
    """Minimise a function of one variable on ``[low, high]`` (bounded Brent, ``xatol=1e-10``)."""
    from scipy.optimize import minimize_scalar

    if high - low < 1e-12:
        return float(low)
    res = minimize_scalar(fun, bounds=(low, high), method="bounded", options={"xatol": 1e-10})
    return float(res.x)
