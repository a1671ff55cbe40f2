"""The losskit losses as XGBoost and LightGBM custom objectives.

Each objective is the per-row loss of the matching :mod:`losskit.functional` function, with
closed-form NumPy gradient and Hessian, the optimal starting score, the inverse link and
adapters for both libraries' calling conventions::

    import xgboost as xgb
    from losskit import gbdt

    obj = gbdt.focal(gamma=2.0)
    booster = xgb.train(gbdt.xgboost_params(obj, y), xgb.DMatrix(X, label=y), 100,
                        obj=obj.xgboost, custom_metric=obj.xgboost_metric)
    proba = gbdt.predict(obj, booster, X_test)

Requires the ``gbdt`` extra (``pip install losskit[gbdt]``: xgboost, lightgbm, scipy).
"""

from losskit._optional import requires_extra

with requires_extra("gbdt", "losskit.gbdt"):
    from losskit.gbdt._base import DEFAULT_HESSIAN_FLOOR, Objective
    from losskit.gbdt.binary import focal, logistic
    from losskit.gbdt.counts import gamma, poisson, tweedie
    from losskit.gbdt.multiclass import softmax, softmax_focal
    from losskit.gbdt.regression import huber, pinball, pseudo_huber, squared
    from losskit.gbdt.start import predict, start_margin, xgboost_params

__all__ = [
    "DEFAULT_HESSIAN_FLOOR",
    "Objective",
    "focal",
    "gamma",
    "huber",
    "logistic",
    "pinball",
    "poisson",
    "predict",
    "pseudo_huber",
    "softmax",
    "softmax_focal",
    "squared",
    "start_margin",
    "tweedie",
    "xgboost_params",
]
