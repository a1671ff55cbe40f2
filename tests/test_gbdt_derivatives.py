"""GBDT objectives against the PyTorch losses: per-row loss, gradient and Hessian in float64.

Every objective's closed-form NumPy gradient and Hessian must equal what ``torch.func`` (or
autograd) differentiates out of the corresponding ``losskit.functional`` loss for that row,
over random raw scores and extreme ones (+-30). This ties the two faces to one definition.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit

import losskit
import losskit.functional as F
from losskit import gbdt

pytest.importorskip("scipy")

D = torch.float64
FLOOR = gbdt.DEFAULT_HESSIAN_FLOOR


def _raw_scores(rng: np.random.Generator, n: int, k: int | None = None) -> np.ndarray:
    """Half moderate scores, half extreme: uniform in [-30, 30] with exact +-30 mixed in."""
    shape = (n,) if k is None else (n, k)
    z = rng.normal(0.0, 2.0, size=shape)
    wild = rng.uniform(-30.0, 30.0, size=shape)
    wild[rng.random(shape) < 0.3] = 30.0
    wild[rng.random(shape) < 0.3] = -30.0
    z[n // 2 :] = wild[n // 2 :]
    return z


def _row_derivatives(loss_of_row, z: np.ndarray, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss, gradient and Hessian of ``loss_of_row(z_i, y_i)`` for every row, via torch.func.

    The value checks read tensor contents, which vmap cannot; the inputs here are valid.
    """
    x = torch.tensor(z, dtype=D)
    yt = torch.as_tensor(y)
    with losskit.validation(False):
        values = torch.func.vmap(loss_of_row)(x, yt)
        grads = torch.func.vmap(torch.func.grad(loss_of_row))(x, yt)
        hessians = torch.func.vmap(torch.func.hessian(loss_of_row))(x, yt)
    return values.numpy(), grads.numpy(), hessians.numpy()


def _assert_matches(obj, y, z, ref_loss, ref_grad, ref_hess_diag, *, rtol=1e-8):
    np.testing.assert_allclose(obj.loss(y, z), ref_loss, rtol=rtol, atol=1e-12)
    grad, hess = obj.grad_hess(y, z)
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(hess, np.maximum(ref_hess_diag, obj.hessian_floor), rtol=rtol, atol=1e-12)
    # sample weights scale both
    w = np.linspace(0.0, 2.0, len(y))
    gw, hw = obj.grad_hess(y, z, w)
    wb = w if z.ndim == 1 else w[:, None]
    np.testing.assert_allclose(gw, grad * wb, rtol=1e-12)
    np.testing.assert_allclose(hw, hess * wb, rtol=1e-12)


# --------------------------------------------------------------------------- regression

REGRESSION = [
    ("squared", gbdt.squared(), lambda x, y: F.mse_loss(x, y, reduction="sum")),
    ("huber", gbdt.huber(1.5, hessian="exact"), lambda x, y: F.huber_loss(x, y, delta=1.5, reduction="sum")),
    # no torch pseudo-Huber in losskit: float64 reference written directly
    ("pseudo_huber", gbdt.pseudo_huber(0.7), lambda x, y: 0.49 * (torch.sqrt(1 + ((x - y) / 0.7) ** 2) - 1).sum()),
]


@pytest.mark.parametrize(("name", "obj", "ref"), REGRESSION, ids=[r[0] for r in REGRESSION])
def test_regression_matches_torch(name, obj, ref):
    rng = np.random.default_rng(1)
    z = _raw_scores(rng, 40)
    y = rng.normal(0.0, 5.0, size=40)
    loss, grad, hess = _row_derivatives(lambda x, t: ref(x.reshape(1), t.reshape(1)), z, y)
    _assert_matches(obj, y, z, loss, grad, hess)


def test_huber_hessian_is_floored_in_the_tails():
    obj = gbdt.huber(1.0, hessian="exact", hessian_floor=1e-3)
    _, hess = obj.grad_hess([0.0, 0.0, 0.0], [0.5, 3.0, -3.0])
    np.testing.assert_array_equal(hess, [1.0, 1e-3, 1e-3])


def test_pinball_gradient_matches_torch_and_hessian_is_the_documented_constant():
    q = 0.8
    obj = gbdt.pinball(q, hessian="constant")
    rng = np.random.default_rng(2)
    z = _raw_scores(rng, 40)
    y = rng.normal(0.0, 5.0, size=40)
    y[:3] = z[:3]  # ties: torch's maximum splits the gradient evenly between both slopes
    loss, grad, hess = _row_derivatives(
        lambda x, t: F.pinball_loss(x.reshape(1), t, quantiles=[q], reduction="sum"), z, y
    )
    np.testing.assert_allclose(obj.loss(y, z), loss, rtol=1e-12)
    g, h = obj.grad_hess(y, z)
    np.testing.assert_allclose(g, grad, rtol=1e-12)
    np.testing.assert_allclose(g[:3], 0.5 - q)
    assert (hess == 0).all()  # the true Hessian gives Newton boosting nothing to divide by ...
    np.testing.assert_array_equal(h, 1.0)  # ... so the documented constant 1 is used


# --------------------------------------------------------------------------- binary

LOGISTIC = [(None, 0.0), (3.0, 0.0), (None, 0.2), (0.5, 0.1)]


@pytest.mark.parametrize(("pos_weight", "eps"), LOGISTIC)
def test_logistic_matches_torch(pos_weight, eps):
    obj = gbdt.logistic(pos_weight=pos_weight, label_smoothing=eps)
    rng = np.random.default_rng(3)
    z = _raw_scores(rng, 40)
    y = (rng.random(40) < 0.5).astype(float)
    y[:5] = rng.random(5)  # soft labels are allowed
    pw = None if pos_weight is None else torch.tensor([pos_weight], dtype=D)

    def row(x, t):
        return F.binary_cross_entropy_with_logits(
            x.reshape(1), t.reshape(1), pos_weight=pw, label_smoothing=eps, reduction="sum"
        )

    loss, grad, hess = _row_derivatives(row, z, y)
    _assert_matches(obj, y, z, loss, grad, hess)
    np.testing.assert_allclose(obj.transform(z), torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-14)


def _focal_reference(x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """Float64 sigmoid focal loss of one row in torchvision's form (differs from both implementations)."""
    s = 2 * y - 1  # labels 0/1
    p_t = torch.sigmoid(s * x)
    loss = -((1 - p_t) ** gamma) * torch.nn.functional.logsigmoid(s * x)
    if alpha is not None:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return loss


FOCAL = [(2.0, None), (2.0, 0.25), (0.5, 0.75), (0.0, None), (5.0, None)]


@pytest.mark.parametrize(("gamma", "alpha"), FOCAL)
def test_focal_matches_torch(gamma, alpha):
    obj = gbdt.focal(gamma=gamma, alpha=alpha)
    rng = np.random.default_rng(4)
    z = _raw_scores(rng, 40)
    z[:4] = [-4.0, -6.0, 4.0, 6.0]  # badly wrong rows for the labels below: negative Hessian
    y = (rng.random(40) < 0.5).astype(float)
    y[:4] = [1.0, 1.0, 0.0, 0.0]
    # gradient and value straight from losskit.functional.binary_focal_loss (autograd) ...
    x = torch.tensor(z, dtype=D, requires_grad=True)
    lk = F.binary_focal_loss(x, torch.tensor(y, dtype=D), gamma=gamma, alpha=alpha, reduction="none")
    (lk_grad,) = torch.autograd.grad(lk.sum(), x)
    # ... the Hessian from torch.func on an independent formula that must agree with it
    # (binary_focal_loss is a custom autograd.Function without double backward / functorch support)
    loss, grad, hess = _row_derivatives(lambda t, yy: _focal_reference(t, yy, gamma, alpha), z, y)
    np.testing.assert_allclose(loss, lk.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad, lk_grad.numpy(), rtol=1e-9, atol=1e-12)
    _assert_matches(obj, y, z, lk.detach().numpy(), lk_grad.numpy(), hess)
    if gamma >= 1:
        assert (hess[:4] < 0).all()  # the reference Hessian is negative there ...
        np.testing.assert_array_equal(obj.grad_hess(y[:4], z[:4])[1], obj.hessian_floor)  # ... and is floored


def test_focal_gamma_zero_is_logistic():
    rng = np.random.default_rng(5)
    z, y = _raw_scores(rng, 30), (rng.random(30) < 0.5).astype(float)
    for a, b in zip(gbdt.focal(0.0).grad_hess(y, z), gbdt.logistic().grad_hess(y, z), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-300)


def test_focal_hessian_minimum_at_gamma_two():
    # documented: the unfloored focal Hessian dips to about -0.05 at gamma = 2
    u = np.linspace(-20, 5, 25001)
    _, hess = gbdt.focal(2.0, hessian_floor=1e-300).grad_hess(np.ones_like(u), u)
    ref = torch.func.vmap(torch.func.hessian(lambda t: _focal_reference(t, torch.tensor(1.0, dtype=D), 2.0, None)))(
        torch.tensor(u)
    )
    assert -0.05 < ref.min() < -0.04
    np.testing.assert_allclose(hess, np.maximum(ref.numpy(), 1e-300), rtol=1e-8, atol=1e-14)


# --------------------------------------------------------------------------- multi-class

SOFTMAX = [(None, 0.0), ([1.0, 2.0, 0.5, 3.0], 0.0), (None, 0.1), ([0.2, 1.0, 4.0, 1.5], 0.3)]


@pytest.mark.parametrize(("class_weight", "eps"), SOFTMAX)
def test_softmax_matches_torch(class_weight, eps):
    k = 4
    obj = gbdt.softmax(k, class_weight=class_weight, label_smoothing=eps)
    rng = np.random.default_rng(6)
    z = _raw_scores(rng, 30, k)
    y = rng.integers(0, k, 30)
    w = None if class_weight is None else torch.tensor(class_weight, dtype=D)

    def row(x, t):
        return F.cross_entropy(x[None], t[None], weight=w, label_smoothing=eps, reduction="sum")

    loss, grad, hess = _row_derivatives(row, z, y)
    diag = np.diagonal(hess, axis1=1, axis2=2)
    _assert_matches(obj, y.astype(float), z, loss, grad, diag)
    np.testing.assert_allclose(obj.transform(z), torch.softmax(torch.tensor(z), 1).numpy(), rtol=1e-12)
    exact = gbdt.softmax(k, class_weight=class_weight, label_smoothing=eps, hessian_floor=1e-300)
    scaled = gbdt.softmax(k, class_weight=class_weight, label_smoothing=eps, hessian_floor=1e-300, hessian_scale=2.0)
    np.testing.assert_allclose(scaled.grad_hess(y, z)[1], 2 * exact.grad_hess(y, z)[1], rtol=1e-14, atol=1e-299)


SOFTMAX_FOCAL = [(2.0, None), (0.5, 0.25), (2.0, [0.25, 0.5, 0.75]), (0.0, None)]


def _softmax_focal_reference(x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: torch.Tensor) -> torch.Tensor:
    """Float64 softmax focal loss of one row, :math:`-\\alpha_y (1 - p_y)^\\gamma \\log p_y`, written directly."""
    onehot = (torch.arange(x.shape[0]) == y).to(D)
    logp = torch.log_softmax(x, 0)
    rest = (logp.exp() * (1 - onehot)).sum()  # 1 - p_y without cancellation
    return -(alpha * onehot).sum() * rest**gamma * (logp * onehot).sum()


@pytest.mark.parametrize(("gamma", "alpha"), SOFTMAX_FOCAL)
def test_softmax_focal_matches_torch(gamma, alpha):
    k = 3
    obj = gbdt.softmax_focal(k, gamma=gamma, alpha=alpha)
    rng = np.random.default_rng(7)
    z = _raw_scores(rng, 30, k)
    y = rng.integers(0, k, 30)
    z[:3] = [[-5.0, 3.0, 1.0], [8.0, -2.0, 0.0], [0.0, 0.0, 0.0]]  # rows 0, 1 badly wrong for label 1
    y[:3] = [0, 1, 0]
    a = torch.tensor(alpha, dtype=D) if isinstance(alpha, list) else alpha
    # value and gradient straight from losskit.functional.focal_loss (autograd) ...
    x = torch.tensor(z, dtype=D, requires_grad=True)
    lk = F.focal_loss(x, torch.tensor(y), gamma=gamma, alpha=a, reduction="none")
    (lk_grad,) = torch.autograd.grad(lk.sum(), x)
    # ... the Hessian from torch.func on an independent formula that must agree with it
    # (focal_loss is a custom autograd.Function without double backward / functorch support)
    alpha_vec = torch.ones(k, dtype=D) * (1.0 if alpha is None else a)
    loss, grad, hess = _row_derivatives(lambda t, yy: _softmax_focal_reference(t, yy, gamma, alpha_vec), z, y)
    np.testing.assert_allclose(loss, lk.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad, lk_grad.numpy(), rtol=1e-9, atol=1e-12)
    diag = np.diagonal(hess, axis1=1, axis2=2)
    _assert_matches(obj, y.astype(float), z, loss, grad, diag)
    if gamma == 2.0:
        assert (diag < 0).any()  # some diagonal entries are negative before the floor


def test_softmax_focal_gamma_zero_is_softmax():
    rng = np.random.default_rng(8)
    z, y = _raw_scores(rng, 20, 5), rng.integers(0, 5, 20)
    for a, b in zip(gbdt.softmax_focal(5, 0.0).grad_hess(y, z), gbdt.softmax(5).grad_hess(y, z), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-15)  # softmax's p(1 - p) is 1e-16-accurate near p = 1


# --------------------------------------------------------------------------- starting scores

SCALAR_OBJECTIVES = [
    gbdt.squared(),
    gbdt.huber(1.0),
    gbdt.pseudo_huber(2.0),
    gbdt.pinball(0.9),
    gbdt.logistic(),
    gbdt.logistic(pos_weight=4.0, label_smoothing=0.1),
    gbdt.focal(2.0),
    gbdt.focal(0.5, alpha=0.25),
]


def _labels_for(obj, rng, n):
    if obj.name in ("logistic", "focal"):
        return (rng.random(n) < 0.2).astype(float)
    return rng.standard_t(2, size=n) + 3.0


@pytest.mark.parametrize("obj", SCALAR_OBJECTIVES, ids=repr)
def test_init_score_is_the_best_constant(obj):
    rng = np.random.default_rng(9)
    y = _labels_for(obj, rng, 301)
    w = rng.uniform(0.1, 3.0, 301)
    c = obj.init_score(y, w)

    def total(v):
        return np.average(obj.loss(y, np.full(301, v)), weights=w)

    for step in (1e-3, 1e-1, 1.0):
        assert total(c) <= total(c + step) + 1e-12
        assert total(c) <= total(c - step) + 1e-12


def test_init_score_closed_forms():
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 5.0])
    w = np.array([1.0, 2.0, 1.0, 1.0, 3.0, 0.5])
    assert gbdt.squared().init_score(y, w) == pytest.approx(np.average(y, weights=w))
    yb = np.minimum(y, 1.0)
    p = np.average(yb, weights=w)
    assert gbdt.logistic().init_score(yb, w) == pytest.approx(np.log(p / (1 - p)))
    # the median of 1, 2, ..., 9 is 5; the 0.9-quantile is 9 (8.1 rounded up to a label)
    assert gbdt.pinball(0.5).init_score(np.arange(1.0, 10.0)) == 5.0
    assert gbdt.pinball(0.9).init_score(np.arange(1.0, 10.0)) == 9.0
    # all-negative labels: the optimum is at -infinity, bounded at -30
    assert gbdt.logistic().init_score(np.zeros(5)) == -30.0


MULTICLASS = [gbdt.softmax(3), gbdt.softmax(3, [1.0, 3.0, 0.5], 0.2), gbdt.softmax_focal(3, 2.0, [0.2, 0.5, 0.8])]


@pytest.mark.parametrize("obj", MULTICLASS, ids=repr)
def test_multiclass_init_score_is_the_best_constant(obj):
    rng = np.random.default_rng(10)
    y = rng.choice(3, size=200, p=[0.7, 0.2, 0.1])
    c = obj.init_score(y)
    assert c.shape == (3,)

    def total(v):
        return obj.loss(y, np.tile(v, (200, 1))).mean()

    for k in range(3):
        for step in (1e-3, 1e-1):
            e = np.zeros(3)
            e[k] = step
            assert total(c) <= total(c + e) + 1e-10
            assert total(c) <= total(c - e) + 1e-10
    if obj.name == "softmax" and obj.label_smoothing == 0:
        np.testing.assert_allclose(obj.transform(c[None])[0], np.bincount(y) / 200, rtol=1e-12)


def test_transform_is_the_inverse_link():
    z = np.array([-3.0, 0.0, 2.0])
    np.testing.assert_allclose(gbdt.focal().transform(z), expit(z))
    np.testing.assert_array_equal(gbdt.huber().transform(z), z)
