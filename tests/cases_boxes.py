"""Registry cases for the box losses (IoU, GIoU, DIoU, CIoU)."""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase


def _boxes(n: int, gen: torch.Generator) -> torch.Tensor:
    """Valid xyxy boxes in float64: corner in [0, 10), width and height in [0.5, 5.5)."""
    corner = 10 * torch.rand(n, 2, generator=gen, dtype=torch.float64)
    size = 0.5 + 5 * torch.rand(n, 2, generator=gen, dtype=torch.float64)
    return torch.cat([corner, corner + size], dim=1)


def _pairs(n, dtype, gen):
    """Unrelated pairs: overlapping, nested and disjoint boxes all occur."""
    return (_boxes(n, gen).to(dtype), _boxes(n, gen).to(dtype)), {}


def _similar_pairs(n, dtype, gen):
    """Pairs with the same aspect ratio (shifted, scaled copies).

    CIoU treats its trade-off weight alpha as a constant in backward (as the paper does), so
    finite differences only agree with autograd where the aspect term v and its derivative
    vanish, i.e. for equal aspect ratios. The aspect term's gradient is checked against an
    independent reference in ``test_boxes.py``.
    """
    b1 = _boxes(n, gen)
    shift = 2 * torch.rand(n, 2, generator=gen, dtype=torch.float64) - 1
    scale = 0.5 + torch.rand(n, 1, generator=gen, dtype=torch.float64)
    corner = b1[:, :2] + shift
    b2 = torch.cat([corner, corner + scale * (b1[:, 2:] - b1[:, :2])], dim=1)
    return (b1.to(dtype), b2.to(dtype)), {}


_GOOD = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 3.0, 2.0]])


def _bad() -> list[BadInput]:
    inverted = torch.tensor([[0.0, 0.0, 1.0, 1.0], [3.0, 1.0, 1.0, 2.0]])  # x2 < x1
    nan = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, float("nan"), 3.0, 2.0]])
    return [
        BadInput("inverted-boxes1", lambda: ((inverted, _GOOD), {}), "boxes1"),
        BadInput("inverted-boxes2", lambda: ((_GOOD, inverted.flip(-1)), {}), "boxes2"),
        BadInput("nan-boxes2", lambda: ((_GOOD, nan), {}), "boxes2"),
        BadInput("not-4-coordinates", lambda: ((_GOOD[:, :3], _GOOD[:, :3]), {}), "boxes1"),
        BadInput("shape-mismatch", lambda: ((_GOOD, _GOOD[:1]), {}), "boxes2"),
        BadInput("integer-boxes", lambda: ((_GOOD.long(), _GOOD), {}), "boxes1"),
        BadInput("eps-zero", lambda: ((_GOOD, _GOOD), {"eps": 0.0}), "eps"),
        BadInput("reduction-typo", lambda: ((_GOOD, _GOOD), {"reduction": "avg"}), "reduction"),
    ]


CASES = [
    LossCase("iou_loss", losskit.iou_loss, _pairs, diff=(0, 1), module=(lnn.IoULoss, {}), bad=_bad()),
    LossCase("giou_loss", losskit.giou_loss, _pairs, diff=(0, 1), module=(lnn.GIoULoss, {"eps": 1e-6}), bad=_bad()),
    LossCase("diou_loss", losskit.diou_loss, _pairs, diff=(0, 1), module=(lnn.DIoULoss, {}), bad=_bad()),
    LossCase(
        "ciou_loss",
        losskit.ciou_loss,
        _similar_pairs,
        diff=(0, 1),
        module=(lnn.CIoULoss, {"reduction": "sum"}),
        bad=_bad(),
    ),
]
