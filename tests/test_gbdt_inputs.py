"""Bad input to the GBDT objectives raises LossInputError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import losskit
from losskit import LossInputError, gbdt

Z = np.array([0.1, -0.4, 2.0])
ZK = np.zeros((3, 3))

ALL = [
    gbdt.squared(),
    gbdt.huber(),
    gbdt.pseudo_huber(),
    gbdt.pinball(0.3),
    gbdt.logistic(),
    gbdt.focal(),
    gbdt.softmax(3),
    gbdt.softmax_focal(3),
]


def _scores(obj):
    return ZK if obj.num_outputs > 1 else Z


def _raises(argument, fn, *args, **kwargs):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        fn(*args, **kwargs)


@pytest.mark.parametrize("obj", ALL, ids=repr)
def test_nan_labels(obj):
    y = np.array([0.0, np.nan, 1.0])
    _raises("y_true", obj.grad_hess, y, _scores(obj))
    _raises("y_true", obj.loss, y, _scores(obj))
    _raises("y_true", obj.init_score, y)


@pytest.mark.parametrize("obj", ALL, ids=repr)
def test_shapes_and_weights(obj):
    z, y = _scores(obj), np.array([0.0, 1.0, 1.0])
    _raises("y_true", obj.grad_hess, y[:2], z)
    _raises("raw_score", obj.grad_hess, y, np.array([np.nan, 0.0, 0.0]) if obj.num_outputs == 1 else ZK + np.inf)
    _raises("sample_weight", obj.grad_hess, y, z, [1.0, 2.0])
    _raises("sample_weight", obj.grad_hess, y, z, [1.0, -2.0, 1.0])
    _raises("sample_weight", obj.init_score, y, [0.0, 0.0, 0.0])
    _raises("y_true", obj.init_score, [])


@pytest.mark.parametrize(
    ("obj", "bad"),
    [
        (gbdt.logistic(), [0.0, 1.5, 1.0]),
        (gbdt.logistic(), [-0.1, 1.0, 1.0]),
        (gbdt.focal(), [0.0, 0.5, 1.0]),  # focal needs hard labels
        (gbdt.focal(), [0.0, 2.0, 1.0]),
        (gbdt.softmax(3), [0.0, 3.0, 1.0]),
        (gbdt.softmax(3), [0.0, -1.0, 1.0]),
        (gbdt.softmax_focal(3), [0.0, 1.5, 1.0]),
    ],
    ids=str,
)
def test_labels_outside_the_domain(obj, bad):
    _raises("y_true", obj.grad_hess, bad, _scores(obj))
    _raises("y_true", obj.init_score, bad)


def test_value_checks_follow_set_validation():
    with losskit.validation(False):
        gbdt.logistic().grad_hess([0.0, 1.5, 1.0], Z)  # not checked
    _raises("y_true", gbdt.logistic().grad_hess, [0.0, 1.5, 1.0], Z)


@pytest.mark.parametrize("obj", [gbdt.softmax(3), gbdt.softmax_focal(3)], ids=repr)
def test_multiclass_needs_n_by_k_scores(obj):
    y = [0, 1, 2]
    _raises("raw_score", obj.grad_hess, y, Z)  # (n,) instead of (n, 3)
    _raises("raw_score", obj.grad_hess, y, np.zeros((3, 2)))
    _raises("raw_score", obj.grad_hess, y, np.zeros((3, 3, 1)))
    _raises("y_true", obj.grad_hess, np.zeros((3, 3)), ZK)  # one-hot labels: class indices expected


def test_scalar_objectives_refuse_matrix_scores():
    _raises("raw_score", gbdt.logistic().grad_hess, [0, 1, 1], np.zeros((3, 2)))


@pytest.mark.parametrize(
    ("factory", "kwargs", "argument"),
    [
        (gbdt.pseudo_huber, {"delta": 0.0}, "delta"),
        (gbdt.huber, {"delta": -1.0}, "delta"),
        (gbdt.pinball, {"quantile": 1.0}, "quantile"),
        (gbdt.pinball, {"quantile": 0.0}, "quantile"),
        (gbdt.logistic, {"pos_weight": 0.0}, "pos_weight"),
        (gbdt.logistic, {"label_smoothing": 1.0}, "label_smoothing"),
        (gbdt.focal, {"gamma": -1.0}, "gamma"),
        (gbdt.focal, {"alpha": 1.5}, "alpha"),
        (gbdt.focal, {"hessian_floor": 0.0}, "hessian_floor"),
        (gbdt.squared, {"hessian_floor": float("nan")}, "hessian_floor"),
        (gbdt.softmax, {"num_class": 1}, "num_class"),
        (gbdt.softmax, {"num_class": 2.5}, "num_class"),
        (gbdt.softmax, {"num_class": 3, "class_weight": [1.0, 2.0]}, "class_weight"),
        (gbdt.softmax, {"num_class": 3, "class_weight": [1.0, -2.0, 1.0]}, "class_weight"),
        (gbdt.softmax, {"num_class": 3, "label_smoothing": -0.1}, "label_smoothing"),
        (gbdt.softmax, {"num_class": 3, "hessian_scale": 0.0}, "hessian_scale"),
        (gbdt.softmax_focal, {"num_class": 3, "alpha": [0.5, 0.5]}, "alpha"),
        (gbdt.softmax_focal, {"num_class": 3, "alpha": 2.0}, "alpha"),
        (gbdt.softmax_focal, {"num_class": 3, "gamma": -0.5}, "gamma"),
    ],
    ids=lambda v: v.__name__ if callable(v) else str(v),
)
def test_bad_options(factory, kwargs, argument):
    _raises(argument, factory, **kwargs)


def test_adapters_validate_library_data():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X = np.zeros((3, 2))
    obj = gbdt.logistic()
    _raises("y_true", obj.xgboost, Z, xgb.DMatrix(X, label=[0.0, 2.0, 1.0]))
    _raises("y_true", obj.lightgbm, Z, lgb.Dataset(X, label=[0.0, 2.0, 1.0]).construct())
    _raises("y_true", obj.lightgbm, [0.0, np.nan, 1.0], Z, None, None)
    _raises("raw_score", gbdt.softmax(3).xgboost_sklearn, [0, 1, 2], Z)


def test_start_helpers_reject_bad_input():
    _raises("init_score", gbdt.start_margin, np.zeros((2, 2)), 3)
    _raises("model", gbdt.predict, gbdt.logistic(), object(), np.zeros((3, 2)))


@pytest.mark.parametrize("obj", ALL, ids=repr)
def test_string_labels_and_scores_are_refused_by_name(obj):
    _raises("y_true", obj.init_score, np.array(["a", "b", "a"]))
    _raises("y_true", obj.grad_hess, ["a", "b", "a"], _scores(obj))
    _raises("raw_score", obj.grad_hess, [0.0, 1.0, 0.0], np.array(["x", "y", "z"]))
    _raises("sample_weight", obj.init_score, [0.0, 1.0, 0.0], ["w", "w", "w"])


def test_predict_refuses_an_init_score_of_the_wrong_width():
    xgb = pytest.importorskip("xgboost")
    X, y = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3
    obj = gbdt.softmax(3)
    booster = xgb.train(
        {"num_class": 3, "disable_default_eval_metric": True}, xgb.DMatrix(X, label=y), 2, obj=obj.xgboost
    )
    _raises("init_score", gbdt.predict, obj, booster, X, init_score=[0.0, 0.0])  # 2 starts for 3 classes
    _raises("init_score", gbdt.predict, obj, booster, X, init_score=0.5)
    _raises("init_score", gbdt.predict, gbdt.logistic(), booster, X, init_score=[0.0, 0.0, 0.0])
    _raises("init_score", gbdt.predict, obj, booster, X, init_score=["a", "b", "c"])
    assert gbdt.predict(obj, booster, X, init_score=[0.0, 0.0, 0.0]).shape == (30, 3)
