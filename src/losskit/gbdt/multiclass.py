r"""Multi-class objectives on ``K`` raw scores per row (inverse link: softmax).

Raw scores, gradients and Hessians have shape ``(n, K)``, the layout XGBoost (>= 2.1) and
LightGBM (>= 4.0) use for custom multi-class objectives; labels are class indices ``(n,)``.
The Hessian handed to the libraries is the diagonal of the ``K x K`` Hessian (the trees fit
one output per class).

``softmax(num_class, class_weight, label_smoothing)`` is the per-row
:func:`losskit.functional.cross_entropy` (its ``"sum"`` over one row), with class weights
``w`` and smoothing ``eps`` exactly as PyTorch combines them:

.. math::
    \ell = -\sum_k c_k \log p_k,\quad c_k = (1 - \varepsilon) w_y [k = y] + \varepsilon w_k / K,\quad
    g_k = C p_k - c_k,\quad h_k = s\, C p_k (1 - p_k),\quad C = \sum_k c_k

``s`` is ``hessian_scale`` (1 = the exact diagonal). The built-in objectives scale it: XGBoost's
``multi:softprob`` uses ``s = 2`` and LightGBM's ``multiclass`` ``s = K / (K - 1)``; pass those
to reproduce them exactly. The optimal constant is :math:`\log` of the weighted mean of ``c``
(closed form).

``softmax_focal(num_class, gamma, alpha)`` is the per-row :func:`losskit.functional.focal_loss`,
:math:`-\alpha_y (1 - p_y)^\gamma \log p_y`. It is the binary focal loss of the margin
:math:`u = z_y - \log\sum_{k \ne y} e^{z_k}` (because :math:`p_y = \sigma(u)`), so with
:math:`r_k` the softmax over the other classes (:math:`r_y = 0`) and :math:`\ell', \ell''` the
binary focal derivatives in ``u``:

.. math::
    g_y = \ell',\quad g_k = -r_k \ell',\quad h_y = \ell'',\quad h_k = r_k^2 \ell'' - r_k (1 - r_k) \ell'

(times :math:`\alpha_y`); negative diagonal entries are floored at ``hessian_floor``. Its optimal
constant is found numerically (L-BFGS from the log class frequencies).

Reference: Lin et al. (2017) "Focal Loss for Dense Object Detection"; Szegedy et al. (2016)
"Rethinking the Inception Architecture" (label smoothing).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from losskit._errors import LossInputError
from losskit._validation import check_scalar_range
from losskit.gbdt._base import DEFAULT_HESSIAN_FLOOR, Objective
from losskit.gbdt._checks import check_class_labels
from losskit.gbdt.binary import MAX_INIT_LOGIT, focal_margin

__all__ = ["softmax", "softmax_focal"]


def _check_num_class(num_class: int) -> int:
    if isinstance(num_class, bool) or not isinstance(num_class, (int, np.integer)) or num_class < 2:
        raise LossInputError("num_class", "an integer >= 2", repr(num_class))
    return int(num_class)


def _per_class(name: str, value: npt.ArrayLike, num_class: int, high: float) -> np.ndarray:
    """A per-class vector ``(K,)`` with values in ``[0, high]``."""
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (num_class,):
        raise LossInputError(name, f"of shape ({num_class},) (one value per class)", f"shape {v.shape}")
    if not ((v >= 0) & (v <= high)).all():
        raise LossInputError(name, f"values in [0, {high}]", v.tolist())
    return v


class _MultiClass(Objective):
    def __init__(self, num_class: int, hessian_floor: float, **params: object) -> None:
        self.num_outputs = _check_num_class(num_class)
        super().__init__(hessian_floor=hessian_floor, num_class=num_class, **params)

    def _labels(self, y: np.ndarray) -> np.ndarray:
        return check_class_labels(y, self.num_outputs)

    def transform(self, raw_score: npt.ArrayLike) -> np.ndarray:
        """Softmax over the last axis: class probabilities ``(n, K)``."""
        return special.softmax(np.asarray(raw_score, dtype=np.float64), axis=-1)


class _Softmax(_MultiClass):
    name = "softmax"

    def __init__(
        self,
        num_class: int,
        class_weight: npt.ArrayLike | None,
        label_smoothing: float,
        hessian_scale: float,
        hessian_floor: float,
    ) -> None:
        check_scalar_range("label_smoothing", label_smoothing, 0.0, 1.0, high_inclusive=False)
        check_scalar_range("hessian_scale", hessian_scale, 0.0, low_inclusive=False)
        super().__init__(
            num_class,
            hessian_floor,
            class_weight=class_weight,
            label_smoothing=label_smoothing,
            hessian_scale=hessian_scale,
        )
        k = self.num_outputs
        self.class_weight = np.ones(k) if class_weight is None else _per_class("class_weight", class_weight, k, np.inf)
        self.label_smoothing = float(label_smoothing)
        self.hessian_scale = float(hessian_scale)

    def _coefficients(self, y: np.ndarray) -> np.ndarray:
        """``c`` of the module docs, ``(n, K)``."""
        k, eps = self.num_outputs, self.label_smoothing
        c = np.zeros((y.shape[0], k))
        rows = np.arange(y.shape[0])
        c[rows, y] = (1.0 - eps) * self.class_weight[y]
        if eps:
            c += eps * self.class_weight / k
        return c

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self._coefficients(y)
        total = c.sum(axis=1, keepdims=True)
        p = special.softmax(z, axis=1)
        return total * p - c, self.hessian_scale * total * p * (1.0 - p)

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        logp = z - special.logsumexp(z, axis=1, keepdims=True)
        return -(self._coefficients(y) * logp).sum(axis=1)

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        mass = np.average(self._coefficients(y), axis=0, weights=w)
        with np.errstate(divide="ignore"):
            logp = np.log(mass / mass.sum())
        return np.maximum(logp, -MAX_INIT_LOGIT)


class _SoftmaxFocal(_MultiClass):
    name = "softmax_focal"

    def __init__(self, num_class: int, gamma: float, alpha: float | npt.ArrayLike | None, hessian_floor: float) -> None:
        check_scalar_range("gamma", gamma, 0.0)
        super().__init__(num_class, hessian_floor, gamma=gamma, alpha=alpha)
        k = self.num_outputs
        self.gamma = float(gamma)
        if alpha is None:
            self.alpha = np.ones(k)
        elif np.ndim(alpha) == 0:
            check_scalar_range("alpha", float(alpha), 0.0, 1.0)  # type: ignore[arg-type]
            self.alpha = np.full(k, float(alpha))  # type: ignore[arg-type]
        else:
            self.alpha = _per_class("alpha", alpha, k, 1.0)

    def _margin(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``u = z_y - logsumexp_{k != y} z_k`` and ``r`` = softmax over the other classes."""
        rows = np.arange(z.shape[0])
        others = z.copy()
        others[rows, y] = -np.inf
        lse = special.logsumexp(others, axis=1)
        r = np.exp(others - lse[:, None])
        return z[rows, y] - lse, r

    def _grad_hess(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, r = self._margin(y, z)
        _, d1, d2 = focal_margin(u, self.gamma)
        d1, d2 = d1[:, None], d2[:, None]
        grad = -r * d1
        hess = r**2 * d2 - r * (1.0 - r) * d1
        rows = np.arange(z.shape[0])
        grad[rows, y] = d1[:, 0]
        hess[rows, y] = d2[:, 0]
        at = self.alpha[y][:, None]
        return at * grad, at * hess

    def _loss(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.alpha[y] * focal_margin(self._margin(y, z)[0], self.gamma)[0]

    def _init_score(self, y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        from scipy.optimize import minimize

        n, k = y.shape[0], self.num_outputs
        wn = np.full(n, 1.0 / n) if w is None else w / w.sum()
        counts = np.bincount(y, weights=wn, minlength=k)
        start = np.log(np.maximum(counts, np.exp(-MAX_INIT_LOGIT)))

        def total(c: np.ndarray) -> tuple[float, np.ndarray]:
            z = np.broadcast_to(c, (n, k))
            grad, _ = self._grad_hess(y, z)
            return float(wn @ self._loss(y, z)), wn @ grad

        bounds = [(-MAX_INIT_LOGIT, MAX_INIT_LOGIT)] * k
        res = minimize(total, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"gtol": 1e-10})
        return res.x - res.x.max()


def softmax(
    num_class: int,
    class_weight: npt.ArrayLike | None = None,
    label_smoothing: float = 0.0,
    *,
    hessian_scale: float = 1.0,
    hessian_floor: float = DEFAULT_HESSIAN_FLOOR,
) -> Objective:
    """Softmax cross-entropy over ``num_class`` classes with optional class weights ``(K,)`` and
    label smoothing ``eps`` in ``[0, 1)``, as :func:`losskit.functional.cross_entropy`.
    ``hessian_scale`` multiplies the diagonal Hessian (see the module docs)."""
    return _Softmax(num_class, class_weight, label_smoothing, hessian_scale, hessian_floor)


def softmax_focal(
    num_class: int,
    gamma: float = 2.0,
    alpha: float | npt.ArrayLike | None = None,
    *,
    hessian_floor: float = DEFAULT_HESSIAN_FLOOR,
) -> Objective:
    """Softmax focal loss (Lin et al. 2017) over ``num_class`` classes: focusing ``gamma >= 0``,
    ``alpha`` a factor in ``[0, 1]`` or one per class ``(K,)``, as :func:`losskit.functional.focal_loss`."""
    return _SoftmaxFocal(num_class, gamma, alpha, hessian_floor)
