r"""Bounding-box regression losses: IoU, GIoU, DIoU and CIoU for paired boxes.

Boxes are ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``; ``boxes1`` and ``boxes2``
have the same shape ``(*, 4)`` (usually ``(N, 4)``) and box ``i`` of one is compared with box
``i`` of the other. The unreduced loss has shape ``(*)``.

With intersection :math:`I`, union :math:`U`, smallest enclosing box :math:`C` (area
:math:`|C|`, squared diagonal :math:`c^2`), squared distance of the centres :math:`\rho^2`,
and ``eps`` (:math:`\varepsilon`):

.. math::
    \mathrm{IoU} &= (I + \varepsilon) / (U + \varepsilon) \\
    \ell_\mathrm{IoU} &= 1 - \mathrm{IoU} \\
    \ell_\mathrm{GIoU} &= 1 - \mathrm{IoU} + (|C| - U) / (|C| + \varepsilon) \\
    \ell_\mathrm{DIoU} &= 1 - \mathrm{IoU} + \rho^2 / (c^2 + \varepsilon) \\
    \ell_\mathrm{CIoU} &= \ell_\mathrm{DIoU} + \alpha v \\
    v &= \tfrac{4}{\pi^2}\big(\arctan\tfrac{w_2}{h_2 + \varepsilon} - \arctan\tfrac{w_1}{h_1 + \varepsilon}\big)^2 \\
    \alpha &= \frac{v}{1 - \mathrm{IoU} + v + \varepsilon}

These are the formulas of torchvision's ``box_iou``/``generalized_box_iou_loss``/
``distance_box_iou_loss``/``complete_box_iou_loss`` (Rezatofighi et al. 2019, "Generalized
Intersection over Union"; Zheng et al. 2020, "Distance-IoU Loss"), with these differences:

* ``eps`` reaches every division, including the aspect ratios ``w / h`` of CIoU (torchvision
  divides by ``h`` directly, so a zero-height box gives inf/NaN gradients);
* the IoU is smoothed in its numerator too, :math:`(I + \varepsilon) / (U + \varepsilon)`
  (torchvision: :math:`I / (U + \varepsilon)`; the two differ by less than
  :math:`\varepsilon / U`). This makes every loss continuous in the boxes: a pair of
  *identical* boxes has IoU exactly 1 and every loss exactly 0, including zero-area boxes, and
  two zero-area boxes a hair apart stay near 0 (with :math:`I / (U + \varepsilon)` they jump
  to 1; torchvision's GIoU gives 1 even for identical zero-area boxes, pytorch/vision#7746);
* at exactly degenerate configurations, where an eps-regularised ratio has a slope of order
  :math:`1/\varepsilon` (which overflows float16 gradients), the term keeps its value but is
  held constant: the IoU of two zero-area boxes (1),
  the GIoU penalty when the enclosing box has zero area, and the CIoU aspect angle of a point
  box (0). Zero-width or zero-height boxes therefore give finite values and gradients in every
  dtype;
* inverted boxes (``x2 < x1`` or ``y2 < y1``) raise :class:`losskit.LossInputError` while
  value validation is on (torchvision documents the contract but does not check it).

As in torchvision and the DIoU paper, :math:`\alpha` is a trade-off weight and is not
differentiated. Half-precision boxes are computed in float32 and the result is returned in
the input dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_finite,
    check_input,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_scalar_range,
    reads_values,
)

__all__ = ["ciou_loss", "diou_loss", "giou_loss", "iou_loss"]


def _check_boxes(name: str, boxes: Tensor) -> None:
    check_finite(name, boxes)
    if not reads_values(boxes):
        return
    x1, y1, x2, y2 = boxes.detach().unbind(-1)
    inverted = (x2 < x1) | (y2 < y1)
    if bool(inverted.any()):
        index = inverted.reshape(-1).nonzero()[:5].flatten().tolist()
        raise LossInputError(
            name,
            "boxes in (x1, y1, x2, y2) form with x1 <= x2 and y1 <= y2",
            f"{int(inverted.sum())} inverted boxes (flat indices {index}{', ...' if inverted.sum() > 5 else ''})",
        )


def _prepare(boxes1: Tensor, boxes2: Tensor, eps: float, reduction: str) -> tuple[Tensor, Tensor]:
    check_input("boxes1", boxes1)
    check_input("boxes2", boxes2)
    if boxes1.dim() == 0 or boxes1.shape[-1] != 4:
        raise LossInputError("boxes1", "of shape (*, 4) in (x1, y1, x2, y2) form", f"shape {tuple(boxes1.shape)}")
    check_same_device("boxes2", boxes2, boxes1, "boxes1")
    check_same_shape("boxes2", boxes2, boxes1.shape, "the shape of `boxes1`")
    check_scalar_range("eps", eps, 0.0, math.inf, low_inclusive=False)
    check_reduction(reduction)
    _check_boxes("boxes1", boxes1)
    _check_boxes("boxes2", boxes2)
    dtype = torch.promote_types(compute_dtype(boxes1), compute_dtype(boxes2))
    return upcast(boxes1, dtype), upcast(boxes2, dtype)


class _Geometry:
    """The shared quantities of one batch of box pairs (all of shape ``(*)``)."""

    def __init__(self, b1: Tensor, b2: Tensor, eps: float) -> None:
        x1a, y1a, x2a, y2a = b1.unbind(-1)
        x1b, y1b, x2b, y2b = b2.unbind(-1)
        self.eps = eps
        self.w1, self.h1 = x2a - x1a, y2a - y1a
        self.w2, self.h2 = x2b - x1b, y2b - y1b
        inter_w = (torch.minimum(x2a, x2b) - torch.maximum(x1a, x1b)).clamp(min=0)
        inter_h = (torch.minimum(y2a, y2b) - torch.maximum(y1a, y1b)).clamp(min=0)
        inter = inter_w * inter_h
        self.union = self.w1 * self.h1 + self.w2 * self.h2 - inter
        # The eps-smoothed ratio (I + eps) / (U + eps) is continuous everywhere: identical boxes
        # give exactly 1 (I == U in floating point), and so do nearly identical zero-area boxes
        # (I / (U + eps) would jump from 1 to 0 there). Two zero-area boxes (U = 0) keep the
        # value 1 without a gradient: the slope there would be of order 1 / eps (1e7, which
        # overflows float16).
        ratio = (inter + eps) / (self.union + eps)
        self.iou = torch.where(self.union > 0, ratio, torch.ones_like(ratio).detach())
        # Smallest enclosing box.
        self.enc_w = torch.maximum(x2a, x2b) - torch.minimum(x1a, x1b)
        self.enc_h = torch.maximum(y2a, y2b) - torch.minimum(y1a, y1b)
        self._corners = (x1a, y1a, x2a, y2a, x1b, y1b, x2b, y2b)

    def giou_penalty(self) -> Tensor:
        area_c = self.enc_w * self.enc_h
        # |C| = 0 means U = 0 too: the penalty is 0 / eps, held constant (see the IoU above).
        penalty = (area_c - self.union) / (area_c + self.eps)
        return torch.where(area_c > 0, penalty, torch.zeros_like(penalty))

    def diou_penalty(self) -> Tensor:
        x1a, y1a, x2a, y2a, x1b, y1b, x2b, y2b = self._corners
        centre_dx = (x1b + x2b - x1a - x2a) / 2
        centre_dy = (y1b + y2b - y1a - y2a) / 2
        diagonal2 = self.enc_w**2 + self.enc_h**2
        return (centre_dx**2 + centre_dy**2) / (diagonal2 + self.eps)

    def _aspect_angle(self, w: Tensor, h: Tensor) -> Tensor:
        # A point (w = h = 0) has no aspect ratio: angle 0 (the value of atan(0 / eps)), held
        # constant, since d/dw atan(w / (h + eps)) = 1 / eps there.
        angle = torch.atan(w / (h + self.eps))
        return torch.where((w > 0) | (h > 0), angle, torch.zeros_like(angle))

    def ciou_penalty(self) -> Tensor:
        angle1 = self._aspect_angle(self.w1, self.h1)
        angle2 = self._aspect_angle(self.w2, self.h2)
        v = (4 / math.pi**2) * (angle2 - angle1) ** 2
        with torch.no_grad():
            alpha = v / (1 - self.iou + v + self.eps)
        return alpha * v


def _finish(loss: Tensor, like: Tensor, reduction: str, num_items: NumItems) -> Tensor:
    return restore(reduce_loss(loss, reduction=reduction, num_items=num_items), like)


def iou_loss(
    boxes1: Tensor,
    boxes2: Tensor,
    *,
    eps: float = 1e-7,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""IoU loss :math:`1 - (I + \varepsilon) / (U + \varepsilon)` of paired xyxy boxes.

    Args:
        boxes1: boxes ``(*, 4)`` as ``(x1, y1, x2, y2)``, e.g. predictions ``(N, 4)``.
        boxes2: boxes of the same shape, e.g. targets.
        eps: ``> 0``, added to every denominator.
        reduction: ``"mean"`` (over boxes), ``"sum"`` or ``"none"`` (shape ``(*)``).
        num_items: divide the sum by this instead of the number of boxes (gradient accumulation).

    In ``[0, 1]``; 0 for identical boxes, 1 for disjoint ones (no gradient there: use GIoU or
    DIoU). See the module docstring for the exact formulas.

    Example:
        >>> import torch, losskit
        >>> losskit.iou_loss(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([[0.0, 0.0, 2.0, 2.0]]))
        tensor(0.7500)
    """
    b1, b2 = _prepare(boxes1, boxes2, eps, reduction)
    g = _Geometry(b1, b2, eps)
    return _finish(1 - g.iou, boxes1, reduction, num_items)


def giou_loss(
    boxes1: Tensor,
    boxes2: Tensor,
    *,
    eps: float = 1e-7,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Generalized IoU loss (Rezatofighi et al. 2019): :math:`1 - \mathrm{IoU} + (|C| - U) / (|C| + \varepsilon)`.

    ``C`` is the smallest box enclosing both. In ``[0, 2)``; unlike IoU it still has a gradient
    for disjoint boxes. Arguments as :func:`iou_loss`.

    Example:
        >>> import torch, losskit
        >>> # disjoint unit boxes one unit apart: IoU 0, enclosing area 3, union 2 -> 1 + 1/3
        >>> losskit.giou_loss(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([[2.0, 0.0, 3.0, 1.0]]))
        tensor(1.3333)
    """
    b1, b2 = _prepare(boxes1, boxes2, eps, reduction)
    g = _Geometry(b1, b2, eps)
    return _finish(1 - g.iou + g.giou_penalty(), boxes1, reduction, num_items)


def diou_loss(
    boxes1: Tensor,
    boxes2: Tensor,
    *,
    eps: float = 1e-7,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Distance-IoU loss (Zheng et al. 2020): :math:`1 - \mathrm{IoU} + \rho^2 / (c^2 + \varepsilon)`.

    :math:`\rho` is the distance between the box centres and :math:`c` the diagonal of the
    smallest enclosing box. In ``[0, 2)``. Arguments as :func:`iou_loss`.

    Example:
        >>> import torch, losskit
        >>> a, b = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
        >>> losskit.diou_loss(a, b)  # 1 - IoU (1/7) + centre distance^2 / diagonal^2 (2/18)
        tensor(0.9683)
    """
    b1, b2 = _prepare(boxes1, boxes2, eps, reduction)
    g = _Geometry(b1, b2, eps)
    return _finish(1 - g.iou + g.diou_penalty(), boxes1, reduction, num_items)


def ciou_loss(
    boxes1: Tensor,
    boxes2: Tensor,
    *,
    eps: float = 1e-7,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Complete-IoU loss (Zheng et al. 2020): DIoU plus an aspect-ratio term :math:`\alpha v`.

    :math:`v = \frac{4}{\pi^2}(\arctan\frac{w_2}{h_2 + \varepsilon} - \arctan\frac{w_1}{h_1 +
    \varepsilon})^2` and :math:`\alpha = v / (1 - \mathrm{IoU} + v + \varepsilon)`, which is
    treated as a constant in the backward pass (as in the paper and torchvision). Finite
    values and gradients for zero-width or zero-height boxes. Arguments as :func:`iou_loss`.

    Example:
        >>> import torch, losskit
        >>> a, b = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
        >>> losskit.ciou_loss(a, b)  # same aspect ratio: equals the DIoU loss
        tensor(0.9683)
    """
    b1, b2 = _prepare(boxes1, boxes2, eps, reduction)
    g = _Geometry(b1, b2, eps)
    return _finish(1 - g.iou + g.diou_penalty() + g.ciou_penalty(), boxes1, reduction, num_items)
