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
    as_class_indices,
    check_class_indices,
    check_float,
    check_ignore_index,
    check_input,
    check_input_after,
    check_label_smoothing,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_sample_weight,
    check_scalar_range,
    check_values_in_range,
    describe,
    reads_values,
)
from losskit.functional._focal_binary import binary_focal_elementwise
from losskit.functional._focal_multiclass import log1m_softmax, multiclass_focal_hard

__all__ = ["binary_cross_entropy_with_logits", "binary_focal_loss", "cross_entropy", "focal_loss"]


# --------------------------------------------------------------------------- binary / multi-label


def _binary_inputs(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    pos_weight: Tensor | None,
    label_smoothing: float,
    reduction: str,
    *,
    nan_after: bool = False,
):
    # nan_after: the caller reads NaN in `input` from its reduced result (check_input_after)
    if nan_after:
        check_float("input", input)
    else:
        check_input("input", input)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input)
    check_same_shape("target", target, input.shape, "the shape of `input`")
    check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    if target.is_complex():
        raise LossInputError("target", "a real tensor (0/1, bool or soft targets)", describe(target))
    dtype = compute_dtype(input)
    y = target.to(dtype)
    check_values_in_range("target", y, 0.0, 1.0)
    if pos_weight is not None:
        check_sample_weight("pos_weight", pos_weight, input.shape, "the shape of `input`", input)
    if weight is not None:
        check_sample_weight("weight", weight, input.shape, "the shape of `input`", input)
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
        target: 0/1 or soft targets in ``[0, 1]``, same shape (bool and integer tensors are
            accepted; a floating target that requires grad gets its gradient, as in PyTorch).
        weight: per-element weights broadcastable to ``(*)``.
        pos_weight: weight of the positive term, broadcastable to ``(*)`` (``(L,)`` for ``L``
            labels); ``n_neg / n_pos`` balances a label (see :func:`losskit.imbalance.pos_weight`).
        label_smoothing: ``eps`` in ``[0, 1)``.
        reduction: ``"mean"`` = ``sum(w l) / sum(w)``; note that PyTorch's weighted "mean" divides
            by the element count instead (identical without ``weight``).
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Matches :func:`torch.nn.functional.binary_cross_entropy_with_logits` for ``"none"``,
    ``"sum"`` and unweighted ``"mean"``.

    Example:
        >>> import torch, losskit
        >>> losskit.binary_cross_entropy_with_logits(torch.zeros(2), torch.tensor([1.0, 0.0]))  # log 2
        tensor(0.6931)
    """
    x, y, w, pw = _binary_inputs(input, target, weight, pos_weight, label_smoothing, reduction, nan_after=True)
    loss = TF.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    out = reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items)
    check_input_after(out, "input", input)  # a NaN logit makes "mean"/"sum" NaN: no extra pass
    return restore(out, input)


def binary_focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
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

    Every gradient is exact, second derivatives included (``create_graph=True``), and so are
    the gradients of learnable options: an ``alpha``, ``pos_weight``, ``weight`` or soft
    ``target`` that requires grad gets it (that call runs the plain autograd formula).

    Args:
        input: logits ``(*)``.
        target: 0/1 or soft targets in ``[0, 1]``, same shape (bool and integer tensors too).
        gamma: focusing parameter ``>= 0``.
        alpha: positive-class balance in ``[0, 1]`` (a number or a 0-d tensor) or ``None``.
        pos_weight, weight, label_smoothing, reduction, num_items: as in
            :func:`binary_cross_entropy_with_logits` (``alpha`` does not enter the mean's
            denominator; ``weight`` does).

    Example:
        >>> import torch, losskit
        >>> x, y = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 0, 1])
        >>> losskit.binary_focal_loss(x, y, gamma=0.0, label_smoothing=0.1)  # = BCE with smoothing
        tensor(0.3631)
    """
    check_scalar_range("gamma", gamma, 0.0)
    if isinstance(alpha, Tensor):
        check_float("alpha", alpha)
        if alpha.numel() != 1:
            raise LossInputError("alpha", "a number in [0, 1] or a one-element tensor", describe(alpha))
        check_same_device("alpha", alpha, input)
        check_values_in_range("alpha", alpha, 0.0, 1.0)
        alpha = alpha.reshape(()).to(compute_dtype(input))
    elif alpha is not None:
        check_scalar_range("alpha", alpha, 0.0, 1.0)
        alpha = float(alpha)
    x, y, w, pw = _binary_inputs(input, target, weight, pos_weight, label_smoothing, reduction)
    # The 0/1 kernel only for targets known to be 0/1 without smoothing: integer and bool
    # targets, or float ones read to be 0/1 when value checks run (never a device read otherwise).
    hard = not label_smoothing and (
        not target.is_floating_point()
        or (reads_values(y) and not y.requires_grad and bool(((y == 0) | (y == 1)).all()))
    )
    loss = binary_focal_elementwise(x, y, float(gamma), alpha, pw, hard)
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
    ignore_index: int | None,
    label_smoothing: float,
    reduction: str,
) -> _MultiClass:
    check_input("input", input)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input)
    check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    ignore_index = check_ignore_index(ignore_index)
    if input.dim() == 0:
        raise LossInputError("input", "logits of shape (N, C, ...) or (C,)", describe(input))
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    num_classes = x.shape[1]
    batch_shape = (x.shape[0], *x.shape[2:])
    hard = not target.is_floating_point()
    t = target.unsqueeze(0) if unbatched else target
    if hard:
        t = as_class_indices("target", t)
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
    if weight is not None:
        check_sample_weight("weight", weight, (num_classes,), "one weight per class", input)
        check_same_shape("weight", weight, (num_classes,), "one weight per class")
    if sample_weight is not None:
        if unbatched and isinstance(sample_weight, Tensor) and sample_weight.dim() == 0:
            sample_weight = sample_weight.reshape(1)
        check_sample_weight("sample_weight", sample_weight, batch_shape, f"the batch shape {batch_shape}", input)
    dtype = compute_dtype(input)
    mask = (t != ignore_index) if hard and ignore_index is not None else None
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


def _safe_index(mc: _MultiClass) -> Tensor:
    """Hard targets with ignored entries replaced by class 0 (their loss is masked anyway)."""
    return mc.target if mc.mask is None else torch.where(mc.mask, mc.target, torch.zeros_like(mc.target))


def _reduce_multiclass(loss: Tensor, mc: _MultiClass, reduction: str, num_items: NumItems, like: Tensor) -> Tensor:
    """Apply the shared rule: hard targets divide by the summed target-class weights."""
    denom = None
    if mc.hard and mc.weight is not None:
        denom = mc.weight[_safe_index(mc)]
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
    ignore_index: int | None = -100,
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
        ignore_index: target value that is ignored (hard targets); ``None``: none is.
        label_smoothing: ``eps`` in ``[0, 1)`` (the one rule of
            :func:`losskit._validation.check_label_smoothing`).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (shape ``(N, d1, ...)``).
        num_items: divide the weighted sum by this instead (gradient accumulation).

    A probability target that requires grad gets its gradient, as in PyTorch.

    Example:
        >>> import torch, losskit
        >>> losskit.cross_entropy(torch.zeros(2, 4), torch.tensor([1, 3]))  # log 4
        tensor(1.3863)
    """
    mc = _multiclass_inputs(input, target, weight, sample_weight, ignore_index, label_smoothing, reduction)
    target = _safe_index(mc) if mc.hard else mc.target  # ignored items are masked by the reduction
    loss = TF.cross_entropy(mc.x, target, weight=mc.weight, label_smoothing=label_smoothing, reduction="none")
    return _reduce_multiclass(loss, mc, reduction, num_items, input)


def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
    weight: Tensor | None = None,
    sample_weight: Tensor | None = None,
    ignore_index: int | None = -100,
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
    cancellation (see ``log1m_softmax``), so gradients stay finite for ``gamma < 1`` at
    logits of ``+-1e4``. Every gradient is exact, second derivatives included, and learnable
    class ``weight``, ``alpha`` or soft targets that require grad get their gradients.

    Args:
        input, target, weight, sample_weight, ignore_index, label_smoothing, reduction, num_items:
            as in :func:`cross_entropy` (class weights enter the mean's denominator).
        gamma: focusing parameter ``>= 0``.
        alpha: a scalar in ``[0, 1]`` (a constant factor, a number or 0-d tensor) or per-class
            factors ``(C,)`` in ``[0, 1]``; not part of the denominator. ``None``: no alpha factor.

    Example:
        >>> import torch, losskit
        >>> x, y = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
        >>> torch.allclose(losskit.focal_loss(x, y, gamma=0.0), losskit.cross_entropy(x, y))
        True
    """
    check_scalar_range("gamma", gamma, 0.0)
    mc = _multiclass_inputs(input, target, weight, sample_weight, ignore_index, label_smoothing, reduction)
    x = mc.x
    num_classes = x.shape[1]
    alpha_c: Tensor | None = None  # per-class factors (C,) or a 0-d factor, in x's dtype
    if isinstance(alpha, Tensor):
        check_float("alpha", alpha)
        check_same_device("alpha", alpha, input)
        if alpha.dim() > 0:
            check_same_shape("alpha", alpha, (num_classes,), "one factor per class")
        check_values_in_range("alpha", alpha, 0.0, 1.0)
        alpha_c = alpha.to(x.dtype)
    elif alpha is not None:
        check_scalar_range("alpha", alpha, 0.0, 1.0)
        alpha_c = torch.tensor(float(alpha), dtype=x.dtype, device=x.device)
    if mc.hard and not label_smoothing:
        index = _safe_index(mc).unsqueeze(1)
        coef = None if mc.weight is None else mc.weight[index]
        if alpha_c is not None:
            a_t = alpha_c[index] if alpha_c.dim() > 0 else alpha_c.expand(index.shape)
            coef = a_t if coef is None else coef * a_t
        loss = multiclass_focal_hard(x, index, coef, float(gamma))
    else:
        y = TF.one_hot(_safe_index(mc), num_classes).movedim(-1, 1).to(x.dtype) if mc.hard else mc.target
        if label_smoothing:
            y = y * (1.0 - label_smoothing) + label_smoothing / num_classes
        logp = torch.log_softmax(x, dim=1)
        terms = y * logp
        if gamma:
            terms = terms * torch.exp(gamma * log1m_softmax(x, logp))
        if mc.weight is not None:
            terms = terms * _class_dim_view(mc.weight, x)
        if alpha_c is not None:
            terms = terms * (_class_dim_view(alpha_c, x) if alpha_c.dim() > 0 else alpha_c)
        loss = -terms.sum(dim=1)
    return _reduce_multiclass(loss, mc, reduction, num_items, input)
