r"""Count and positive-target losses: the Poisson, Tweedie and Gamma deviances with the log link.

The network predicts the log of the mean, :math:`\eta = x + \text{offset}` (``offset`` is the
log-exposure: a rate model of counts observed over an exposure ``t`` passes ``log t``), and
:math:`\mu = e^\eta`. Each loss is the *unit deviance* :math:`d(y, \mu)` of its distribution, so
``reduction="mean"`` equals scikit-learn's ``mean_poisson_deviance``, ``mean_tweedie_deviance``
and ``mean_gamma_deviance`` of the predictions :math:`\mu` (with ``sample_weight`` too), and a
perfect prediction scores 0:

=============  =======================================================================  ===========
loss           unit deviance :math:`d(y, \mu)`                                          targets
=============  =======================================================================  ===========
Poisson        :math:`2\,(y \log(y/\mu) - y + \mu)`                                     :math:`y \ge 0`
Tweedie        :math:`2\,\bigl(\tfrac{y^{2-p}}{(1-p)(2-p)} - \tfrac{y \mu^{1-p}}{1-p}
               + \tfrac{\mu^{2-p}}{2-p}\bigr)`, :math:`1 < p < 2`                       :math:`y \ge 0`
Gamma          :math:`2\,(\log(\mu/y) + y/\mu - 1)`                                     :math:`y > 0`
=============  =======================================================================  ===========

The gradient with respect to the log-rate is :math:`2(\mu - y)` (Poisson),
:math:`2(\mu^{2-p} - y\mu^{1-p})` (Tweedie) and :math:`2(1 - y/\mu)` (Gamma): half of each is
what XGBoost's ``count:poisson`` / ``reg:tweedie`` / ``reg:gamma`` and LightGBM's objectives of
the same names use (:mod:`losskit.gbdt.counts`).

Numerics: the Poisson and Gamma deviances are computed from :math:`r = \log y - \eta` as
:math:`2y(e^{-r} - 1 + r)` and :math:`2(e^{r} - 1 - r)` with ``expm1``, so they stay accurate
(no cancellation of two large terms) when the prediction is close to a large target, and
:math:`y = 0` in the Poisson deviance contributes :math:`2\mu` exactly. The losses are finite
wherever :math:`\mu` is representable (:math:`|\eta| \lesssim 88` in float32, ``709`` in
float64).

Shapes: ``input``, ``target`` ``(*)``; ``offset`` and ``weight`` broadcastable to ``(*)``.

References: McCullagh & Nelder (1989) *Generalized Linear Models*, 2nd ed., ch. 2 and 8;
Jørgensen (1987) "Exponential dispersion models" (Tweedie family).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_broadcastable,
    check_float,
    check_input,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_sample_weight,
    check_scalar_range,
    check_values_in_range,
)

__all__ = ["gamma_loss", "poisson_loss", "tweedie_loss"]


def _prepare(
    input: Tensor,
    target: Tensor,
    offset: Tensor | None,
    weight: Tensor | None,
    reduction: str,
    *,
    positive: bool,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Check the arguments; return the log-mean ``eta``, the target and the weight in the compute dtype."""
    check_input("input", input)
    check_float("target", target)
    check_same_device("target", target, input)
    check_same_shape("target", target, input.shape, "the shape of `input`")
    check_reduction(reduction)
    if offset is not None:
        check_float("offset", offset)
        check_same_device("offset", offset, input)
        check_broadcastable("offset", offset, input.shape, "the shape of `input`")
    if weight is not None:
        check_sample_weight("weight", weight, input.shape, "the shape of `input`", input)
    check_values_in_range("target", target, 0.0, math.inf, low_inclusive=not positive)
    dtype = compute_dtype(input)
    eta = upcast(input, dtype)
    if offset is not None:
        eta = eta + upcast(offset, dtype)
    return eta, upcast(target, dtype), upcast(weight, dtype)


def poisson_loss(
    input: Tensor,
    target: Tensor,
    *,
    offset: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Poisson deviance of counts with the log link (Poisson regression).

    .. math::
        \ell = 2\,\bigl(y \log(y / \mu) - y + \mu\bigr),\qquad \mu = e^{x + \text{offset}}

    with :math:`0 \log 0 = 0`. Differs from PyTorch's ``poisson_nll_loss(log_input=True)``
    (:math:`\mu - y x`) by a factor 2 and a constant in :math:`x`: the same minimiser and, halved,
    the same gradient :math:`\mu - y`.

    Args:
        input: log-rates :math:`x` ``(*)``.
        target: counts (or any non-negative values) ``(*)``.
        offset: log-exposure broadcastable to ``(*)`` (e.g. ``log(time at risk)``), added to
            ``input``; ``None`` is 0.
        weight: per-element weights broadcastable to ``(*)``.
        reduction: ``"mean"`` (``sum(w l) / sum(w)``, scikit-learn's ``mean_poisson_deviance``),
            ``"sum"`` or ``"none"``.
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Example:
        >>> import torch, losskit
        >>> losskit.poisson_loss(torch.log(torch.tensor([2.0, 1.0])), torch.tensor([2.0, 0.0]))
        tensor(1.)
    """
    eta, y, w = _prepare(input, target, offset, weight, reduction, positive=False)
    counted = y > 0
    r = torch.log(torch.where(counted, y, torch.ones_like(y))) - eta  # log(y / mu) where y > 0
    loss = 2.0 * torch.where(counted, y * (torch.expm1(-r) + r), torch.exp(eta))
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)


def tweedie_loss(
    input: Tensor,
    target: Tensor,
    *,
    power: float = 1.5,
    offset: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Tweedie deviance with the log link, for non-negative targets with exact zeros and a
    continuous positive part (compound Poisson-Gamma: claim amounts, rainfall, sales).

    .. math::
        \ell = 2\,\Bigl(\frac{y^{2-p}}{(1-p)(2-p)} - \frac{y\,\mu^{1-p}}{1-p}
        + \frac{\mu^{2-p}}{2-p}\Bigr),\qquad \mu = e^{x + \text{offset}}

    Args:
        input: log-means :math:`x` ``(*)``.
        target: non-negative targets ``(*)``.
        power: the variance power :math:`p` in ``(1, 2)`` (``Var = phi mu^p``); use
            :func:`poisson_loss` (``p = 1``) or :func:`gamma_loss` (``p = 2``) at the ends.
        offset, weight, reduction, num_items: as :func:`poisson_loss`; ``"mean"`` equals
            ``sklearn.metrics.mean_tweedie_deviance(y, mu, power=p)``.

    Example:
        >>> import torch, losskit
        >>> losskit.tweedie_loss(torch.zeros(2), torch.tensor([1.0, 1.0]), power=1.5)
        tensor(0.)
    """
    check_scalar_range("power", power, 1.0, 2.0, low_inclusive=False, high_inclusive=False)
    eta, y, w = _prepare(input, target, offset, weight, reduction, positive=False)
    p = float(power)
    loss = 2.0 * (
        y.pow(2.0 - p) / ((1.0 - p) * (2.0 - p))
        - y * torch.exp((1.0 - p) * eta) / (1.0 - p)
        + torch.exp((2.0 - p) * eta) / (2.0 - p)
    )
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)


def gamma_loss(
    input: Tensor,
    target: Tensor,
    *,
    offset: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Gamma deviance with the log link, for positive targets whose spread grows with their mean
    (constant coefficient of variation: costs, durations, claim severities).

    .. math::
        \ell = 2\,\bigl(\log(\mu / y) + y / \mu - 1\bigr),\qquad \mu = e^{x + \text{offset}}

    Args:
        input: log-means :math:`x` ``(*)``.
        target: strictly positive targets ``(*)``.
        offset, weight, reduction, num_items: as :func:`poisson_loss`; ``"mean"`` equals
            ``sklearn.metrics.mean_gamma_deviance(y, mu)``.

    Example:
        >>> import torch, losskit
        >>> round(float(losskit.gamma_loss(torch.zeros(1), torch.tensor([2.0]))), 4)  # 2 (2 - 1 - log 2)
        0.6137
    """
    eta, y, w = _prepare(input, target, offset, weight, reduction, positive=True)
    r = torch.log(y) - eta  # log(y / mu)
    loss = 2.0 * (torch.expm1(r) - r)
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)
