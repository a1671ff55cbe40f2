"""Count objectives: derivatives against the PyTorch losses, and XGBoost's count:poisson /
reg:tweedie / reg:gamma and LightGBM's poisson / tweedie / gamma reproduced to 1e-5.

Small data, few rounds and one thread each (determinism; threads also fight on a busy machine).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import losskit
import losskit.functional as F
from losskit import LossInputError, gbdt

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

D = torch.float64
N = 800
ROUNDS = 15
XGB = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1}
LGB = {
    "num_leaves": 8,
    "learning_rate": 0.3,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
    "seed": 0,
}
RTOL = 1e-5  # the libraries hold gradients and leaf values in float32


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 6))
    mu = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] ** 2 + 0.4 * X[:, 2] * X[:, 3] + 0.5)
    counts = rng.poisson(mu).astype(float)
    positive = rng.gamma(2.0, mu / 2.0)
    zero_inflated = np.where(rng.random(N) < 0.4, 0.0, rng.gamma(2.0, mu / 2.0))
    w = rng.uniform(0.2, 2.0, N)
    return X, {"poisson": counts, "tweedie": zero_inflated, "gamma": positive}, w


# (objective, XGBoost params, LightGBM params)
CASES = {
    "poisson": (gbdt.poisson(), {"objective": "count:poisson"}, {"objective": "poisson"}),
    "tweedie": (
        gbdt.tweedie(1.3),
        {"objective": "reg:tweedie", "tweedie_variance_power": 1.3},
        {"objective": "tweedie", "tweedie_variance_power": 1.3},
    ),
    "gamma": (gbdt.gamma(), {"objective": "reg:gamma"}, {"objective": "gamma"}),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(CASES))
def test_xgboost_builtin_reproduced(data, name, weighted):
    X, labels, w = data
    y, w = labels[name], (w if weighted else None)
    obj, builtin_params, _ = CASES[name]
    start = obj.init_score(y, w)
    builtin = xgb.train(
        {**XGB, **builtin_params, "base_score": float(np.exp(start))}, xgb.DMatrix(X, label=y, weight=w), ROUNDS
    )
    custom = xgb.train(
        gbdt.xgboost_params(obj, y, w, params=XGB), xgb.DMatrix(X, label=y, weight=w), ROUNDS, obj=obj.xgboost
    )
    expected = builtin.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(gbdt.predict(obj, custom, X), expected, rtol=RTOL)
    assert np.abs(np.log(expected) - start).max() > 0.5  # the models learned something


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(CASES))
def test_lightgbm_builtin_reproduced(data, name, weighted):
    X, labels, w = data
    y, w = labels[name], (w if weighted else None)
    obj, _, builtin_params = CASES[name]
    builtin = lgb.train({**LGB, **builtin_params}, lgb.Dataset(X, label=y, weight=w), ROUNDS)
    start = obj.init_score(y, w)
    custom = lgb.train(
        {**LGB, "objective": obj.lightgbm},
        lgb.Dataset(X, label=y, weight=w, init_score=gbdt.start_margin(start, N)),
        ROUNDS,
    )
    expected = builtin.predict(X)
    np.testing.assert_allclose(gbdt.predict(obj, custom, X, init_score=start), expected, rtol=RTOL)


def test_poisson_max_delta_step_follows_xgboost(data):
    """A non-default max_delta_step reaches both the Hessian and XGBoost's leaf clipping."""
    X, labels, _ = data
    y = labels["poisson"]
    obj = gbdt.poisson(max_delta_step=0.3)
    start = obj.init_score(y)
    params = {**XGB, "objective": "count:poisson", "max_delta_step": 0.3, "base_score": float(np.exp(start))}
    builtin = xgb.train(params, xgb.DMatrix(X, label=y), ROUNDS)
    custom = xgb.train(gbdt.xgboost_params(obj, y, params=XGB), xgb.DMatrix(X, label=y), ROUNDS, obj=obj.xgboost)
    np.testing.assert_allclose(gbdt.predict(obj, custom, X), builtin.predict(xgb.DMatrix(X)), rtol=RTOL)
    assert gbdt.xgboost_params(obj, y)["max_delta_step"] == 0.3
    assert "max_delta_step" not in gbdt.xgboost_params(gbdt.poisson(0.0), y)


def test_lightgbm_poisson_max_delta_step(data):
    X, labels, _ = data
    y = labels["poisson"]
    obj = gbdt.poisson(max_delta_step=1.5)
    builtin = lgb.train({**LGB, "objective": "poisson", "poisson_max_delta_step": 1.5}, lgb.Dataset(X, label=y), ROUNDS)
    start = obj.init_score(y)
    custom = lgb.train(
        {**LGB, "objective": obj.lightgbm}, lgb.Dataset(X, label=y, init_score=gbdt.start_margin(start, N)), ROUNDS
    )
    np.testing.assert_allclose(gbdt.predict(obj, custom, X, init_score=start), builtin.predict(X), rtol=RTOL)


# --------------------------------------------------------------------------- derivatives


def _row_derivatives(loss_of_row, z, y):
    x, yt = torch.tensor(z, dtype=D), torch.tensor(y, dtype=D)
    with losskit.validation(False):
        values = torch.func.vmap(loss_of_row)(x, yt)
        grads = torch.func.vmap(torch.func.grad(loss_of_row))(x, yt)
        hessians = torch.func.vmap(torch.func.hessian(loss_of_row))(x, yt)
    return values.numpy(), grads.numpy(), hessians.numpy()


DERIVATIVES = [
    ("poisson", gbdt.poisson(max_delta_step=0.0), F.poisson_loss, {}),
    ("tweedie", gbdt.tweedie(1.6), F.tweedie_loss, {"power": 1.6}),
    ("gamma", gbdt.gamma(), F.gamma_loss, {}),
]


@pytest.mark.parametrize(("name", "obj", "fn", "options"), DERIVATIVES, ids=[d[0] for d in DERIVATIVES])
def test_half_of_the_torch_loss_with_its_gradient_and_hessian(name, obj, fn, options):
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(0.0, 2.0, 30), [-20.0, 20.0]])
    y = rng.poisson(3.0, size=32).astype(float) + (0.5 if name == "gamma" else 0.0)
    loss, grad, hess = _row_derivatives(
        lambda x, t: 0.5 * fn(x.reshape(1), t.reshape(1), reduction="sum", **options), z, y
    )
    np.testing.assert_allclose(obj.loss(y, z), loss, rtol=1e-9, atol=1e-12)
    g, h = obj.grad_hess(y, z)
    np.testing.assert_allclose(g, grad, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h, np.maximum(hess, obj.hessian_floor), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(obj.transform(z), np.exp(z))


def test_poisson_hessian_is_inflated_by_exp_max_delta_step():
    z, y = np.array([-1.0, 0.0, 2.0]), np.array([0.0, 1.0, 5.0])
    _, h0 = gbdt.poisson(0.0).grad_hess(y, z)
    _, h7 = gbdt.poisson(0.7).grad_hess(y, z)
    np.testing.assert_allclose(h7, h0 * np.exp(0.7), rtol=1e-14)


def test_start_is_log_of_weighted_mean_and_minimises_the_loss():
    y = np.array([0.0, 1.0, 4.0, 2.0, 0.5])
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    for obj in (gbdt.poisson(), gbdt.tweedie(1.5), gbdt.gamma()):
        yy = y + (0.1 if obj.name == "gamma" else 0.0)
        start = obj.init_score(yy, w)
        assert start == pytest.approx(np.log(np.average(yy, weights=w)), rel=1e-12)
        total = [np.average(obj.loss(yy, np.full(5, start + d)), weights=w) for d in (-1e-3, 0.0, 1e-3)]
        assert total[1] < total[0] and total[1] < total[2]


def test_label_domains_and_options_refused():
    with pytest.raises(LossInputError, match="`y_true`"):
        gbdt.poisson().grad_hess([1.0, -1.0], [0.0, 0.0])
    with pytest.raises(LossInputError, match="`y_true`"):
        gbdt.gamma().grad_hess([1.0, 0.0], [0.0, 0.0])
    with pytest.raises(LossInputError, match="`y_true`"):
        gbdt.poisson().init_score([0.0, 0.0])
    with pytest.raises(LossInputError, match="`power`"):
        gbdt.tweedie(2.0)
    with pytest.raises(LossInputError, match="`max_delta_step`"):
        gbdt.poisson(-0.1)


@pytest.mark.parametrize("obj", [gbdt.poisson(), gbdt.tweedie(1.5), gbdt.gamma()], ids=repr)
def test_shapes_weights_and_nan_refused(obj):
    z, y = np.array([0.1, -0.4, 2.0]), np.array([0.5, 1.0, 2.0])
    cases = [
        ("y_true", obj.grad_hess, (y[:2], z)),
        ("y_true", obj.grad_hess, (np.array([0.5, np.nan, 1.0]), z)),
        ("y_true", obj.init_score, (np.array([0.5, np.nan, 1.0]),)),
        ("raw_score", obj.grad_hess, (y, np.array([np.nan, 0.0, 0.0]))),
        ("sample_weight", obj.grad_hess, (y, z, [1.0, 2.0])),
        ("sample_weight", obj.grad_hess, (y, z, [1.0, -2.0, 1.0])),
        ("sample_weight", obj.init_score, (y, [0.0, 0.0, 0.0])),
        ("y_true", obj.init_score, ([],)),
    ]
    for argument, fn, args in cases:
        with pytest.raises(LossInputError, match=f"`{argument}`"):
            fn(*args)
