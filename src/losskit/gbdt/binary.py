r"""Binary objectives on the logit ``z`` (inverse link: sigmoid): logistic and focal loss.

``logistic(pos_weight, label_smoothing)`` is the per-row
:func:`losskit.functional.binary_cross_entropy_with_logits`:

.. math::
    \ell = w_+ y' \operatorname{softplus}(-z) + (1 - y') \operatorname{softplus}(z),\qquad
    y' = y (1 - \varepsilon) + \varepsilon / 2

    g = (1 - y')\,\sigma(z) - w_+ y' \sigma(-z),\qquad h = (w_+ y' + 1 - y')\,\sigma(z)\sigma(-z)

Labels may be soft (in ``[0, 1]``). Without options it is XGBoost's ``binary:logistic`` and
LightGBM's ``binary``; the optimal constant is :math:`\log(\sum w w_+ y' / \sum w (1 - y'))`.

``focal(gamma, alpha)`` is the per-row :func:`losskit.functional.binary_focal_loss` for labels
0/1 (Lin et al. 2017). With the signed margin :math:`u = (2y - 1) z`, :math:`a = \sigma(u)`
(the probability of the true class), :math:`b = 1 - a` and :math:`\lambda = \log a`:

.. math::
    \ell = -\alpha_t\, b^\gamma \lambda,\qquad
    \frac{d\ell}{du} = \alpha_t\, b^\gamma (\gamma a \lambda - b),\qquad
    \frac{d^2\ell}{du^2} = \alpha_t\, a\, b^\gamma \bigl(b (2\gamma + 1) + \gamma \lambda (b - \gamma a)\bigr)

and :math:`g = (2y - 1)\, d\ell/du`, :math:`h = d^2\ell/du^2`, with :math:`\alpha_t = \alpha`
for positives and :math:`1 - \alpha` for negatives (no factor when ``alpha`` is None).
:math:`b^\gamma` is :math:`\exp(\gamma \log\sigma(-u))` and :math:`\lambda = \log\sigma(u)`, so
nothing divides by :math:`b` and every term is finite for any logit and any ``gamma >= 0``.
For ``gamma > 0`` the Hessian is negative on badly wrong rows (:math:`u \lesssim -(2\gamma+1)/\gamma`
roughly; its minimum is about -0.05 at ``gamma = 2``) and is floored at ``hessian_floor``.
The optimal constant has no closed form and is found by a bounded 1-D minimisation on
``[-30, 30]``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from losskit._validation import check_scalar_range
from losskit.gbdt._base import DEFAULT_HESSIAN_FLOOR, Objective, argmin_1d
from losskit.gbdt._checks import check_binary, check_unit_interval

__all__ = ["focal", "logistic"]

MAX_INIT_LOGIT = 30.0
"""Bound on the starting logit when one class is absent (the optimum is then at infinity)."""


class _Binary(Objective):
    def transform(self, raw_score: npt.ArrayLike) -> np.ndarray:
        """Sigmoid: the probability of the positive class."""
        return expit(np.asarray(raw_score, dtype=np.float64))


class _Logistic(_Binary):
    name = "logistic"

    def __init__(self, pos_weight: float | None, label_smoothing: float, hessian_floor: float) -> None:
        if pos_weight is not None:
            check_scalar_range("pos_weight", pos_weight, 0.0, low_inclusive=False)
        check_scalar_range("label_smoothing", label_smoothing, 0.0, 1.0, high_inclusive=False)
        super().__init__(hessian_floor=hessian_floor, pos_weight=pos_weight, label_smoothing=label_smoothing)
        self.pos_weight = 1.0 if pos_weight is None else float(pos_weight)
        self.label_smoothing = float(label_smoothing)

    def _labels(self, y: np.ndarray) -> np.ndarray:
        check_unit_interval(y)
        return y

    def _coefficients(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights of ``softplus(-z)`` and ``softplus(z)`` in the loss."""
        ys = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return self.pos_weight * ys, 1.0 - ys

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, neg = self._coefficients(y)
        p, q, _ = sigmoid_pair(z)
        return neg * p - pos * q, (pos + neg) * p * q

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        pos, neg = self._coefficients(y)
        log_p, log_q = log_sigmoid_pair(z)
        return -(pos * log_p + neg * log_q)

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float:
        pos, neg = self._coefficients(y)
        a, b = np.average(pos, weights=w), np.average(neg, weights=w)
        with np.errstate(divide="ignore"):
            return float(np.clip(np.log(a) - np.log(b), -MAX_INIT_LOGIT, MAX_INIT_LOGIT))


def sigmoid_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sigmoid(z)``, ``sigmoid(-z)`` and ``exp(-|z|)`` from one exponential, without cancellation."""
    e = np.exp(-np.abs(z))
    small = e / (1.0 + e)
    large = 1.0 - small  # = 1 / (1 + e) >= 1/2: no cancellation
    positive = z >= 0
    return np.where(positive, large, small), np.where(positive, small, large), e


def log_sigmoid_pair(z: np.ndarray, e: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``log sigmoid(z)`` and ``log sigmoid(-z)`` (``e = exp(-|z|)`` if already computed)."""
    soft = np.log1p(np.exp(-np.abs(z)) if e is None else e)
    return -(np.maximum(-z, 0.0) + soft), -(np.maximum(z, 0.0) + soft)


def focal_margin(u: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Focal loss of the signed margin ``u`` and its first two derivatives in ``u`` (no alpha).

    Shared with the softmax focal objective, whose loss is this function of
    ``u = z_y - logsumexp_{k != y} z_k``.
    """
    a, b, e = sigmoid_pair(u)
    log_a, log_b = log_sigmoid_pair(u, e)
    bg = np.exp(gamma * log_b) if gamma else np.ones_like(u)
    loss = -bg * log_a
    d1 = bg * (gamma * a * log_a - b)
    d2 = a * bg * (b * (2.0 * gamma + 1.0) + gamma * log_a * (b - gamma * a))
    return loss, d1, d2


class _Focal(_Binary):
    name = "focal"

    def __init__(self, gamma: float, alpha: float | None, hessian_floor: float) -> None:
        check_scalar_range("gamma", gamma, 0.0)
        if alpha is not None:
            check_scalar_range("alpha", alpha, 0.0, 1.0)
        super().__init__(hessian_floor=hessian_floor, gamma=gamma, alpha=alpha)
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)

    def _labels(self, y: np.ndarray) -> np.ndarray:
        check_binary(y)
        return y

    def _alpha_t(self, y: np.ndarray) -> np.ndarray | float:
        return 1.0 if self.alpha is None else np.where(y == 1, self.alpha, 1.0 - self.alpha)

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sign = 2.0 * y - 1.0
        _, d1, d2 = focal_margin(sign * z, self.gamma)
        at = self._alpha_t(y)
        return at * sign * d1, at * d2

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self._alpha_t(y) * focal_margin((2.0 * y - 1.0) * z, self.gamma)[0]

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> float:
        def total(c: float) -> float:
            return float(np.average(self._loss(y, np.full_like(y, c)), weights=w))

        return argmin_1d(total, -MAX_INIT_LOGIT, MAX_INIT_LOGIT)


def logistic(
    pos_weight: float | None = None, label_smoothing: float = 0.0, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR
) -> Objective:
    """Logistic loss (binary cross-entropy on logits) with optional positive-class weight
    (``> 0``; ``n_neg / n_pos`` balances the classes) and label smoothing ``eps`` in ``[0, 1)``
    (Keras convention ``y' = y (1 - eps) + eps / 2``). See the module docs for the formulas."""
    return _Logistic(pos_weight, label_smoothing, hessian_floor)


def focal(gamma: float = 2.0, alpha: float | None = None, *, hessian_floor: float = DEFAULT_HESSIAN_FLOOR) -> Objective:
    """Sigmoid focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection") for labels 0/1:
    focusing ``gamma >= 0``, positive-class balance ``alpha`` in ``[0, 1]`` or None. Negative
    Hessians are floored at ``hessian_floor``. See the module docs for the formulas."""
    return _Focal(gamma, alpha, hessian_floor)
