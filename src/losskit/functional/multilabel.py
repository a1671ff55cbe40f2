r"""Losses for multi-label and long-tailed classification: asymmetric loss and PolyLoss.

* :func:`asymmetric_loss` (Ridnik et al. 2021, "Asymmetric Loss For Multi-Label
  Classification"): sigmoid per label, with separate focusing for positives and negatives and
  a probability margin that discards easy negatives. Shapes as
  :func:`losskit.binary_cross_entropy_with_logits`.
* :func:`poly_loss` (Leng et al. 2022, "PolyLoss: A Polynomial Expansion Perspective of
  Classification Loss Functions"): Poly-1, softmax cross-entropy or focal loss plus
  ``epsilon * (1 - p_t)^(gamma + 1)``. Shapes as :func:`losskit.cross_entropy`.

Both are computed in log space (no ``log`` of a probability that may round to 0), so loss and
gradient are finite at logits of ``+-1e4`` and in half precision (computed in float32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import restore
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import check_scalar_range
from losskit.functional._focal_multiclass import log1m_softmax
from losskit.functional.classification import (
    _binary_inputs,
    _multiclass_inputs,
    _reduce_multiclass,
    _safe_index,
    cross_entropy,
    focal_loss,
)

__all__ = ["asymmetric_loss", "poly_loss"]


def _pow_from_log(log_base: Tensor, exponent: float) -> Tensor:
    """``exp(exponent * log_base)``: a power computed from the log of its base (0 ** 0 = 1)."""
    if exponent == 0:
        return torch.ones_like(log_base)
    return torch.exp(exponent * log_base)


def asymmetric_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Asymmetric loss (ASL) for multi-label classification (Ridnik et al. 2021).

    .. math::
        \ell = -y\,(1 - p)^{\gamma_+} \log p \;-\; (1 - y)\, p_m^{\gamma_-} \log(1 - p_m),
        \qquad p = \sigma(x),\quad p_m = \max(p - m, 0)

    with the probability margin ``m = clip`` shifting the negatives (easy negatives with
    ``p < m`` are discarded entirely). ``gamma_pos = gamma_neg = clip = 0`` is binary
    cross-entropy. Defaults are the paper's (``gamma_pos=0, gamma_neg=4, clip=0.05``).

    Numerics: ``log p = logsigmoid(x)``, ``(1 - p)^g = exp(g * logsigmoid(-x))`` and
    ``log(1 - p_m) = log(min(sigmoid(-x) + m, 1))``; the reference implementation clamps
    probabilities at ``1e-8`` instead, which flattens its gradient at large logits and gives NaN
    in half precision. The focusing factors are differentiated (as the reference does by
    default).

    Args:
        input: logits ``(*)``, e.g. ``(N, L)`` for ``L`` labels.
        target: 0/1 or soft targets in ``[0, 1]``, same shape.
        gamma_pos: focusing exponent for positives ``>= 0``.
        gamma_neg: focusing exponent for negatives ``>= 0``.
        clip: probability margin ``m`` in ``[0, 1)``.
        weight: per-element weights broadcastable to ``(*)``.
        reduction: ``"mean"`` (``sum(w l) / sum(w)``), ``"sum"`` or ``"none"``. The reference
            returns the sum.
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Example:
        >>> import torch, losskit
        >>> x, y = torch.tensor([[2.0, -3.0]]), torch.tensor([[1.0, 0.0]])
        >>> round(losskit.asymmetric_loss(x, y, reduction="sum").item(), 4)
        0.1269
    """
    check_scalar_range("gamma_pos", gamma_pos, 0.0)
    check_scalar_range("gamma_neg", gamma_neg, 0.0)
    check_scalar_range("clip", clip, 0.0, 1.0, high_inclusive=False)
    x, y, w, _ = _binary_inputs(input, target, weight, None, 0.0, reduction)
    log_p, log_q = TF.logsigmoid(x), TF.logsigmoid(-x)  # log p, log(1 - p)
    positive = _pow_from_log(log_q, gamma_pos) * log_p
    if clip:
        q_m = torch.clamp(torch.exp(log_q) + clip, max=1.0)  # 1 - p_m, never below clip
        p_m = 1.0 - q_m
        if gamma_neg:
            # p_m ** gamma with a zero gradient where p_m = 0 (discarded negatives)
            zero = p_m <= 0
            focus = torch.where(zero, torch.zeros_like(p_m), torch.where(zero, torch.ones_like(p_m), p_m) ** gamma_neg)
        else:
            focus = torch.ones_like(p_m)
        negative = focus * torch.log(q_m)
    else:
        negative = _pow_from_log(log_p, gamma_neg) * log_q
    loss = -(y * positive + (1.0 - y) * negative)
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)


def poly_loss(
    input: Tensor,
    target: Tensor,
    *,
    epsilon: float = 1.0,
    gamma: float = 0.0,
    alpha: float | Tensor | None = None,
    weight: Tensor | None = None,
    sample_weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Poly-1 loss on softmax cross-entropy or focal loss (Leng et al. 2022).

    .. math::
        \ell_i = L_i + \varepsilon\, (1 - p_{t,i})^{\gamma + 1},\qquad
        p_{t,i} = \sum_c y'_{ic}\, \operatorname{softmax}(x_i)_c

    where ``L`` is :func:`losskit.cross_entropy` for ``gamma = 0`` (Poly-1 CE, the paper's
    eq. 3: ``CE + eps (1 - p_t)``) and :func:`losskit.focal_loss` with ``gamma`` and ``alpha``
    otherwise (Poly-1 focal: ``FL + eps (1 - p_t)^(gamma + 1)``), and ``y'`` the (smoothed)
    target. With hard targets the polynomial term carries the item's class weight ``w_{y_i}``
    (so the whole item is weighted alike) but not ``alpha``, as in the paper. ``epsilon = 0`` gives the base loss
    exactly; ``epsilon`` may be negative (the paper uses ``-1`` for some tasks) down to ``-1``,
    where the loss stays non-negative.

    Args:
        input, target, weight, sample_weight, ignore_index, label_smoothing, reduction, num_items:
            as in :func:`losskit.cross_entropy`.
        epsilon: coefficient of the first polynomial term, ``>= -1``.
        gamma: focal exponent ``>= 0``; ``0`` is Poly-1 cross-entropy.
        alpha: focal ``alpha`` (see :func:`losskit.focal_loss`); only with ``gamma > 0``.

    Example:
        >>> import torch, losskit
        >>> x, t = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
        >>> round(losskit.poly_loss(x, t, epsilon=1.0).item(), 4)  # CE 0.1698 + (1 - 0.8438)
        0.3261
    """
    check_scalar_range("epsilon", epsilon, -1.0)
    check_scalar_range("gamma", gamma, 0.0)
    if alpha is not None and not gamma:
        raise LossInputError("alpha", "None when gamma is 0 (alpha belongs to the focal form)", repr(alpha))
    mc = _multiclass_inputs(input, target, weight, sample_weight, ignore_index, label_smoothing, reduction)
    x = mc.x
    options = dict(weight=mc.weight, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none")
    if gamma:
        base = focal_loss(x, mc.target, gamma=gamma, alpha=alpha, **options)
    else:
        base = cross_entropy(x, mc.target, **options)
    num_classes = x.shape[1]
    if mc.hard:
        safe = _safe_index(mc)
        y = TF.one_hot(safe, num_classes).movedim(-1, 1).to(x.dtype)
    else:
        y = mc.target
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / num_classes
    # 1 - p_t = sum_c y'_c (1 - p_c), each 1 - p_c from log(1 - p_c) without cancellation
    one_minus_pt = (y * torch.exp(log1m_softmax(x, torch.log_softmax(x, dim=1)))).sum(dim=1)
    poly = epsilon * one_minus_pt ** (gamma + 1.0)
    if mc.hard and mc.weight is not None:
        poly = poly * mc.weight[safe]
    # base holds the class-weighted per-item losses; sample weights and the mean's denominator
    # are applied once, by the shared multi-class reduction
    return _reduce_multiclass(base + poly, mc, reduction, num_items, input)
