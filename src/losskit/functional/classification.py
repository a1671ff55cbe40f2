"""Classification losses on logits: BCE, softmax cross-entropy, binary and multi-class focal.

Inputs are always logits (never probabilities). Shapes:

* binary / multi-label: ``input`` and ``target`` of the same shape ``(*)``; targets 0/1 or soft
  in ``[0, 1]``.
* multi-class: ``input`` ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``; ``target`` class
  indices ``(N,)`` / ``(N, d1, ...)`` / ``()``, or class probabilities of ``input``'s shape.

Reductions follow :func:`losskit._reduction.reduce_loss`: ``"mean"`` is the weighted mean over
the elements that count. An empty batch or one whose targets are all ``ignore_index`` gives 0
(PyTorch gives NaN) with the graph connected.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_broadcastable,
    check_class_indices,
    check_float,
    check_integer,
    check_reduction,
    check_same_shape,
    check_scalar_range,
    check_values_in_range,
    describe,
)
from losskit.functional._focal_binary import binary_focal_elementwise
from losskit.functional._focal_multiclass import multiclass_focal_hard

__all__ = ["binary_cross_entropy_with_logits", "binary_focal_loss", "cross_entropy", "focal_loss"]


# --------------------------------------------------------------------------- binary / multi-label


def _binary_inputs(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    pos_weight: Tensor | None,
    label_smoothing: float,
    reduction: str,
):
    check_float("input", input)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_shape("target", target, input.shape, "the shape of `input`")
    check_reduction(reduction)
    check_scalar_range("label_smoothing", label_smoothing, 0.0, 1.0, high_inclusive=False)
    if target.requires_grad:
        raise LossInputError("target", "a tensor that does not require grad", describe(target))
    dtype = compute_dtype(input)
    y = target.to(dtype)
    check_values_in_range("target", y, 0.0, 1.0)
    if pos_weight is not None:
        check_float("pos_weight", pos_weight)
        check_broadcastable("pos_weight", pos_weight, input.shape, "the shape of `input`")
        check_values_in_range("pos_weight", pos_weight, 0.0, float("inf"))
    if weight is not None:
        check_float("weight", weight)
        check_broadcastable("weight", weight, input.shape, "the shape of `input`")
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return upcast(input, dtype), y, upcast(weight, dtype), upcast(pos_weight, dtype)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Binary / multi-label cross-entropy on logits.

    .. math::
        \ell = -\bigl(w_+\, y' \log\sigma(x) + (1 - y') \log\sigma(-x)\bigr),\qquad
        y' = y (1 - \varepsilon) + \varepsilon / 2

    (Keras' label-smoothing convention: both classes move ``eps/2`` towards the middle.)
    Computed in log space (``logsigmoid``), finite for any logit.

    Args:
        input: logits ``(*)``.
        target: 0/1 or soft targets in ``[0, 1]``, same shape (bool and integer tensors are accepted).
        weight: per-element weights broadcastable to ``(*)``.
        pos_weight: weight of the positive term, broadcastable to ``(*)`` (``(L,)`` for ``L``
            labels); ``n_neg / n_pos`` balances a label (see :func:`losskit.imbalance.pos_weight`).
        label_smoothing: ``eps`` in ``[0, 1)``.
        reduction: ``"mean"`` = ``sum(w l) / sum(w)``; note that PyTorch's weighted "mean" divides
            by the element count instead (identical without ``weight``).
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Matches :func:`torch.nn.functional.binary_cross_entropy_with_logits` for ``"none"``,
    ``"sum"`` and unweighted ``"mean"``.
    """
    x, y, w, pw = _binary_inputs(input, target, weight, pos_weight, label_smoothing, reduction)
    loss = TF.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)


def binary_focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    pos_weight: Tensor | None = None,
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Sigmoid focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection").

    .. math::
        \ell = \alpha_t (1 - p_t)^\gamma\, \mathrm{BCE}(x, y'),\quad
        p_t = p y' + (1 - p)(1 - y'),\quad \alpha_t = \alpha y' + (1 - \alpha)(1 - y')

    with ``p = sigmoid(x)``, ``y'`` the smoothed target (as in
    :func:`binary_cross_entropy_with_logits`) and ``BCE`` including ``pos_weight``. With
    ``alpha`` given this is torchvision's ``sigmoid_focal_loss``; ``alpha=None`` means no alpha
    balancing. ``gamma = 0`` and ``alpha=None`` give :func:`binary_cross_entropy_with_logits`.

    ``(1 - p_t)^gamma`` is evaluated as ``exp(gamma * log(1 - p_t))`` with ``log(1 - p_t)`` from
    log-sigmoids, and the gradient in closed form, so loss and gradient stay finite for
    ``gamma < 1`` at logits of ``+-1e4`` (the textbook form gives NaN there).

    Args:
        input: logits ``(*)``.
        target: 0/1 or soft targets in ``[0, 1]``, same shape.
        gamma: focusing parameter ``>= 0``.
        alpha: positive-class balance in ``[0, 1]`` or ``None``.
        pos_weight, weight, label_smoothing, reduction, num_items: as in
            :func:`binary_cross_entropy_with_logits` (``alpha`` does not enter the mean's
            denominator; ``weight`` does).
    """
    check_scalar_range("gamma", gamma, 0.0)
    if alpha is not None:
        check_scalar_range("alpha", alpha, 0.0, 1.0)
    x, y, w, pw = _binary_inputs(input, target, weight, pos_weight, label_smoothing, reduction)
    hard = not target.is_floating_point() or (
        not label_smoothing and not torch.compiler.is_compiling() and bool(((y == 0) | (y == 1)).all())
    )
    loss = binary_focal_elementwise(x, y, float(gamma), None if alpha is None else float(alpha), pw, hard)
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)


# --------------------------------------------------------------------------- multi-class


@dataclass
class _MultiClass:
    """Validated multi-class inputs, in compute dtype, always with a batch dimension."""

    x: Tensor  # (N, C, d...)
    target: Tensor  # (N, d...) indices or (N, C, d...) probabilities
    hard: bool
    mask: Tensor | None  # (N, d...) True where the target counts (hard targets only)
    weight: Tensor | None  # (C,) class weights
    sample_weight: Tensor | None  # broadcastable to (N, d...)
    unbatched: bool


def _multiclass_inputs(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    sample_weight: Tensor | None,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
) -> _MultiClass:
    check_float("input", input)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_reduction(reduction)
    check_scalar_range("label_smoothing", label_smoothing, 0.0, 1.0, high_inclusive=False)
    if input.dim() == 0:
        raise LossInputError("input", "logits of shape (N, C, ...) or (C,)", describe(input))
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    num_classes = x.shape[1]
    batch_shape = (x.shape[0], *x.shape[2:])
    hard = not target.is_floating_point()
    t = target.unsqueeze(0) if unbatched else target
    if hard:
        check_integer("target", t)
        check_same_shape("target", t, batch_shape, "class indices for `input` of shape (N, C, d1, ...)")
        check_class_indices("target", t, num_classes, ignore_index)
    else:
        if tuple(t.shape) != tuple(x.shape):
            raise LossInputError(
                "target",
                f"class indices of shape {tuple(batch_shape)} or class probabilities of shape {tuple(x.shape)}",
                describe(target),
            )
        check_values_in_range("target", t, 0.0, 1.0)
        if t.requires_grad:
            raise LossInputError("target", "a tensor that does not require grad", describe(target))
    if weight is not None:
        check_float("weight", weight)
        check_same_shape("weight", weight, (num_classes,), "one weight per class")
        check_values_in_range("weight", weight, 0.0, float("inf"))
    if sample_weight is not None:
        check_float("sample_weight", sample_weight)
        sw_shape = sample_weight.shape
        if unbatched and sample_weight.dim() == 0:
            sample_weight = sample_weight.reshape(1)
        check_broadcastable("sample_weight", sample_weight, batch_shape, f"the batch shape {tuple(sw_shape)}")
    dtype = compute_dtype(input)
    mask = (t != ignore_index) if hard else None
    return _MultiClass(
        x=upcast(x, dtype),
        target=t if hard else t.to(dtype),
        hard=hard,
        mask=mask,
        weight=upcast(weight, dtype),
        sample_weight=upcast(sample_weight, dtype),
        unbatched=unbatched,
    )


def _class_dim_view(v: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-class vector ``(C,)`` to broadcast along dim 1 of ``x``."""
    return v.reshape(1, -1, *([1] * (x.dim() - 2)))


def _reduce_multiclass(loss: Tensor, mc: _MultiClass, reduction: str, num_items: NumItems, like: Tensor) -> Tensor:
    """Apply the shared rule: hard targets divide by the summed target-class weights."""
    denom = None
    if mc.hard and mc.weight is not None:
        safe = torch.where(mc.mask, mc.target, torch.zeros_like(mc.target))
        denom = mc.weight[safe]
    if mc.sample_weight is not None:
        loss = loss * mc.sample_weight
        denom = mc.sample_weight if denom is None else denom * mc.sample_weight
    out = reduce_loss(loss, reduction=reduction, weight=denom, mask=mc.mask, num_items=num_items, weighted=True)
    if reduction == "none" and mc.unbatched:
        out = out.squeeze(0)
    return restore(out, like)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    sample_weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Softmax cross-entropy with hard or soft targets.

    .. math::
        \ell_i = -\sum_c w_c\, y'_{ic} \log\operatorname{softmax}(x_i)_c,\qquad
        y' = (1 - \varepsilon)\, y + \varepsilon / C

    computed as ``logsumexp(x) - x`` (never ``log(softmax)``). For hard targets ``y`` is one-hot
    and ``"mean"`` divides by :math:`\sum_i w_{y_i}` over non-ignored items; for probability
    targets it divides by the number of items. This is exactly PyTorch's rule, including the
    interaction of class weights with label smoothing (the smoothing mass ``eps/C`` of class
    ``c`` is weighted by ``w_c``; pytorch#104776), so values equal
    :func:`torch.nn.functional.cross_entropy` everywhere it is defined, except that a batch
    with every target ignored gives 0 instead of NaN.

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
        target: class indices ``(N,)``/``(N, d1, ...)``/``()`` or probabilities shaped like ``input``.
        weight: per-class weights ``(C,)``.
        sample_weight: per-item weights broadcastable to ``(N, d1, ...)``; they scale each item's
            loss and its share of the denominator.
        ignore_index: target value that is ignored (hard targets).
        label_smoothing: ``eps`` in ``[0, 1)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (shape ``(N, d1, ...)``).
        num_items: divide the weighted sum by this instead (gradient accumulation).
    """
    mc = _multiclass_inputs(input, target, weight, sample_weight, ignore_index, label_smoothing, reduction)
    loss = TF.cross_entropy(
        mc.x, mc.target, weight=mc.weight, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none"
    )
    return _reduce_multiclass(loss, mc, reduction, num_items, input)


def _log1m_softmax(x: Tensor, logp: Tensor) -> Tensor:
    """``log(1 - softmax(x))`` along dim 1, accurate and with finite gradients everywhere.

    For every class but the row's arg-max, ``p <= 1/2`` and ``log1p(-p)`` is well conditioned.
    For the arg-max class it is ``logsumexp`` over the other classes minus ``logsumexp`` over all.
    """
    lse = torch.logsumexp(x, dim=1, keepdim=True)
    top = x.argmax(dim=1, keepdim=True)
    is_top = torch.zeros_like(x, dtype=torch.bool).scatter_(1, top, True)
    floor = torch.finfo(x.dtype).min
    others = torch.logsumexp(x.masked_fill(is_top, floor), dim=1, keepdim=True) - lse
    p_safe = torch.where(is_top, torch.zeros_like(logp), logp.exp())
    return torch.where(is_top, others, torch.log1p(-p_safe))


def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
    weight: Tensor | None = None,
    sample_weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Softmax (multi-class) focal loss (Lin et al. 2017).

    .. math::
        \ell_i = -\sum_c \alpha_c\, w_c\, y'_{ic}\, (1 - p_{ic})^\gamma \log p_{ic},\qquad
        p_i = \operatorname{softmax}(x_i)

    with ``y'`` the (smoothed) target as in :func:`cross_entropy`. For a hard target this is the
    familiar :math:`-\alpha_t w_t (1 - p_t)^\gamma \log p_t`. ``gamma = 0`` with ``alpha=None``
    equals :func:`cross_entropy` exactly (same weights, smoothing, ignore_index and reduction).
    ``(1 - p)^gamma`` is ``exp(gamma * log(1 - p))`` with ``log(1 - p)`` computed without
    cancellation (see ``_log1m_softmax``), so gradients stay finite for ``gamma < 1`` at
    logits of ``+-1e4``.

    Args:
        input, target, weight, sample_weight, ignore_index, label_smoothing, reduction, num_items:
            as in :func:`cross_entropy` (class weights enter the mean's denominator).
        gamma: focusing parameter ``>= 0``.
        alpha: a scalar in ``[0, 1]`` (a constant factor) or per-class factors ``(C,)`` in
            ``[0, 1]``; not part of the denominator. ``None``: no alpha factor.
    """
    check_scalar_range("gamma", gamma, 0.0)
    mc = _multiclass_inputs(input, target, weight, sample_weight, ignore_index, label_smoothing, reduction)
    x = mc.x
    num_classes = x.shape[1]
    alpha_c = None
    if alpha is not None:
        if isinstance(alpha, Tensor) and alpha.dim() > 0:
            check_float("alpha", alpha)
            check_same_shape("alpha", alpha, (num_classes,), "one factor per class")
            check_values_in_range("alpha", alpha, 0.0, 1.0)
            alpha_c = _class_dim_view(alpha.to(x.dtype), x)
        else:
            check_scalar_range("alpha", float(alpha), 0.0, 1.0)
            alpha_c = float(alpha)
    if mc.hard and not label_smoothing:
        index = torch.where(mc.mask, mc.target, torch.zeros_like(mc.target)).unsqueeze(1)
        coef = None if mc.weight is None else mc.weight[index]
        if alpha_c is not None:
            a_t = alpha_c if isinstance(alpha_c, float) else alpha.to(x.dtype)[index]
            coef = a_t if coef is None else coef * a_t
            if isinstance(coef, float):
                coef = torch.full(index.shape, coef, dtype=x.dtype, device=x.device)
        loss = multiclass_focal_hard(x, index, coef, float(gamma))
    else:
        if mc.hard:
            safe = torch.where(mc.mask, mc.target, torch.zeros_like(mc.target))
            y = TF.one_hot(safe, num_classes).movedim(-1, 1).to(x.dtype)
        else:
            y = mc.target
        if label_smoothing:
            y = y * (1.0 - label_smoothing) + label_smoothing / num_classes
        logp = torch.log_softmax(x, dim=1)
        terms = y * logp
        if gamma:
            terms = terms * torch.exp(gamma * _log1m_softmax(x, logp))
        if mc.weight is not None:
            terms = terms * _class_dim_view(mc.weight, x)
        if alpha_c is not None:
            terms = terms * alpha_c
        loss = -terms.sum(dim=1)
    return _reduce_multiclass(loss, mc, reduction, num_items, input)
