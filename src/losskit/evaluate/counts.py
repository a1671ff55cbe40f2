r"""Deviances and :math:`D^2` of count and positive-target predictions.

Predictions are means :math:`\mu > 0` (the model's ``exp(log-rate)``), as in scikit-learn. The
deviances are the losses of :mod:`losskit.functional.counts` evaluated in float64 on
:math:`\log\mu`, one definition for training and evaluation; they equal scikit-learn's
``mean_poisson_deviance``, ``mean_tweedie_deviance`` and ``mean_gamma_deviance``, non-negative
and 0 only for perfect predictions (a sign error there, reported against other libraries, would
reward bad models).

:math:`D^2` (fraction of deviance explained) compares the model with the constant weighted mean
of the targets, like :math:`R^2` for squared error:

.. math::
    D^2 = 1 - \frac{\sum_i w_i\, d(y_i, \mu_i)}{\sum_i w_i\, d(y_i, \bar y)}

(scikit-learn's ``d2_tweedie_score``); undefined (NaN with a warning) when every target equals
the mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from losskit._errors import LossInputError
from losskit._validation import check_scalar_range
from losskit.evaluate._inputs import as_array, as_sample_weight, check_length, undefined
from losskit.functional.counts import gamma_loss, poisson_loss, tweedie_loss

__all__ = ["d2_score", "gamma_deviance", "poisson_deviance", "tweedie_deviance"]


def _inputs(y_true: Any, y_pred: Any, sample_weight: Any, *, positive: bool):
    y = as_array("y_true", y_true)
    mu = as_array("y_pred", y_pred)
    check_length("y_pred", mu, y.shape[0])
    w = as_sample_weight(sample_weight, y.shape[0])
    bad = (y <= 0) if positive else (y < 0)
    if bad.any():
        expected = "positive targets (> 0)" if positive else "non-negative targets (>= 0)"
        raise LossInputError("y_true", expected, f"{int(bad.sum())} other values (e.g. {y[bad][0]})")
    if (mu <= 0).any():
        raise LossInputError(
            "y_pred", "positive predicted means (apply exp to log-rates)", f"{int((mu <= 0).sum())} <= 0"
        )
    return y, mu, w


def _deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray | None, power: float) -> float:
    """Weighted mean unit deviance, through the one torch definition (float64)."""
    x, t = torch.from_numpy(np.log(mu)), torch.from_numpy(y)
    wt = None if w is None else torch.from_numpy(w)
    if power == 1.0:
        out = poisson_loss(x, t, weight=wt)
    elif power == 2.0:
        out = gamma_loss(x, t, weight=wt)
    else:
        out = tweedie_loss(x, t, power=power, weight=wt)
    return float(out)


def _check_power(power: float) -> float:
    check_scalar_range("power", power, 1.0, 2.0)
    return float(power)


def poisson_deviance(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Mean Poisson deviance of predicted means ``y_pred > 0`` for targets ``y_true >= 0``.

    Example:
        >>> from losskit.evaluate import poisson_deviance
        >>> poisson_deviance([2.0, 0.0], [2.0, 1.0])
        1.0
    """
    y, mu, w = _inputs(y_true, y_pred, sample_weight, positive=False)
    return _deviance(y, mu, w, 1.0)


def tweedie_deviance(y_true: Any, y_pred: Any, *, power: float = 1.5, sample_weight: Any = None) -> float:
    """Mean Tweedie deviance, variance ``power`` in ``[1, 2]`` (1: Poisson, 2: Gamma).

    Example:
        >>> from losskit.evaluate import tweedie_deviance
        >>> tweedie_deviance([1.0, 0.0], [1.0, 1.0], power=1.5)
        2.0
    """
    p = _check_power(power)
    y, mu, w = _inputs(y_true, y_pred, sample_weight, positive=p == 2.0)
    return _deviance(y, mu, w, p)


def gamma_deviance(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Mean Gamma deviance of predicted means ``y_pred > 0`` for targets ``y_true > 0``.

    Example:
        >>> from losskit.evaluate import gamma_deviance
        >>> gamma_deviance([1.0, 3.0], [1.0, 3.0])
        0.0
    """
    y, mu, w = _inputs(y_true, y_pred, sample_weight, positive=True)
    return _deviance(y, mu, w, 2.0)


def d2_score(y_true: Any, y_pred: Any, *, power: float = 1.0, sample_weight: Any = None) -> float:
    """Fraction of Tweedie deviance explained, :math:`D^2` (see the module docs); ``power`` in
    ``[1, 2]``: 1 for counts (Poisson), 2 for Gamma. 1 is perfect, 0 is no better than the mean.

    Example:
        >>> from losskit.evaluate import d2_score
        >>> round(d2_score([0.0, 1.0, 4.0], [0.5, 1.0, 3.0]), 4)
        0.7824
    """
    p = _check_power(power)
    y, mu, w = _inputs(y_true, y_pred, sample_weight, positive=p == 2.0)
    null = _deviance(y, np.full_like(y, np.average(y, weights=w)), w, p)
    if null == 0.0:
        return undefined("D^2", "every target equals the mean (the null deviance is 0)")
    return 1.0 - _deviance(y, mu, w, p) / null
