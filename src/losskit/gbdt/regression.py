r"""Regression objectives: squared, pseudo-Huber, Huber and pinball (quantile) loss.

Each is the per-row loss of :mod:`losskit.functional` on the raw score ``z`` (identity link),
with residual ``r = z - y``:

=====================  ============================================  ========================  =====================
objective              loss                                          gradient                  Hessian
=====================  ============================================  ========================  =====================
``squared()``          :math:`r^2` (``mse_loss``)                    :math:`2r`                :math:`2`
``pseudo_huber(d)``    :math:`d^2(\sqrt{1 + (r/d)^2} - 1)`           :math:`r / s`             :math:`1 / s^3`
``huber(d)``           :math:`r^2/2` if :math:`|r| \le d` else       :math:`\mathrm{clip}(r,   1 if :math:`|r| \le d`
                       :math:`d(|r| - d/2)` (``huber_loss``)         -d, d)`                   else 0 (floored)
``pinball(q)``         :math:`\max(q(y - z), (q - 1)(y - z))`        :math:`1 - q` if z > y,   1 (see below)
                       (``pinball_loss``)                            :math:`-q` if z < y
=====================  ============================================  ========================  =====================

with :math:`s = \sqrt{1 + (r/d)^2}`. ``squared`` follows ``mse_loss`` and is twice XGBoost's
``reg:squarederror`` (:math:`r^2/2`): the same Newton steps without L2 penalty, but each row
counts 2 towards ``min_child_weight``.

Huber's exact Hessian is 0 in its linear tails; it is floored at ``hessian_floor``, so leaves of
outliers only get a step through the libraries' L2 penalty. ``pseudo_huber`` (Charbonnier) is
the smooth alternative, with a positive Hessian everywhere (XGBoost's ``reg:pseudohubererror``).

Pinball's Hessian is 0 almost everywhere, which gives Newton boosting nothing to divide by. It
uses the constant 1 instead, as XGBoost's ``reg:quantileerror`` and LightGBM's ``quantile``
objectives do: each leaf then moves by the (weighted) mean of its rows' gradients, a step of
size at most ``max(q, 1 - q)`` times the learning rate, so fitting a far-away quantile needs
a starting score near it (see :meth:`Objective.init_score`, here the weighted quantile of the
labels) and enough rounds. At ties (``z == y``) the gradient is ``1/2 - q``, the mean of the two
one-sided slopes (as PyTorch's ``maximum`` distributes it).

Reference: Huber (1964) "Robust estimation of a location parameter"; Charbonnier et al. (1997);
Koenker & Bassett (1978) "Regression quantiles".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from losskit._validation import check_scalar_range
from losskit.gbdt._base import DEFAULT_HESSIAN_FLOOR, Objective, argmin_1d

__all__ = ["huber", "pinball", "pseudo_huber", "squared"]


class _Regression(Objective):
    def _labels(self, y: np.ndarray) -> np.ndarray:
        return y

    def transform(self, raw_score: npt.ArrayLike) -> np.ndarray:
        """Identity: the raw score is the prediction."""
        return np.array(raw_score, dtype=np.float64)

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float:
        def total(c: float) -> float:
            return float(np.average(self._loss(y, np.full_like(y, c)), weights=w))

        return argmin_1d(total, float(y.min()), float(y.max()))


class _Squared(_Regression):
    name = "squared"

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return 2.0 * (z - y), np.full_like(z, 2.0)

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return (z - y) ** 2

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float:
        return float(np.average(y, weights=w))


class _PseudoHuber(_Regression):
    name = "pseudo_huber"

    def __init__(self, delta: float, hessian_floor: float) -> None:
        check_scalar_range("delta", delta, 0.0, low_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, delta=delta)
        self.delta = float(delta)

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = z - y
        s2 = 1.0 + (r / self.delta) ** 2
        s = np.sqrt(s2)
        return r / s, 1.0 / (s2 * s)

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        # d^2 (sqrt(1 + u^2) - 1) = r^2 / (sqrt(1 + u^2) + 1): no cancellation for small residuals
        r = z - y
        return r**2 / (np.sqrt(1.0 + (r / self.delta) ** 2) + 1.0)


class _Huber(_Regression):
    name = "huber"

    def __init__(self, delta: float, hessian_floor: float) -> None:
        check_scalar_range("delta", delta, 0.0, low_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, delta=delta)
        self.delta = float(delta)

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = z - y
        return np.clip(r, -self.delta, self.delta), (np.abs(r) <= self.delta).astype(np.float64)

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        a = np.abs(z - y)
        return np.where(a <= self.delta, 0.5 * a**2, self.delta * (a - 0.5 * self.delta))


class _Pinball(_Regression):
    name = "pinball"

    def __init__(self, quantile: float, hessian_floor: float) -> None:
        check_scalar_range("quantile", quantile, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, quantile=quantile)
        self.quantile = float(quantile)

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.quantile
        grad = np.where(z > y, 1.0 - q, np.where(z < y, -q, 0.5 - q))
        return grad, np.ones_like(z)

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        d = y - z
        return np.maximum(self.quantile * d, (self.quantile - 1.0) * d)

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float:
        """The weighted ``q``-quantile of the labels (a minimiser of the total pinball loss)."""
        order = np.argsort(y, kind="stable")
        cum = np.cumsum(np.ones_like(y) if w is None else w[order])
        k = int(np.searchsorted(cum, self.quantile * cum[-1], side="left"))
        return float(y[order][min(k, y.shape[0] - 1)])


def squared(*, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Squared error :math:`(z - y)^2`, as :func:`losskit.functional.mse_loss` (see module docs)."""
    return _Squared(hessian_floor=hessian_floor)


def pseudo_huber(delta: float = 1.0, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Pseudo-Huber :math:`\\delta^2(\\sqrt{1 + (r/\\delta)^2} - 1)`, ``delta > 0`` (see module docs)."""
    return _PseudoHuber(delta, hessian_floor)


def huber(delta: float = 1.0, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Huber loss, as :func:`losskit.functional.huber_loss`, ``delta > 0`` (see module docs)."""
    return _Huber(delta, hessian_floor)


def pinball(quantile: float, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Pinball loss for one quantile in ``(0, 1)``, as :func:`losskit.functional.pinball_loss`,
    with the constant Hessian 1 (see module docs)."""
    return _Pinball(quantile, hessian_floor)
