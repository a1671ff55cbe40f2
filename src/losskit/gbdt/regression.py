r"""Regression objectives: squared, pseudo-Huber, Huber and pinball (quantile) loss.

Each is the per-row loss of :mod:`losskit.functional` on the raw score ``z`` (identity link),
with residual ``r = z - y``:

=====================  ============================================  ========================  =====================
objective              loss                                          gradient                  Hessian
=====================  ============================================  ========================  =====================
``squared()``          :math:`r^2` (``mse_loss``)                    :math:`2r`                :math:`2`
``pseudo_huber(d)``    :math:`d^2(\sqrt{1 + (r/d)^2} - 1)`           :math:`r / s`             :math:`1 / s^3`
``huber(d)``           :math:`r^2/2` if :math:`|r| \le d` else       :math:`\mathrm{clip}(r,   1 if :math:`|r| \le d`
                       :math:`d(|r| - d/2)` (``huber_loss``)         -d, d)`                   else 0 (see below)
``pinball(q)``         :math:`\max(q(y - z), (q - 1)(y - z))`        :math:`1 - q` if z > y,   0 (see below)
                       (``pinball_loss``)                            :math:`-q` if z < y
=====================  ============================================  ========================  =====================

with :math:`s = \sqrt{1 + (r/d)^2}`. ``squared`` follows ``mse_loss`` and is twice XGBoost's
``reg:squarederror`` (:math:`r^2/2`): the same Newton steps without L2 penalty, but each row
counts 2 towards ``min_child_weight``.

Huber's exact Hessian is 0 in its linear tails and pinball's is 0 almost everywhere, which
gives Newton boosting nothing to divide by. With a constant Hessian a leaf moves by the mean of
its rows' gradients, at most about ``eta * delta`` (Huber) or ``eta * max(q, 1 - q)`` (pinball)
target units per round: such objectives cannot reach targets in the thousands. The libraries'
built-in L1 / quantile objectives get around it by refreshing each leaf from the quantile of its
residuals, which a custom objective cannot do. So by default (``hessian="irls"``) both use the
weights of iteratively reweighted least squares, the Hessian of the quadratic that touches the
loss at the current residual (Huber 1964; Koenker & Bassett 1978):

.. math::
    h_i = \frac{|g_i|}{\max(|r_i|, c)}\quad (\text{Huber: } h_i = \min(1, \delta / \max(|r_i|, c)))

so a leaf whose rows share one residual ``r`` steps by exactly ``-r`` (times the learning rate),
at any target scale. ``c`` is 0.3 times the round's median ``|r|``: rows already fitted do not
freeze their leaf. Each round's gradients and Hessians are then multiplied by one positive
constant, ``1 / median(h)``: that leaves every Newton step ``-G / H`` unchanged and keeps
``lambda`` and ``min_child_weight`` at their usual meaning of about one row each (and it is 1
for Huber while most residuals are within ``delta``). The gradients are then those of the loss
times that constant (same minimiser); ``hessian="exact"`` (Huber, floored at
``hessian_floor``) and ``hessian="constant"`` (pinball, 1 as XGBoost's ``reg:quantileerror``
uses before its leaf refresh) give the plain derivatives. On diamond prices (8,000 rows, 300
rounds) the IRLS objectives reach the test loss of XGBoost's built-in ``reg:absoluteerror`` /
``reg:quantileerror`` within a few percent; the constant Hessian stays near the median
predictor (``tests/test_gbdt_scale.py``).

A pinball fit of a far-away quantile still benefits from starting near it (see
:meth:`Objective.init_score`, here the weighted quantile of the labels). At ties (``z == y``)
the pinball gradient is ``1/2 - q``, the mean of the two one-sided slopes (as PyTorch's
``maximum`` distributes it).

Reference: Huber (1964) "Robust estimation of a location parameter"; Charbonnier et al. (1997);
Koenker & Bassett (1978) "Regression quantiles".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from losskit._errors import LossInputError
from losskit._validation import check_scalar_range
from losskit.gbdt._base import DEFAULT_HESSIAN_FLOOR, Objective, argmin_1d

__all__ = ["huber", "pinball", "pseudo_huber", "squared"]


_IRLS_FLOOR = 0.3  # c of the module docs, as a fraction of the round's median |r|


def _check_hessian(hessian: str, plain: str) -> str:
    if hessian not in ("irls", plain):
        raise LossInputError("hessian", f"'irls' or {plain!r}", repr(hessian))
    return hessian


def _irls(grad: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both multiplied by ``1 / median(hess)`` (the module docs' normalisation)."""
    k = 1.0 / max(float(np.median(hess)), np.finfo(np.float64).tiny)
    return grad * k, hess * k


def _residual_floor(a: np.ndarray) -> float:
    return max(_IRLS_FLOOR * float(np.median(a)), 1e-12 * (1.0 + float(a.max(initial=0.0))))


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

    def __init__(self, delta: float, hessian: str, hessian_floor: float) -> None:
        check_scalar_range("delta", delta, 0.0, low_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, delta=delta, hessian=_check_hessian(hessian, "exact"))
        self.delta = float(delta)
        self.hessian = hessian

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = z - y
        a = np.abs(r)
        grad = np.clip(r, -self.delta, self.delta)
        if self.hessian == "exact" or a.size == 0:
            return grad, (a <= self.delta).astype(np.float64)
        return _irls(grad, np.minimum(1.0, self.delta / np.maximum(a, _residual_floor(a))))

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        a = np.abs(z - y)
        return np.where(a <= self.delta, 0.5 * a**2, self.delta * (a - 0.5 * self.delta))


class _Pinball(_Regression):
    name = "pinball"

    def __init__(self, quantile: float, hessian: str, hessian_floor: float) -> None:
        check_scalar_range("quantile", quantile, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, quantile=quantile, hessian=_check_hessian(hessian, "constant"))
        self.quantile = float(quantile)
        self.hessian = hessian

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.quantile
        grad = np.where(z > y, 1.0 - q, np.where(z < y, -q, 0.5 - q))
        if self.hessian == "constant" or z.size == 0:
            return grad, np.ones_like(z)
        a = np.abs(z - y)
        return _irls(grad, np.abs(grad) / np.maximum(a, _residual_floor(a)))

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


def huber(delta: float = 1.0, *, hessian: str = "irls", hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Huber loss, as :func:`losskit.functional.huber_loss`, ``delta > 0``.

    ``hessian="irls"`` (default) learns at the target's scale; ``"exact"`` is the plain
    derivative (0 in the tails, floored). See the module docs.

    Example:
        >>> from losskit import gbdt
        >>> g, h = gbdt.huber(1.0).grad_hess([0.0, 0.0, 0.0], [0.5, -0.5, 4.0])
        >>> g.tolist(), h.tolist()  # the row 4 units out weighs delta / |r| = 1/4
        ([0.5, -0.5, 1.0], [1.0, 1.0, 0.25])
    """
    return _Huber(delta, hessian, hessian_floor)


def pinball(quantile: float, *, hessian: str = "irls", hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Pinball loss for one quantile in ``(0, 1)``, as :func:`losskit.functional.pinball_loss`.

    ``hessian="irls"`` (default) learns at the target's scale; ``"constant"`` uses the Hessian 1
    and the plain gradient. See the module docs.

    Example:
        >>> from losskit import gbdt
        >>> obj = gbdt.pinball(0.5)
        >>> float(obj.init_score([100.0, 2000.0, 3000.0]))  # the median
        2000.0
        >>> g, h = obj.grad_hess([1000.0, 1000.0], [0.0, 3000.0])  # both 1000 and 2000 off
        >>> (-g / h).tolist()  # one Newton step moves each row back onto its label
        [1000.0, -2000.0]
    """
    return _Pinball(quantile, hessian, hessian_floor)
