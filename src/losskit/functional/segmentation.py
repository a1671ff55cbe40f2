r"""Segmentation (dense prediction) losses on logits: Dice, Tversky, focal Tversky, Lovasz, Dice + CE.

Shapes and modes (the mode follows from the target's shape):

* **multi-class**: ``input`` logits ``(N, C, *spatial)`` with ``C >= 2``, ``target`` class
  indices ``(N, *spatial)``; probabilities are ``softmax(input, dim=1)``.
* **binary / multi-label**: ``target`` of ``input``'s shape ``(N, C, *spatial)`` (``C = 1`` for
  a binary mask), 0/1 (soft values in ``[0, 1]`` are accepted by the overlap losses);
  probabilities are ``sigmoid(input)``, one channel at a time.

The region losses are computed per **(image, class) pair** from soft counts over the pixels
that count (:math:`p` the probability, :math:`y` the target, ignored pixels excluded from every
sum):

.. math::
    TP = \sum p y,\qquad FP = \sum p (1 - y),\qquad FN = \sum (1 - p) y

``batch=True`` sums over the whole batch instead (one statistic per class, as
segmentation_models_pytorch does); ``batch=False`` (default, MONAI's default too) keeps one per
image, so that the loss of a batch is a sum over its images and ``num_items`` works for
gradient accumulation.

Which pairs count (``classes``):

* ``"present"`` (default): pairs whose target has at least one pixel of the class. A class
  absent from the target is **excluded** (it neither adds to the sum nor to what ``"mean"``
  divides by). segmentation_models_pytorch instead sets its loss to 0 but still divides by it.
* ``"all"``: every pair with at least one valid pixel. A class absent from both prediction and
  target then scores 1 (loss 0): the ratio ``0 / 0`` is defined as perfect agreement, never
  NaN, whatever ``smooth``.

A pair without a single valid pixel (an all-ignored image) never counts. ``"mean"`` follows the
shared rule (:func:`losskit._reduction.reduce_loss`): ``sum(w_c l) / sum(w_c)`` over the pairs
that count, with class weights ``w_c`` (default 1); ``"none"`` returns the ``(N, C)`` pair
losses (``(C,)`` with ``batch=True``), 0 where a pair does not count. An empty batch, or one
where nothing counts, gives 0 with the graph connected.

``smooth`` (default 0) is added to numerator and denominator of each ratio, as MONAI's
``smooth_nr = smooth_dr``; half-precision inputs are computed in float32.

References: Milletari et al. 2016 (V-Net, Dice); Salehi et al. 2017 (Tversky); Abraham & Khan
2019 (focal Tversky); Berman et al. 2018 (Lovasz-softmax and Lovasz hinge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    as_class_indices,
    check_bool,
    check_choice,
    check_class_indices,
    check_ignore_index,
    check_input,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_sample_weight,
    check_scalar_range,
    check_values_in_range,
    describe,
    reads_values,
)
from losskit.functional.classification import binary_cross_entropy_with_logits

__all__ = [
    "dice_ce_loss",
    "dice_loss",
    "focal_tversky_loss",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "tversky_loss",
]

CLASSES = ("present", "all")


@dataclass
class _Masks:
    """Validated segmentation inputs in compute dtype, flattened to ``(N, C, P)``."""

    x: Tensor  # logits (N, C, P)
    y: Tensor  # targets: (N, P) class indices (multi-class) or (N, C, P) values (multi-label)
    valid: Tensor | None  # (N, 1, P) or (N, C, P) bool; None when nothing is ignored
    multiclass: bool
    weight: Tensor | None  # (C,)


def _mask_inputs(
    input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int | None, reduction: str
) -> _Masks:
    check_input("input", input)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input)
    check_reduction(reduction)
    ignore_index = check_ignore_index(ignore_index)
    if input.dim() < 2:
        raise LossInputError("input", "logits of shape (N, C, *spatial)", describe(input))
    n, c = input.shape[:2]
    if target.requires_grad:
        raise LossInputError("target", "a tensor that does not require grad", describe(target))
    multiclass = target.dim() == input.dim() - 1
    if multiclass:
        target = as_class_indices("target", target)
        check_same_shape("target", target, (n, *input.shape[2:]), "class indices for `input` of shape (N, C, ...)")
        if c < 2:
            raise LossInputError(
                "input", "at least 2 classes for class-index targets (a binary mask: target shaped like input)", c
            )
        check_class_indices("target", target, c, ignore_index)
    else:
        if tuple(target.shape) != tuple(input.shape):
            raise LossInputError(
                "target",
                f"class indices of shape {(n, *input.shape[2:])} or a mask of shape {tuple(input.shape)}",
                describe(target),
            )
        if target.is_complex():
            raise LossInputError("target", "a real 0/1 mask", describe(target))
        if reads_values(target):
            kept = target if ignore_index is None else target[target != ignore_index]
            check_values_in_range("target", kept.double(), 0.0, 1.0)
    if weight is not None:
        check_sample_weight("weight", weight, (c,), "one weight per class", input)
        check_same_shape("weight", weight, (c,), "one weight per class")
    dtype = compute_dtype(input)
    npix = math.prod(input.shape[2:])
    x = upcast(input, dtype).reshape(n, c, npix)
    y = target.reshape(n, npix) if multiclass else target.reshape(n, c, npix)
    valid = None
    if ignore_index is not None:
        valid = y != ignore_index
        if reads_values(valid) and bool(valid.all()):
            valid = None  # nothing ignored: skip the masking
        elif multiclass:
            valid = valid.unsqueeze(1)
    if not multiclass:
        y = y.to(dtype)
    return _Masks(x=x, y=y, valid=valid, multiclass=multiclass, weight=upcast(weight, dtype))


def _probabilities(m: _Masks) -> Tensor:
    return torch.softmax(m.x, dim=1) if m.multiclass else torch.sigmoid(m.x)


def _counts(m: _Masks, batch: bool, p: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Soft ``TP``, ``sum p`` and ``sum y`` per (image, class), and the number of valid pixels."""
    if p is None:
        p = _probabilities(m)
    if m.valid is not None:
        p = p * m.valid
    sum_p = p.sum(-1)
    n, c, npix = p.shape
    if m.multiclass:
        index = m.y if m.valid is None else torch.where(m.valid[:, 0], m.y, torch.zeros_like(m.y))
        ones = torch.ones_like(p[:, 0]) if m.valid is None else m.valid[:, 0].to(p.dtype)
        zeros = torch.zeros(n, c, dtype=p.dtype, device=p.device)
        tp = zeros.scatter_add(1, index, p.gather(1, index.unsqueeze(1))[:, 0])
        sum_y = zeros.scatter_add(1, index, ones)
        pixels = ones.sum(-1, keepdim=True).expand(n, c)
    else:
        y = m.y if m.valid is None else torch.where(m.valid, m.y, torch.zeros_like(m.y))
        tp = (p * y).sum(-1)
        sum_y = y.sum(-1)
        pixels = (
            torch.full((n, c), float(npix), dtype=p.dtype, device=p.device)
            if m.valid is None
            else m.valid.to(p.dtype).sum(-1)
        )
    if batch:
        tp, sum_p, sum_y, pixels = (t.sum(0) for t in (tp, sum_p, sum_y, pixels))
    return tp, sum_p, sum_y, pixels


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with ``0 / 0`` defined as 1 (perfect agreement on an empty set), finite gradient."""
    empty = den == 0
    return torch.where(empty, torch.ones_like(num), num / torch.where(empty, torch.ones_like(den), den))


def _reduce_pairs(
    loss: Tensor,
    sum_y: Tensor,
    pixels: Tensor,
    m: _Masks,
    classes: str,
    reduction: str,
    num_items: NumItems,
    like: Tensor,
) -> Tensor:
    counts = pixels > 0
    if classes == "present":
        counts = counts & (sum_y > 0)
    w = None if m.weight is None else torch.broadcast_to(m.weight, loss.shape)
    return restore(reduce_loss(loss, reduction=reduction, weight=w, mask=counts, num_items=num_items), like)


def _check_region_options(smooth: float, classes: str) -> None:
    check_scalar_range("smooth", smooth, 0.0)
    check_choice("classes", classes, CLASSES)


def _tversky_index(m: _Masks, alpha: float, beta: float, smooth: float, batch: bool) -> tuple[Tensor, ...]:
    tp, sum_p, sum_y, pixels = _counts(m, batch)
    fp, fn = sum_p - tp, sum_y - tp
    return _ratio(tp + smooth, tp + alpha * fp + beta * fn + smooth), sum_y, pixels


def dice_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int | None = -100,
    smooth: float = 0.0,
    classes: str = "present",
    batch: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Soft Dice loss per (image, class) pair (Milletari et al. 2016).

    .. math::
        \ell_{nc} = 1 - \frac{2\,TP + s}{2\,TP + FP + FN + s}
                  = 1 - \frac{2 \sum p y + s}{\sum p + \sum y + s}

    Shapes, modes, which pairs count and what ``"mean"`` divides by: see the module docstring.

    Args:
        input: logits ``(N, C, *spatial)``.
        target: class indices ``(N, *spatial)`` (softmax over ``C``) or a mask shaped like
            ``input`` (sigmoid per channel; ``C = 1`` for binary).
        weight: per-class weights ``(C,)`` (multiply each pair's loss and its share of the mean).
        ignore_index: target value whose pixels are excluded from every sum (``None``: none).
        smooth: ``s >= 0`` added to numerator and denominator.
        classes: ``"present"`` (pairs whose target holds the class) or ``"all"``.
        batch: one Dice per class over the whole batch instead of one per image.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(N, C)``, or ``(C,)`` with ``batch``).
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Equals MONAI's ``DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=s, smooth_dr=s)`` with
    ``classes="all"`` and segmentation_models_pytorch's ``DiceLoss`` with ``batch=True`` on the
    classes present (smp counts absent classes as 0 in its mean).

    Example:
        >>> import torch, losskit
        >>> logits = torch.tensor([[[[4.0, -4.0]], [[-4.0, 4.0]]]])  # (N=1, C=2, 1, 2)
        >>> target = torch.tensor([[[0, 1]]])
        >>> round(losskit.dice_loss(logits, target).item(), 4)
        0.0003
    """
    check_bool("batch", batch)
    _check_region_options(smooth, classes)
    m = _mask_inputs(input, target, weight, ignore_index, reduction)
    return _dice(m, None, smooth, classes, batch, reduction, num_items, input)


def _dice(m: _Masks, p: Tensor | None, smooth, classes, batch, reduction, num_items, like: Tensor) -> Tensor:
    tp, sum_p, sum_y, pixels = _counts(m, batch, p)
    loss = 1.0 - _ratio(2.0 * tp + smooth, sum_p + sum_y + smooth)
    return _reduce_pairs(loss, sum_y, pixels, m, classes, reduction, num_items, like)


def tversky_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    weight: Tensor | None = None,
    ignore_index: int | None = -100,
    smooth: float = 0.0,
    classes: str = "present",
    batch: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Tversky loss per (image, class) pair (Salehi et al. 2017).

    .. math::
        \ell_{nc} = 1 - TI_{nc},\qquad TI = \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}

    ``alpha`` weighs false positives and ``beta`` false negatives (``beta > alpha`` favours
    recall); ``alpha = beta = 0.5`` is the Dice loss when ``smooth = 0``. Same convention as
    MONAI's and segmentation_models_pytorch's ``TverskyLoss``.

    Args:
        input, target, weight, ignore_index, smooth, classes, batch, reduction, num_items: as in
            :func:`dice_loss`.
        alpha: false-positive weight ``>= 0``.
        beta: false-negative weight ``>= 0``.

    Example:
        >>> import torch, losskit
        >>> logits = torch.zeros(1, 1, 2, 2)  # p = 0.5 everywhere, binary mask
        >>> target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
        >>> round(losskit.tversky_loss(logits, target, alpha=0.3, beta=0.7).item(), 4)  # TP 0.5, FP 1.5, FN 0.5
        0.6154
    """
    check_bool("batch", batch)
    check_scalar_range("alpha", alpha, 0.0)
    check_scalar_range("beta", beta, 0.0)
    _check_region_options(smooth, classes)
    m = _mask_inputs(input, target, weight, ignore_index, reduction)
    ti, sum_y, pixels = _tversky_index(m, alpha, beta, smooth, batch)
    return _reduce_pairs(1.0 - ti, sum_y, pixels, m, classes, reduction, num_items, input)


def focal_tversky_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 0.75,
    weight: Tensor | None = None,
    ignore_index: int | None = -100,
    smooth: float = 0.0,
    classes: str = "present",
    batch: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Focal Tversky loss per (image, class) pair (Abraham & Khan 2019).

    .. math::
        \ell_{nc} = (1 - TI_{nc})^{\gamma}

    with :math:`TI` as in :func:`tversky_loss`. The paper writes the exponent as ``1/gamma`` and
    recommends ``gamma = 4/3``: here ``gamma`` is the exponent itself (default ``0.75``). It is
    applied to every pair before the mean (segmentation_models_pytorch raises the *mean* to the
    power instead). ``gamma = 1`` is :func:`tversky_loss`. At a perfect pair (``TI = 1``) the
    gradient is taken as 0 (its limit is infinite for ``gamma < 1``).

    Args:
        input, target, weight, ignore_index, smooth, classes, batch, reduction, num_items: as in
            :func:`dice_loss`.
        alpha, beta: as in :func:`tversky_loss` (defaults 0.3 and 0.7, the paper's).
        gamma: exponent ``> 0``.

    Example:
        >>> import torch, losskit
        >>> logits = torch.zeros(1, 1, 2, 2)
        >>> target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
        >>> round(losskit.focal_tversky_loss(logits, target).item(), 4)  # (1 - 0.5 / 1.3) ** 0.75
        0.6948
    """
    check_bool("batch", batch)
    check_scalar_range("alpha", alpha, 0.0)
    check_scalar_range("beta", beta, 0.0)
    check_scalar_range("gamma", gamma, 0.0, low_inclusive=False)
    _check_region_options(smooth, classes)
    m = _mask_inputs(input, target, weight, ignore_index, reduction)
    ti, sum_y, pixels = _tversky_index(m, alpha, beta, smooth, batch)
    base = (1.0 - ti).clamp_min(0.0)
    zero = base == 0
    loss = torch.where(zero, torch.zeros_like(base), torch.where(zero, torch.ones_like(base), base) ** gamma)
    return _reduce_pairs(loss, sum_y, pixels, m, classes, reduction, num_items, input)


# --------------------------------------------------------------------------- Lovasz


# Elements per block of the Lovasz weights: the no-grad temporaries stay at a few of these.
_LOVASZ_BLOCK = 1 << 16


def _jaccard_increments(f: Tensor, v: Tensor | None) -> Tensor:
    """Increments of the Jaccard loss along sorted 0/1 targets ``f`` (``v``: valid, sorted alike)."""
    if v is not None:
        f = f * v
        outside = (v - f).cumsum_(-1)
    else:
        outside = (1.0 - f).cumsum_(-1)
    total = f.sum(-1, keepdim=True)
    union = outside.add_(total)
    union = torch.where(union == 0, 1.0, union)
    jaccard = f.cumsum(-1).sub_(total).div_(union).add_(1.0)  # 1 - (total - cum f) / union
    grad = torch.diff(jaccard, dim=-1, prepend=torch.zeros_like(jaccard[..., :1]))
    return grad if v is None else grad.mul_(v)


def _lovasz(errors: Tensor, fg: Tensor, valid: Tensor | None) -> Tensor:
    """Lovasz extension of the Jaccard loss along the last dim (Berman et al. 2018, Alg. 1).

    ``errors >= 0``, ``fg`` 0/1 (bool or float) and ``valid`` (or ``None``: all valid) of one
    shape ``(..., P)``; returns ``(...)``. The loss is ``sum_i w_i e_i`` with weights ``w`` that
    depend on the order of the errors only, so they are computed without autograd (a block of
    rows at a time) and put back in the pixels' own order: the gradient is ``w``, and neither
    the sorted errors nor the sort indices are kept for the backward pass. Invalid pixels get
    weight 0.
    """
    npix = errors.shape[-1]
    weights = torch.empty_like(errors)
    with torch.no_grad():
        e_rows, fg_rows = errors.reshape(-1, npix), fg.reshape(-1, npix)
        valid_rows = None if valid is None else valid.reshape(-1, npix)
        w_rows = weights.view(-1, npix)
        step = max(1, _LOVASZ_BLOCK // max(1, npix))
        for i in range(0, e_rows.shape[0], step):
            key = e_rows[i : i + step]
            if valid_rows is not None:
                key = torch.where(valid_rows[i : i + step], key, -1.0)  # invalid pixels last
            idx = key.argsort(dim=-1, descending=True)
            v = None if valid_rows is None else valid_rows[i : i + step].gather(-1, idx).to(errors.dtype)
            sorted_weights = _jaccard_increments(fg_rows[i : i + step].gather(-1, idx).to(errors.dtype), v)
            w_rows[i : i + step].scatter_(-1, idx, sorted_weights)
    return (errors * weights).sum(-1)


def _flatten_batch(t: Tensor) -> Tensor:
    """``(N, C, P) -> (1, C, N * P)``: one sequence per class over the whole batch."""
    return t.transpose(0, 1).reshape(1, t.shape[1], -1)


def lovasz_softmax_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int | None = -100,
    classes: str = "present",
    batch: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Lovasz-softmax loss per (image, class) pair (Berman et al. 2018).

    .. math::
        \ell_{nc} = \overline{\Delta_{J_c}}\bigl(m_c\bigr),\qquad m_{c,i} = |y_{c,i} - p_{c,i}|

    the Lovasz extension of the Jaccard loss of class ``c`` evaluated at the pixel errors
    ``m`` (errors sorted in decreasing order, dotted with the Jaccard-loss increments). ``p``
    is ``softmax`` for class-index targets and ``sigmoid`` per channel for a mask shaped like
    ``input`` (0/1 values). Berman's reference averages over images of per-image class means;
    here every (image, class) pair that counts has the same share (identical when every image
    has the same number of classes present).

    Args:
        input, target, weight, ignore_index, classes, batch, reduction, num_items: as in
            :func:`dice_loss` (``batch=True`` is the reference's ``per_image=False``).

    Example:
        >>> import torch, losskit
        >>> logits = torch.tensor([[[[2.0, -2.0]], [[-2.0, 2.0]]]])
        >>> round(losskit.lovasz_softmax_loss(logits, torch.tensor([[[0, 1]]])).item(), 4)
        0.018
    """
    check_bool("batch", batch)
    check_choice("classes", classes, CLASSES)
    m = _mask_inputs(input, target, weight, ignore_index, reduction)
    x, y, valid = m.x, m.y, m.valid
    if batch:  # one sequence per class over the whole batch: regroup the logits once
        x = _flatten_batch(x)
        if m.multiclass:
            y, valid = y.reshape(1, -1), None if valid is None else valid.reshape(1, 1, -1)
        else:
            y, valid = _flatten_batch(y), None if valid is None else _flatten_batch(valid)
    if m.multiclass:
        p = torch.softmax(x, dim=1)
        index = y if valid is None else torch.where(valid[:, 0], y, torch.zeros_like(y))
        fg = torch.zeros_like(p, dtype=torch.bool).scatter_(1, index.unsqueeze(1), True)
        errors = torch.where(fg, 1.0 - p, p)  # |1{y = c} - p_c|
    else:
        p = torch.sigmoid(x)
        fg = y if valid is None else torch.where(valid, y, torch.zeros_like(y))
        errors = (fg - p).abs()
    if valid is not None:
        valid = valid.expand(p.shape)
        fg = fg & valid if fg.dtype == torch.bool else fg
    loss = _lovasz(errors, fg, valid)
    sum_y = fg.sum(-1).to(p.dtype)
    pixels = torch.full_like(sum_y, p.shape[-1]) if valid is None else valid.sum(-1).to(p.dtype)
    if batch:
        loss, sum_y, pixels = loss[0], sum_y[0], pixels[0]
    return _reduce_pairs(loss, sum_y, pixels, m, classes, reduction, num_items, input)


def lovasz_hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int | None = -100,
    batch: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Lovasz hinge loss for binary and multi-label masks, per (image, channel) (Berman et al. 2018).

    .. math::
        \ell_{nc} = \overline{\Delta_{J}}\bigl(\max(0, 1 - x_i \sigma_i)\bigr),\qquad \sigma_i = 2 y_i - 1

    on the raw logits ``x`` (no sigmoid), with ``target`` 0/1 shaped like ``input``
    ``(N, C, *spatial)``. Every pair with a valid pixel counts, also one whose target is empty
    (then it penalises the largest false-positive margin), as in the reference.

    Args:
        input: logits ``(N, C, *spatial)`` (``C = 1`` for a binary mask).
        target: 0/1 mask shaped like ``input``; ``ignore_index`` marks ignored pixels.
        weight, ignore_index, batch, reduction, num_items: as in :func:`dice_loss`
            (``batch=True`` is the reference's ``per_image=False``).

    Example:
        >>> import torch, losskit
        >>> logits = torch.tensor([[[[3.0, -1.0, 0.5]]]])
        >>> target = torch.tensor([[[[1.0, 0.0, 1.0]]]])
        >>> losskit.lovasz_hinge_loss(logits, target).item()  # hinge errors 0, 0, 0.5: only the last
        0.25
    """
    check_bool("batch", batch)
    if isinstance(target, Tensor) and isinstance(input, Tensor) and target.dim() != input.dim():
        raise LossInputError("target", f"a 0/1 mask of shape {tuple(input.shape)}", describe(target))
    m = _mask_inputs(input, target, weight, ignore_index, reduction)
    fg = m.y if m.valid is None else torch.where(m.valid, m.y, torch.zeros_like(m.y))
    valid = m.valid
    errors = torch.relu(1.0 - m.x * (2.0 * fg - 1.0))
    if batch:
        errors, fg = _flatten_batch(errors), _flatten_batch(fg)
        valid = None if valid is None else _flatten_batch(valid)
    loss = _lovasz(errors, fg, valid)
    pixels = torch.full_like(loss, fg.shape[-1]) if valid is None else valid.sum(-1)
    if batch:
        loss, pixels = loss[0], pixels[0]
    return _reduce_pairs(loss, pixels, pixels, m, "all", reduction, num_items, input)


# --------------------------------------------------------------------------- Dice + CE


def dice_ce_loss(
    input: Tensor,
    target: Tensor,
    *,
    lambda_dice: float = 1.0,
    lambda_ce: float = 1.0,
    weight: Tensor | None = None,
    ignore_index: int | None = -100,
    smooth: float = 0.0,
    classes: str = "present",
    batch: bool = False,
    reduction: str = "mean",
) -> Tensor:
    r"""Dice + cross-entropy, the common segmentation objective (as MONAI's ``DiceCELoss``).

    .. math::
        \ell = \lambda_{dice}\, \mathrm{Dice} + \lambda_{ce}\, \mathrm{CE}

    with :func:`dice_loss` (mean over the pairs that count) and the cross-entropy of
    :func:`losskit.cross_entropy` for class-index targets (from the same log-softmax as the
    Dice probabilities) or :func:`losskit.binary_cross_entropy_with_logits` for a mask (mean
    over the valid pixels). Both use the same class ``weight`` and ``ignore_index``.
    The two terms are reduced over different items (pairs and pixels), so the result is a
    scalar: ``reduction="mean"`` combines the two means, ``"sum"`` the two sums; there is no
    ``"none"`` and no ``num_items`` (for gradient accumulation combine :func:`dice_loss` and
    :func:`losskit.cross_entropy` yourself, each with its own ``num_items``).

    Args:
        input, target, weight, ignore_index, smooth, classes, batch: as in :func:`dice_loss`.
        lambda_dice, lambda_ce: non-negative weights of the two terms.
        reduction: ``"mean"`` or ``"sum"``.

    Example:
        >>> import torch, losskit
        >>> logits = torch.tensor([[[[4.0, -4.0]], [[-4.0, 4.0]]]])
        >>> round(losskit.dice_ce_loss(logits, torch.tensor([[[0, 1]]])).item(), 4)
        0.0007
    """
    check_bool("batch", batch)
    check_scalar_range("lambda_dice", lambda_dice, 0.0)
    check_scalar_range("lambda_ce", lambda_ce, 0.0)
    _check_region_options(smooth, classes)
    check_choice("reduction", reduction, ("mean", "sum"))
    m = _mask_inputs(input, target, weight, ignore_index, reduction)
    if m.multiclass:
        # one log-softmax for both terms: the Dice probabilities and the cross-entropy
        log_p = torch.log_softmax(m.x, dim=1)
        dice = _dice(m, log_p.exp(), smooth, classes, batch, reduction, None, input)
        valid = None if m.valid is None else m.valid[:, 0]
        index = m.y if valid is None else torch.where(valid, m.y, torch.zeros_like(m.y))
        nll = -log_p.gather(1, index.unsqueeze(1))[:, 0]
        w = None if m.weight is None else m.weight[index]
        ce = restore(reduce_loss(nll, reduction=reduction, weight=w, mask=valid), input)
    else:
        dice = _dice(m, None, smooth, classes, batch, reduction, None, input)
        valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
        w = valid.to(compute_dtype(input))
        if weight is not None:
            w = w * weight.to(w.dtype).reshape(1, -1, *([1] * (input.dim() - 2)))
        y = torch.where(valid, target, torch.zeros_like(target))
        ce = binary_cross_entropy_with_logits(input, y, weight=w, reduction=reduction)
    return lambda_dice * dice + lambda_ce * ce
