"""L1, pinball and Huber objectives learn at the target's scale (issue: a unit Hessian moves a
leaf at most ``eta`` target units per round, so the losskit MAE objective on diamond-like prices
stayed at the median predictor).

The reference is each library's built-in counterpart trained on the same rows with the same
settings: XGBoost ``reg:absoluteerror`` / ``reg:quantileerror`` / ``reg:pseudohubererror``,
LightGBM ``l1`` / ``quantile`` / ``huber``. The targets are in the thousands: scikit-learn's
Friedman #1 times 1000 and its bundled diabetes table (real features and targets) times 25.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_friedman1

from losskit import LossInputError, gbdt

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

ROUNDS = 200
XGB = {"learning_rate": 0.1, "max_depth": 4, "nthread": 1, "seed": 0, "verbosity": 0}
LGB = {"learning_rate": 0.1, "num_leaves": 15, "num_threads": 1, "deterministic": True, "verbosity": -1, "seed": 0}


def _split(x, y):
    order = np.random.default_rng(0).permutation(len(y))
    n_train = int(0.75 * len(y))
    return x[order[:n_train]], y[order[:n_train]], x[order[n_train:]], y[order[n_train:]]


TABLES = {
    # Friedman #1 (nonlinear, 10 features) in the thousands: 1000 * (about 1 to 28)
    "friedman": lambda: _split(*(lambda x, y: (x, 1000.0 * y))(*make_friedman1(1500, noise=1.0, random_state=0))),
    # the bundled diabetes table, target in dollars of some cost: 25 * (25 to 346)
    "diabetes": lambda: _split(*(lambda x, y: (x, 25.0 * y))(*load_diabetes(return_X_y=True))),
}


@pytest.fixture(scope="module", params=sorted(TABLES))
def prices(request):
    return TABLES[request.param]()


def _pinball(y, pred, q):
    d = y - pred
    return float(np.mean(np.maximum(q * d, (q - 1.0) * d)))


def _xgb_custom(obj, x, y, x_test):
    booster = xgb.train(gbdt.xgboost_params(obj, y, params=XGB), xgb.DMatrix(x, label=y), ROUNDS, obj=obj.xgboost)
    return gbdt.predict(obj, booster, x_test)


def _xgb_builtin(params, x, y, x_test):
    # base_score at the median: reg:pseudohubererror diverges from XGBoost's own intercept here
    booster = xgb.train({**XGB, "base_score": float(np.median(y)), **params}, xgb.DMatrix(x, label=y), ROUNDS)
    return booster.predict(xgb.DMatrix(x_test))


def _lgb_custom(obj, x, y, x_test):
    start = obj.init_score(y)
    init = gbdt.start_margin(start, len(y))
    booster = lgb.train({**LGB, "objective": obj.lightgbm}, lgb.Dataset(x, label=y, init_score=init), ROUNDS)
    return gbdt.predict(obj, booster, x_test, init_score=start)


def _lgb_builtin(params, x, y, x_test):
    return lgb.train({**LGB, **params}, lgb.Dataset(x, label=y), ROUNDS).predict(x_test)


# (losskit objective, quantile scored, XGBoost built-in, LightGBM built-in, tolerance). IRLS steps
# are a leaf's reweighted mean residual, not its quantile: off-centre quantiles converge more
# slowly than under the built-ins' leaf refresh, and XGBoost has no Huber, only pseudo-Huber
# (a different loss, here slightly better in MAE): those get 15% (documented gap), the rest 5%.
CASES = {
    "mae": (
        lambda: gbdt.pinball(0.5),
        0.5,
        {"objective": "reg:absoluteerror"},
        {"objective": "l1"},
        {"xgboost": 1.05, "lightgbm": 1.05},
    ),
    "pinball_0.25": (
        lambda: gbdt.pinball(0.25),
        0.25,
        {"objective": "reg:quantileerror", "quantile_alpha": 0.25},
        {"objective": "quantile", "alpha": 0.25},
        {"xgboost": 1.15, "lightgbm": 1.15},
    ),
    "huber": (
        lambda: gbdt.huber(100.0),
        0.5,
        {"objective": "reg:pseudohubererror", "huber_slope": 100.0},
        {"objective": "huber", "alpha": 100.0},
        {"xgboost": 1.15, "lightgbm": 1.05},
    ),
}


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_objective_learns_like_the_builtin_on_prices_in_the_thousands(prices, library, case):
    x, y, x_test, y_test = prices
    assert np.median(y) > 1000  # the scale the unit Hessian could not reach
    make, q, xgb_builtin, lgb_builtin, tolerance = CASES[case]
    if library == "xgboost":
        ours = _xgb_custom(make(), x, y, x_test)
        builtin = _xgb_builtin(xgb_builtin, x, y, x_test)
    else:
        ours = _lgb_custom(make(), x, y, x_test)
        builtin = _lgb_builtin(lgb_builtin, x, y, x_test)
    median_only = _pinball(y_test, np.full_like(y_test, np.quantile(y, q)), q)
    ours_loss, builtin_loss = _pinball(y_test, ours, q), _pinball(y_test, builtin, q)
    assert builtin_loss < 0.85 * median_only  # the task has signal to learn
    assert ours_loss <= tolerance[library] * builtin_loss, (ours_loss, builtin_loss)


def test_constant_hessian_is_stuck_near_the_start_at_this_scale(prices):
    """The failure the IRLS Hessian fixes: the same objective with the constant Hessian."""
    x, y, x_test, y_test = prices
    stuck = _xgb_custom(gbdt.pinball(0.5, hessian="constant"), x, y, x_test)
    fixed = _xgb_custom(gbdt.pinball(0.5), x, y, x_test)
    assert np.mean(np.abs(stuck - y_test)) > 1.3 * np.mean(np.abs(fixed - y_test))


def test_irls_newton_step_lands_on_a_shared_residual_at_any_scale():
    for scale in (1.0, 1e4):
        y = np.zeros(6)
        z = np.full(6, 3.0 * scale)  # every row 3 * scale above its label
        for obj in (gbdt.pinball(0.3), gbdt.pinball(0.9), gbdt.huber(1.0)):
            g, h = obj.grad_hess(y, z)
            np.testing.assert_allclose(-g.sum() / h.sum(), -3.0 * scale, rtol=1e-12)


def test_irls_keeps_the_gradient_direction_and_the_exact_modes_are_the_derivatives():
    rng = np.random.default_rng(1)
    y, z = rng.normal(0, 50, 30), rng.normal(0, 50, 30)
    for irls, exact in (
        (gbdt.pinball(0.7), gbdt.pinball(0.7, hessian="constant")),
        (gbdt.huber(5.0), gbdt.huber(5.0, hessian="exact")),
    ):
        g, h = irls.grad_hess(y, z)
        g0, _ = exact.grad_hess(y, z)
        ratio = g / np.where(g0 == 0, 1.0, g0)
        np.testing.assert_allclose(ratio[g0 != 0], ratio[g0 != 0][0], rtol=1e-12)  # one positive constant
        assert ratio[0] > 0 and (h > 0).all()
    np.testing.assert_array_equal(gbdt.pinball(0.7, hessian="constant").grad_hess(y, z)[1], 1.0)


@pytest.mark.parametrize(
    "make", [lambda: gbdt.pinball(0.5, hessian="exact"), lambda: gbdt.huber(1.0, hessian="constant")]
)
def test_unknown_hessian_mode_is_refused(make):
    with pytest.raises(LossInputError, match="hessian"):
        make()
