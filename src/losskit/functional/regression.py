"""Regression losses: MSE, MAE, Huber, Smooth L1, log-cosh and pinball (quantile).

Shapes: ``input`` and ``target`` have the same shape ``(*)`` (pinball: ``input`` has a
trailing quantile dimension ``(*, Q)``). ``weight`` is a per-element weight broadcastable to
the unreduced loss. Reductions follow :func:`losskit._reduction.reduce_loss`:
``"mean"`` is ``sum(w * l) / sum(w)`` (or ``/ num_items``).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_bool,
    check_float,
    check_input,
    check_input_after,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_sample_weight,
    check_scalar_range,
    check_values_in_range,
    describe,
    reads_values,
)

__all__ = ["huber_loss", "log_cosh_loss", "mae_loss", "mse_loss", "pinball_loss", "smooth_l1_loss"]


def _prepare(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str):
    # NaN in `input` is looked for in the result (check_input_after): free on good input
    check_float("input", input)
    check_float("target", target)
    check_same_device("target", target, input)
    check_same_shape("target", target, input.shape, "the shape of `input`")
    check_reduction(reduction)
    if weight is not None:
        check_sample_weight("weight", weight, input.shape, "the shape of `input`", input)
    dtype = compute_dtype(input)
    return upcast(input, dtype), upcast(target, dtype), upcast(weight, dtype)


def _elementwise(name: str, formula):
    """Build a regression loss from an element-wise ``formula(input, target, **options)``."""

    def loss(
        input: Tensor,
        target: Tensor,
        *,
        weight: Tensor | None = None,
        reduction: str = "mean",
        num_items: NumItems = None,
        **options: float,
    ) -> Tensor:
        x, y, w = _prepare(input, target, weight, reduction)
        out = reduce_loss(formula(x, y, **options), reduction=reduction, weight=w, num_items=num_items)
        check_input_after(out, "input", input)
        return restore(out, input)

    loss.__name__ = name
    return loss


def mse_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Mean squared error, :math:`\ell = (x - y)^2`.

    Args:
        input: predictions ``(*)``.
        target: targets ``(*)``.
        weight: per-element weights broadcastable to ``(*)``.
        reduction: ``"mean"`` (weighted mean ``sum(w l) / sum(w)``), ``"sum"`` or ``"none"``.
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Equals :func:`torch.nn.functional.mse_loss` without weights.

    Example:
        >>> import torch, losskit
        >>> losskit.mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        tensor(2.)
    """
    return _mse(input, target, weight=weight, reduction=reduction, num_items=num_items)


def mae_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Mean absolute error, :math:`\ell = |x - y|` (gradient ``sign(x - y)``, 0 at 0).

    Shapes and options as :func:`mse_loss`. Equals :func:`torch.nn.functional.l1_loss`.

    Example:
        >>> import torch, losskit
        >>> losskit.mae_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]))
        tensor(1.5000)
    """
    return _mae(input, target, weight=weight, reduction=reduction, num_items=num_items)


def huber_loss(
    input: Tensor,
    target: Tensor,
    *,
    delta: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Huber loss (Huber 1964).

    .. math::
        \ell = \begin{cases} \tfrac12 d^2 & |d| \le \delta \\ \delta (|d| - \tfrac12 \delta) & \text{otherwise}
        \end{cases},\quad d = x - y

    Quadratic near 0, linear (slope ``delta``) in the tails. ``delta > 0``. Shapes and options
    as :func:`mse_loss`. Equals :func:`torch.nn.functional.huber_loss`.

    Example:
        >>> import torch, losskit
        >>> losskit.huber_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), delta=1.0)  # (0.125 + 2.5) / 2
        tensor(1.3125)
    """
    check_scalar_range("delta", delta, 0.0, math.inf, low_inclusive=False)
    return _huber(input, target, weight=weight, reduction=reduction, num_items=num_items, delta=delta)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    *,
    beta: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Smooth L1 loss (Girshick 2015): Huber divided by ``beta``.

    .. math::
        \ell = \begin{cases} \tfrac12 d^2 / \beta & |d| < \beta \\ |d| - \tfrac12 \beta & \text{otherwise}\end{cases}

    ``beta >= 0``; ``beta = 0`` is the absolute error. Equals
    :func:`torch.nn.functional.smooth_l1_loss`.

    Example:
        >>> import torch, losskit
        >>> losskit.smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), beta=1.0)  # (0.125 + 2.5) / 2
        tensor(1.3125)
    """
    check_scalar_range("beta", beta, 0.0, math.inf)
    return _smooth_l1(input, target, weight=weight, reduction=reduction, num_items=num_items, beta=beta)


def log_cosh_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Log-cosh loss, :math:`\ell = \log\cosh(x - y)`.

    Computed as :math:`\operatorname{log1p}(2 \sinh^2(d/2))` for :math:`|d| < 10` (accurate to
    a few ulps relative: ``d = 1e-4`` gives ``5e-9`` in float32, where the textbook forms give 0)
    and as :math:`|d| + \operatorname{softplus}(-2|d|) - \log 2` beyond, which never overflows
    (``cosh`` does beyond ``|d| ~ 89`` in float32). Behaves like ``d^2/2`` near 0 and
    ``|d| - log 2`` in the tails; the gradient is ``tanh(d)``. Shapes and options as
    :func:`mse_loss`.

    Example:
        >>> import torch, losskit
        >>> losskit.log_cosh_loss(torch.tensor([1e-4]), torch.tensor([0.0]))
        tensor(5.0000e-09)
    """
    return _log_cosh(input, target, weight=weight, reduction=reduction, num_items=num_items)


def _log_cosh_formula(d: Tensor) -> Tensor:
    a = d.abs()
    small = a.clamp(max=_LOG_COSH_SWITCH)  # clamped: the unused branch's gradient stays finite
    near = torch.log1p(2.0 * torch.sinh(0.5 * small).square())
    far = a + torch.nn.functional.softplus(-2.0 * a) - math.log(2.0)
    return torch.where(a < _LOG_COSH_SWITCH, near, far)


# Beyond it the tail form is exact to rounding (softplus(-20) ~ 2e-9 relative to |d|).
_LOG_COSH_SWITCH = 10.0


# The element-wise parts use PyTorch's fused kernels where it has them (one pass forward and
# backward); reduction, weights and num_items are then applied by the shared rule.
_mse = _elementwise("mse_loss", lambda x, y: TF.mse_loss(x, y, reduction="none"))
_mae = _elementwise("mae_loss", lambda x, y: TF.l1_loss(x, y, reduction="none"))
_huber = _elementwise("huber_loss", lambda x, y, delta: TF.huber_loss(x, y, delta=delta, reduction="none"))
_smooth_l1 = _elementwise("smooth_l1_loss", lambda x, y, beta: TF.smooth_l1_loss(x, y, beta=beta, reduction="none"))
_log_cosh = _elementwise("log_cosh_loss", lambda x, y: _log_cosh_formula(x - y))


def _quantile_tensor(quantiles: Sequence[float] | Tensor, like: Tensor, *, increasing: bool) -> Tensor:
    if isinstance(quantiles, Tensor):
        q = quantiles.detach().reshape(-1) if quantiles.dim() == 0 else quantiles.detach()
    else:
        if not isinstance(quantiles, (numbers.Real, str, bytes, Sequence, np.ndarray)):
            raise LossInputError("quantiles", "a sequence of levels in (0, 1) or a 1-D tensor", repr(quantiles))
        values = [quantiles] if isinstance(quantiles, (numbers.Real, str, bytes)) else list(quantiles)
        for v in values:
            check_scalar_range("quantiles", v, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        q = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if q.dim() != 1 or q.numel() == 0:
        raise LossInputError("quantiles", "a non-empty 1-D sequence of floats", describe(q))
    if isinstance(quantiles, Tensor):  # a value check like any other: it can be switched off
        check_values_in_range("quantiles", q, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        ordered = not (increasing and reads_values(q)) or bool((q[1:] > q[:-1]).all())
    else:  # checked in Python: free, and no graph break under torch.compile
        values = [float(v) for v in values]
        ordered = not increasing or all(a < b for a, b in itertools.pairwise(values))
    if not ordered:
        raise LossInputError("quantiles", "strictly increasing when monotone=True", q.tolist())
    return q.to(device=like.device, dtype=like.dtype)


def pinball_loss(
    input: Tensor,
    target: Tensor,
    quantiles: Sequence[float] | Tensor,
    *,
    monotone: bool = False,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Pinball (quantile) loss for many quantiles at once (Koenker & Bassett 1978).

    .. math::
        \ell_{iq} = \max\bigl(\tau_q (y_i - x_{iq}),\ (\tau_q - 1)(y_i - x_{iq})\bigr)

    Args:
        input: predictions ``(*, Q)``, one per quantile.
        target: targets ``(*)``.
        quantiles: ``Q`` levels strictly inside ``(0, 1)`` (sequence or 1-D tensor).
        monotone: prevent quantile crossing by *rearrangement* (Chernozhukov et al. 2010): the
            ``Q`` predictions of each item are sorted before the loss, so the q-th smallest
            prediction is scored as the q-th quantile. Requires ``quantiles`` in increasing order.
            Sorting never increases the pinball loss and keeps gradients exact (a permutation).
        weight: per-item weights broadcastable to ``(*)`` (shared by the item's quantiles).
        reduction: ``"none"`` gives ``(*, Q)``; ``"mean"`` averages over items and quantiles, which
            for one quantile equals :func:`sklearn.metrics.mean_pinball_loss` (with
            ``sample_weight`` too).
        num_items: divide the weighted sum by this instead (count items times ``Q``).

    Example:
        >>> import torch, losskit
        >>> pred = torch.tensor([[0.0, 1.0]])  # quantiles 0.1 and 0.9 of one item
        >>> losskit.pinball_loss(pred, torch.tensor([2.0]), [0.1, 0.9])  # (0.1 * 2 + 0.9 * 1) / 2
        tensor(0.5500)
    """
    check_bool("monotone", monotone)
    check_input("input", input)
    check_float("target", target)
    check_same_device("target", target, input)
    check_reduction(reduction)
    if input.dim() == 0:
        raise LossInputError("input", "a tensor of shape (*, Q)", describe(input))
    check_same_shape("target", target, input.shape[:-1], "`input` without its quantile dimension")
    q = _quantile_tensor(quantiles, input, increasing=monotone)
    if q.numel() != input.shape[-1]:
        raise LossInputError("quantiles", f"{input.shape[-1]} levels (the last dimension of `input`)", q.numel())
    dtype = compute_dtype(input)
    x = upcast(input, dtype)
    if monotone:
        x = torch.sort(x, dim=-1).values
    d = upcast(target, dtype).unsqueeze(-1) - x
    qd = q.to(dtype)
    loss = torch.maximum(qd * d, (qd - 1.0) * d)
    w = None
    if weight is not None:
        check_sample_weight("weight", weight, target.shape, "the shape of `target`", input)
        w = torch.broadcast_to(upcast(weight, dtype), target.shape).unsqueeze(-1)
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)
