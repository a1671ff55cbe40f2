"""Registry cases for the segmentation losses (Dice, Tversky, focal Tversky, Lovasz, Dice + CE).

The unreduced loss is one value per (image, class) pair; "mean" divides by the (weighted)
number of pairs that count, which the ``count`` functions below work out from the target alone.
"""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase

C = 3


def _randn(gen, *shape, dtype):
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _multiclass(n, dtype, gen):
    x = 2 * _randn(gen, n, C, 4, 4, dtype=dtype)
    t = torch.randint(0, C, (n, 4, 4), generator=gen)
    t[:, 0, :2] = -100  # some ignored pixels in every image
    if n > 2:
        t[1] = -100  # an all-ignored image
        t[2][t[2] == 2] = 0  # class 2 absent from image 2
    return (x, t), {}


def _multilabel(n, dtype, gen):
    x = 2 * _randn(gen, n, 2, 4, 4, dtype=dtype)
    y = (torch.rand(n, 2, 4, 4, generator=gen) > 0.6).to(dtype)
    if n > 1:
        y[0, 1] = 0  # label 1 absent from image 0
    return (x, y), {}


def _binary_ignored(n, dtype, gen):
    x = 2 * _randn(gen, n, 1, 4, 4, dtype=dtype)
    y = (torch.rand(n, 1, 4, 4, generator=gen) > 0.5).to(dtype)
    y[:, :, 0, 0] = -100
    return (x, y), {}


def _weighted(n, dtype, gen):
    args, _ = _multiclass(n, dtype, gen)
    return args, {"weight": torch.tensor([1.0, 2.0, 0.5], dtype=dtype), "classes": "all", "smooth": 1.0}


def _pairs(target, num_classes, present=True):
    """(N, C) bool: pairs with a valid pixel (and, for "present", a target pixel of the class)."""
    if target.dim() == 3:  # class indices (N, H, W)
        valid = (target != -100).flatten(1)
        hits = torch.stack([((target == c).flatten(1)).sum(1) for c in range(num_classes)], dim=1)
        return (hits > 0) if present else valid.any(1, keepdim=True).expand(-1, num_classes)
    valid = (target != -100).flatten(2)
    hits = ((target == 1).flatten(2) & valid).sum(2)
    return (hits > 0) if present else valid.any(2)


def _count_present(args, kwargs):
    return float(_pairs(args[1], args[0].shape[1]).sum())


def _count_valid(args, kwargs):
    return float(_pairs(args[1], args[0].shape[1], present=False).sum())


def _count_weighted_all(args, kwargs):
    pairs = _pairs(args[1], args[0].shape[1], present=False)
    return float((pairs * kwargs["weight"].double()).sum())


def _count_batch_present(args, kwargs):
    return float(_pairs(args[1], args[0].shape[1]).any(0).sum())


x = torch.randn(2, C, 4, 4)
t = torch.randint(0, C, (2, 4, 4))
mask = (torch.rand(2, C, 4, 4) > 0.5).float()

_BAD = [
    BadInput("index", lambda: ((x, torch.full((2, 4, 4), C)), {}), "target"),
    BadInput("target-shape", lambda: ((x, torch.zeros(2, 4, 5, dtype=torch.long)), {}), "target"),
    BadInput("mask-range", lambda: ((x, 2 * mask), {}), "target"),
    BadInput("float-indices", lambda: ((x, t.float()), {}), "target"),
    BadInput("one-class-indices", lambda: ((x[:, :1], t.clamp(max=0)), {}), "input"),
    BadInput("no-class-dim", lambda: ((torch.randn(4), torch.zeros(4)), {}), "input"),
    BadInput("weight-shape", lambda: ((x, t), {"weight": torch.ones(2)}), "weight"),
    BadInput("weight-negative", lambda: ((x, t), {"weight": -torch.ones(C)}), "weight"),
    BadInput("classes", lambda: ((x, t), {"classes": "absent"}), "classes"),
    BadInput("smooth", lambda: ((x, t), {"smooth": -1.0}), "smooth"),
    BadInput("reduction", lambda: ((x, t), {"reduction": "batchmean"}), "reduction"),
    BadInput("int-logits", lambda: ((t.unsqueeze(1).expand(2, C, 4, 4), t), {}), "input"),
]

CASES: list[LossCase] = [
    LossCase("dice", losskit.dice_loss, _multiclass, count=_count_present, module=(lnn.DiceLoss, {}), bad=_BAD),
    LossCase(
        "dice-all-weighted-smooth",
        losskit.dice_loss,
        _weighted,
        count=_count_weighted_all,
    ),
    LossCase("dice-multilabel", losskit.dice_loss, _multilabel, count=_count_present),
    LossCase(
        "dice-batch",
        lambda *a, **k: losskit.dice_loss(*a, batch=True, **k),
        _multiclass,
        count=_count_batch_present,
        batch_separable=False,
    ),
    LossCase(
        "tversky",
        losskit.tversky_loss,
        _multiclass,
        count=_count_present,
        module=(lnn.TverskyLoss, {"alpha": 0.3, "beta": 0.7}),
        bad=[
            BadInput("alpha", lambda: ((x, t), {"alpha": -0.1}), "alpha"),
            BadInput("beta", lambda: ((x, t), {"beta": float("nan")}), "beta"),
        ],
    ),
    LossCase(
        "focal_tversky",
        losskit.focal_tversky_loss,
        _multiclass,
        count=_count_present,
        module=(lnn.FocalTverskyLoss, {"gamma": 1.5}),
        bad=[BadInput("gamma", lambda: ((x, t), {"gamma": 0.0}), "gamma")],
    ),
    LossCase("focal_tversky-multilabel", losskit.focal_tversky_loss, _multilabel, count=_count_present),
    LossCase(
        "lovasz_softmax",
        losskit.lovasz_softmax_loss,
        _multiclass,
        count=_count_present,
        module=(lnn.LovaszSoftmaxLoss, {"classes": "all"}),
        bad=[BadInput("classes", lambda: ((x, t), {"classes": [0, 1]}), "classes")],
    ),
    LossCase(
        "lovasz_softmax-all",
        lambda *a, **k: losskit.lovasz_softmax_loss(*a, classes="all", **k),
        _multiclass,
        count=_count_valid,
    ),
    LossCase(
        "lovasz_hinge",
        losskit.lovasz_hinge_loss,
        _binary_ignored,
        count=_count_valid,
        module=(lnn.LovaszHingeLoss, {}),
        bad=[BadInput("class-indices", lambda: ((x, t), {}), "target")],
    ),
    LossCase("lovasz_hinge-multilabel", losskit.lovasz_hinge_loss, _multilabel, count=_count_valid),
    LossCase(
        "dice_ce",
        losskit.dice_ce_loss,
        _multiclass,
        reductions=False,
        module=(lnn.DiceCELoss, {"lambda_dice": 0.5, "lambda_ce": 2.0}),
        bad=[BadInput("lambda", lambda: ((x, t), {"lambda_ce": -1.0}), "lambda_ce")],
    ),
    LossCase("dice_ce-multilabel", losskit.dice_ce_loss, _multilabel, reductions=False),
]
