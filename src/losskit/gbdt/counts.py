r"""Count and positive-target objectives with the log link: Poisson, Tweedie and Gamma.

The raw score is the log-mean :math:`z = \log\mu`; :meth:`Objective.transform` is ``exp``. Each
per-row loss is *half* the unit deviance of :mod:`losskit.functional.counts` (half of
``poisson_loss``, ``tweedie_loss``, ``gamma_loss`` for that row), which is the loss XGBoost's
``count:poisson`` / ``reg:tweedie`` / ``reg:gamma`` and LightGBM's ``poisson`` / ``tweedie`` /
``gamma`` differentiate, so with the same parameters the trees and predictions are theirs:

===========================  ======================================  =========================================
objective                    gradient                                Hessian
===========================  ======================================  =========================================
``poisson(max_delta_step)``  :math:`\mu - y`                         :math:`\mu\,e^{\text{max\_delta\_step}}`
``tweedie(power)``           :math:`\mu^{2-p} - y\mu^{1-p}`          :math:`(2-p)\mu^{2-p} - (1-p)\,y\mu^{1-p}`
``gamma()``                  :math:`1 - y/\mu`                       :math:`y/\mu`
===========================  ======================================  =========================================

Poisson's ``max_delta_step`` (default 0.7, both libraries' default; LightGBM calls it
``poisson_max_delta_step``) inflates the Hessian by :math:`e^{0.7} \approx 2.01`, halving every
Newton step: a safeguard against the huge first steps of rows whose prediction is far below
their count. ``max_delta_step=0`` gives the exact Hessian. XGBoost's ``count:poisson`` also
sets the booster's own ``max_delta_step`` (every leaf value clipped to ``[-0.7, 0.7]``);
:func:`losskit.gbdt.xgboost_params` does the same for this objective
(:attr:`Objective.xgboost_tree_params`), and without it the custom model drifts away from the
built-in one. LightGBM does not clip leaves for Poisson. The Gamma Hessian :math:`y/\mu` is
the exact one; Tweedie's exact Hessian is positive for ``1 < p < 2``.

The start (:meth:`Objective.init_score`) is :math:`\log \bar y` with :math:`\bar y` the weighted
mean label, the exact minimiser of all three (and what LightGBM's ``boost_from_average`` uses).
For an exposure (rate) model put ``log(exposure) + init_score`` in ``base_margin`` /
``init_score`` per row, and pass the same to :func:`losskit.gbdt.predict`.

Labels: ``y >= 0`` (Poisson, Tweedie; at least one positive), ``y > 0`` (Gamma).

References: XGBoost ``src/objective/regression_obj.cu``; LightGBM
``src/objective/regression_objective.hpp``; McCullagh & Nelder (1989).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from losskit._errors import LossInputError
from losskit._validation import check_scalar_range, values_checked
from losskit.gbdt._base import DEFAULT_HESSIAN_FLOOR, Objective

__all__ = ["gamma", "poisson", "tweedie"]


class _LogLink(Objective):
    positive_labels = False  # Gamma: strictly positive

    def _labels(self, y: np.ndarray) -> np.ndarray:
        if values_checked():
            bad = (y <= 0) if self.positive_labels else (y < 0)
            if bad.any():
                expected = "positive labels (> 0)" if self.positive_labels else "non-negative labels (>= 0)"
                raise LossInputError("y_true", expected, f"{int(bad.sum())} other values (e.g. {y[bad][0]})")
        return y

    def transform(self, raw_score: npt.ArrayLike) -> np.ndarray:
        """The inverse link: the mean ``exp(raw_score)``."""
        return np.exp(np.asarray(raw_score, dtype=np.float64))

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float:
        mean = float(np.average(y, weights=w))
        if not mean > 0:
            raise LossInputError("y_true", "at least one positive label (the start is log of the mean)", mean)
        return math.log(mean)


class _Poisson(_LogLink):
    name = "poisson"

    def __init__(self, max_delta_step: float, hessian_floor: float) -> None:
        check_scalar_range("max_delta_step", max_delta_step, 0.0)
        super().__init__(hessian_floor=hessian_floor, max_delta_step=max_delta_step)
        self.max_delta_step = float(max_delta_step)

    @property
    def xgboost_tree_params(self) -> dict[str, float]:
        return {"max_delta_step": self.max_delta_step} if self.max_delta_step > 0 else {}

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.exp(z) - y, np.exp(z + self.max_delta_step)

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        # y log(y / mu) - y + mu = y (e^{-r} - 1 + r), r = log(y / mu); mu where y = 0
        pos = y > 0
        r = np.log(np.where(pos, y, 1.0)) - z
        return np.where(pos, y * (np.expm1(-r) + r), np.exp(z))


class _Tweedie(_LogLink):
    name = "tweedie"

    def __init__(self, power: float, hessian_floor: float) -> None:
        check_scalar_range("power", power, 1.0, 2.0, low_inclusive=False, high_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, power=power)
        self.power = float(power)

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.power
        a, b = np.exp((1.0 - p) * z), np.exp((2.0 - p) * z)
        return b - y * a, (2.0 - p) * b - (1.0 - p) * y * a

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        p = self.power
        return (
            y ** (2.0 - p) / ((1.0 - p) * (2.0 - p))
            - y * np.exp((1.0 - p) * z) / (1.0 - p)
            + np.exp((2.0 - p) * z) / (2.0 - p)
        )


class _Gamma(_LogLink):
    name = "gamma"
    positive_labels = True

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ratio = y * np.exp(-z)
        return 1.0 - ratio, ratio

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        r = np.log(y) - z  # log(y / mu)
        return np.expm1(r) - r


def poisson(max_delta_step: float = 0.7, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Poisson regression of counts (half of :func:`losskit.functional.poisson_loss`), XGBoost's
    ``count:poisson`` and LightGBM's ``poisson``; ``max_delta_step >= 0`` (see module docs)."""
    return _Poisson(max_delta_step, hessian_floor)


def tweedie(power: float = 1.5, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Tweedie regression, ``power`` in ``(1, 2)`` (half of :func:`losskit.functional.tweedie_loss`),
    XGBoost's ``reg:tweedie`` (``tweedie_variance_power``) and LightGBM's ``tweedie``."""
    return _Tweedie(power, hessian_floor)


def gamma(*, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Gamma regression of positive targets (half of :func:`losskit.functional.gamma_loss`),
    XGBoost's ``reg:gamma`` and LightGBM's ``gamma``."""
    return _Gamma(hessian_floor=hessian_floor)
