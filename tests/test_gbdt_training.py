"""GBDT objectives inside XGBoost and LightGBM: equal to the built-in objectives, starting scores,
sklearn adapters, metrics, and focal against logistic on rare positives.

Small data, few rounds and one thread each (determinism; threads also fight on a busy machine).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import log_loss, precision_recall_curve

from losskit import LossInputError, gbdt

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

N = 1000
ROUNDS = 20
XGB = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1}
LGB = {"num_leaves": 8, "learning_rate": 0.3, "num_threads": 1, "deterministic": True, "force_row_wise": True}
LGB_QUIET = {**LGB, "verbose": -1, "seed": 0}
TOL = 1e-6  # probabilities; the libraries hold gradients in float32
XGB_VERSION = tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in xgb.__version__.split(".")[:2])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 8))
    logit = X[:, 0] - 0.5 * X[:, 1] ** 2 + 0.5 * X[:, 2] * X[:, 3] - 0.8
    y = (rng.random(N) < expit(logit)).astype(float)
    yk = np.digitize(logit + rng.normal(size=N), [-1.5, 0.0]).astype(float)  # 3 classes
    w = rng.uniform(0.2, 2.0, N)
    return X, y, yk, w


# --------------------------------------------------------------------------- against built-ins


def test_xgboost_logistic_equals_builtin(data):
    X, y, _, _ = data
    obj = gbdt.logistic()
    builtin_params = {**XGB, "objective": "binary:logistic", "base_score": y.mean()}
    builtin = xgb.train(builtin_params, xgb.DMatrix(X, label=y), ROUNDS)
    custom = xgb.train(gbdt.xgboost_params(obj, y, params=XGB), xgb.DMatrix(X, label=y), ROUNDS, obj=obj.xgboost)
    expected = builtin.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(gbdt.predict(obj, custom, X), expected, atol=TOL)
    assert np.abs(expected - y.mean()).max() > 0.3  # the models learned something


def test_xgboost_softmax_equals_builtin_softprob(data):
    X, _, yk, _ = data
    obj = gbdt.softmax(3, hessian_scale=2.0)  # multi:softprob's Hessian is 2 p (1 - p)
    init = obj.init_score(yk)
    margin = gbdt.start_margin(init, N)
    builtin = xgb.train(
        {**XGB, "objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(X, label=yk, base_margin=margin), ROUNDS
    )
    expected = builtin.predict(xgb.DMatrix(X, base_margin=margin))
    # per-row base_margin, added back at prediction time ...
    custom = xgb.train(
        {**XGB, "num_class": 3, "disable_default_eval_metric": True},
        xgb.DMatrix(X, label=yk, base_margin=margin),
        ROUNDS,
        obj=obj.xgboost,
    )
    np.testing.assert_allclose(gbdt.predict(obj, custom, X, init_score=init), expected, atol=TOL)
    # ... or a per-class base_score stored in the model (XGBoost >= 3.1; older versions are told so)
    if XGB_VERSION < (3, 1):
        with pytest.raises(LossInputError, match=r"XGBoost >= 3\.1"):
            gbdt.xgboost_params(obj, yk, params=XGB)
        return
    stored = xgb.train(gbdt.xgboost_params(obj, yk, params=XGB), xgb.DMatrix(X, label=yk), ROUNDS, obj=obj.xgboost)
    np.testing.assert_allclose(gbdt.predict(obj, stored, X), expected, atol=TOL)


def test_lightgbm_logistic_equals_builtin(data):
    X, y, _, _ = data
    obj = gbdt.logistic()
    builtin = lgb.train({**LGB_QUIET, "objective": "binary"}, lgb.Dataset(X, label=y), ROUNDS)
    init = obj.init_score(y)
    custom = lgb.train(
        {**LGB_QUIET, "objective": obj.lightgbm}, lgb.Dataset(X, label=y, init_score=gbdt.start_margin(init, N)), ROUNDS
    )
    np.testing.assert_allclose(gbdt.predict(obj, custom, X, init_score=init), builtin.predict(X), atol=TOL)
    # LightGBM ignores boost_from_average with a custom objective: without init_score it differs
    from_zero = lgb.train({**LGB_QUIET, "objective": obj.lightgbm}, lgb.Dataset(X, label=y), ROUNDS)
    assert np.abs(gbdt.predict(obj, from_zero, X) - builtin.predict(X)).max() > 0.05


def test_lightgbm_softmax_equals_builtin_multiclass(data):
    X, _, yk, _ = data
    obj = gbdt.softmax(3, hessian_scale=3 / 2)  # LightGBM's multiclass uses K / (K - 1)
    builtin = lgb.train({**LGB_QUIET, "objective": "multiclass", "num_class": 3}, lgb.Dataset(X, label=yk), ROUNDS)
    init = obj.init_score(yk)
    custom = lgb.train(
        {**LGB_QUIET, "objective": obj.lightgbm, "num_class": 3},
        lgb.Dataset(X, label=yk, init_score=gbdt.start_margin(init, N)),
        ROUNDS,
    )
    np.testing.assert_allclose(gbdt.predict(obj, custom, X, init_score=init), builtin.predict(X), atol=TOL)


def test_sklearn_estimators_with_weights_equal_builtin(data):
    X, y, yk, w = data
    obj = gbdt.logistic()
    init = obj.init_score(y, w)
    margin = gbdt.start_margin(init, N)
    common = {"n_estimators": ROUNDS, "max_depth": 3, "learning_rate": 0.3, "n_jobs": 1}
    builtin = xgb.XGBClassifier(**common, base_score=np.average(y, weights=w)).fit(X, y, sample_weight=w)
    custom = xgb.XGBClassifier(**common, objective=obj.xgboost_sklearn).fit(X, y, sample_weight=w, base_margin=margin)
    expected = builtin.predict_proba(X)[:, 1]
    np.testing.assert_allclose(gbdt.predict(obj, custom, X, init_score=init), expected, atol=TOL)

    lcommon = {"n_estimators": ROUNDS, **LGB_QUIET}
    lbuiltin = lgb.LGBMClassifier(**lcommon).fit(X, y, sample_weight=w)
    lcustom = lgb.LGBMClassifier(**lcommon, objective=obj.lightgbm).fit(X, y, sample_weight=w, init_score=margin)
    lexpected = lbuiltin.predict_proba(X)[:, 1]
    np.testing.assert_allclose(gbdt.predict(obj, lcustom, X, init_score=init), lexpected, atol=TOL)

    mobj = gbdt.softmax(3, hessian_scale=3 / 2)
    minit = mobj.init_score(yk, w)
    mbuiltin = lgb.LGBMClassifier(**lcommon).fit(X, yk, sample_weight=w, init_score=gbdt.start_margin(minit, N))
    mcustom = lgb.LGBMClassifier(**lcommon, objective=mobj.lightgbm).fit(
        X, yk, sample_weight=w, init_score=gbdt.start_margin(minit, N)
    )
    np.testing.assert_allclose(
        gbdt.predict(mobj, mcustom, X, init_score=minit), gbdt.predict(mobj, mbuiltin, X, init_score=minit), atol=TOL
    )


# --------------------------------------------------------------------------- starting scores


def test_xgboost_custom_objective_starts_from_half_unless_told(data):
    X, y, _, _ = data
    obj = gbdt.focal()
    plain = xgb.train({**XGB}, xgb.DMatrix(X, label=y), 0, obj=obj.xgboost)
    np.testing.assert_allclose(gbdt.predict(obj, plain, X[:5], raw_score=True), 0.5)  # the pitfall
    fixed = xgb.train(gbdt.xgboost_params(obj, y, params=XGB), xgb.DMatrix(X, label=y), 0, obj=obj.xgboost)
    np.testing.assert_allclose(gbdt.predict(obj, fixed, X[:5], raw_score=True), obj.init_score(y), rtol=1e-6)


def test_xgboost_params_refuses_an_objective_entry(data):
    _, y, _, _ = data
    with pytest.raises(LossInputError, match="`params`"):
        gbdt.xgboost_params(gbdt.logistic(), y, params={"objective": "binary:logistic"})


# --------------------------------------------------------------------------- metrics


def test_metrics_read_raw_margins_and_equal_builtin_logloss(data):
    X, y, _, w = data
    obj = gbdt.logistic()
    dtrain = xgb.DMatrix(X, label=y, weight=w)
    log: dict = {}
    booster = xgb.train(
        gbdt.xgboost_params(obj, y, w, params=XGB),
        dtrain,
        5,
        obj=obj.xgboost,
        custom_metric=obj.xgboost_metric,
        evals=[(dtrain, "train")],
        evals_result=log,
        verbose_eval=False,
    )
    proba = gbdt.predict(obj, booster, X)
    assert log["train"]["logistic_loss"][-1] == pytest.approx(log_loss(y, proba, sample_weight=w), rel=1e-5)
    builtin_log: dict = {}
    xgb.train(
        {**XGB, "objective": "binary:logistic", "base_score": np.average(y, weights=w), "eval_metric": "logloss"},
        dtrain,
        5,
        evals=[(dtrain, "train")],
        evals_result=builtin_log,
        verbose_eval=False,
    )
    np.testing.assert_allclose(log["train"]["logistic_loss"], builtin_log["train"]["logloss"], rtol=1e-5)

    init = obj.init_score(y, w)
    dset = lgb.Dataset(X, label=y, weight=w, init_score=gbdt.start_margin(init, N))
    llog: dict = {}
    lbooster = lgb.train(
        {**LGB_QUIET, "objective": obj.lightgbm, "metric": "None"},
        dset,
        5,
        valid_sets=[dset],
        valid_names=["train"],
        feval=obj.lightgbm_metric,
        callbacks=[lgb.record_evaluation(llog)],
    )
    lproba = gbdt.predict(obj, lbooster, X, init_score=init)
    assert llog["train"]["logistic_loss"][-1] == pytest.approx(log_loss(y, lproba, sample_weight=w), rel=1e-6)
    # the sklearn faces: plain values / (name, value, higher_is_better)
    z = gbdt.predict(obj, lbooster, X, init_score=init, raw_score=True)
    assert obj.xgboost_metric(y, z, sample_weight=w) == pytest.approx(log_loss(y, lproba, sample_weight=w))
    assert obj.lightgbm_metric(y, z, w, None) == ("logistic_loss", obj.xgboost_metric(y, z, sample_weight=w), False)


# --------------------------------------------------------------------------- focal on rare positives


def _recall_at_precision(y: np.ndarray, score: np.ndarray, precision: float) -> float:
    p, r, _ = precision_recall_curve(y, score)
    return float(r[p >= precision].max())


def test_focal_against_logistic_on_one_percent_positives():
    """Recall at precision 0.5 on held-out data, 1% positives (10k train / 10k test, 60 rounds).

    Measured with this seed: logistic 0.712, focal(gamma=2) 0.721 (see docs/gbdt.md for more
    seeds: focal is ahead on some, behind on others; the difference is within seed noise).
    The test requires focal to train to a useful model, no worse than logistic by more than 0.1.
    """
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=20000, n_features=12, n_informative=6, weights=[0.99], flip_y=0.0, class_sep=0.8, random_state=1
    )
    y = y.astype(float)
    Xtr, ytr, Xte, yte = X[:10000], y[:10000], X[10000:], y[10000:]
    assert 0.005 < ytr.mean() < 0.015
    params = {**XGB, "eta": 0.1, "max_depth": 4, "min_child_weight": 0.01}
    recall = {}
    for obj in (gbdt.logistic(), gbdt.focal(gamma=2.0)):
        dtrain = xgb.DMatrix(Xtr, label=ytr)
        booster = xgb.train(gbdt.xgboost_params(obj, ytr, params=params), dtrain, 60, obj=obj.xgboost)
        recall[obj.name] = _recall_at_precision(yte, gbdt.predict(obj, booster, Xte), 0.5)
    print(f"recall at precision 0.5: {recall}")
    assert recall["logistic"] > 0.3 and recall["focal"] > 0.3
    assert recall["focal"] >= recall["logistic"] - 0.1
