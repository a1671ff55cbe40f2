"""Registry cases for the multi-label losses: asymmetric loss and PolyLoss."""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase


def _randn(gen, *shape, dtype):
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _labels(n, dtype, gen):
    x = 2 * _randn(gen, n, 6, dtype=dtype)
    y = (torch.rand(n, 6, generator=gen) < 0.2).to(dtype)  # rare labels
    return (x, y), {}


def _labels_weighted(n, dtype, gen):
    (x, y), _ = _labels(n, dtype, gen)
    return (x, y), {"weight": torch.rand(n, 1, generator=gen, dtype=torch.float64).to(dtype) + 0.1}


def _weight_count(args, kwargs):
    return float(torch.broadcast_to(kwargs["weight"], args[0].shape).sum())


def _split_weighted(args, kwargs, index):
    return tuple(a[index] for a in args), {**kwargs, "weight": kwargs["weight"][index]}


def _multiclass(n, dtype, gen, c=5):
    x = 2 * _randn(gen, n, c, dtype=dtype)
    t = torch.randint(0, c, (n,), generator=gen)
    if n > 2:
        t[1] = -100
    return (x, t), {}


def _multiclass_weighted(n, dtype, gen):
    args, _ = _multiclass(n, dtype, gen)
    w = torch.tensor([1.0, 2.0, 0.5, 1.5, 3.0], dtype=dtype)
    return args, {"weight": w, "label_smoothing": 0.1}


def _valid(args, kwargs):
    return float((args[1] != -100).sum())


def _weighted_valid(args, kwargs):
    t = args[1]
    return float(kwargs["weight"].double()[t[t != -100]].sum())


x = torch.randn(4, 3)
y = torch.ones(4, 3)
logits, classes = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])

CASES: list[LossCase] = [
    LossCase(
        "asymmetric",
        losskit.asymmetric_loss,
        _labels,
        module=(lnn.AsymmetricLoss, {"gamma_pos": 1.0, "gamma_neg": 3.0, "clip": 0.1}),
        bad=[
            BadInput("gamma_neg", lambda: ((x, y), {"gamma_neg": -1.0}), "gamma_neg"),
            BadInput("gamma_pos", lambda: ((x, y), {"gamma_pos": float("nan")}), "gamma_pos"),
            BadInput("clip", lambda: ((x, y), {"clip": 1.0}), "clip"),
            BadInput("target-range", lambda: ((x, 2 * y), {}), "target"),
            BadInput("target-shape", lambda: ((x, torch.ones(4)), {}), "target"),
            BadInput("weight-shape", lambda: ((x, y), {"weight": torch.ones(5)}), "weight"),
        ],
    ),
    LossCase(
        "asymmetric-no-clip-gamma-below-1-weighted",
        lambda a, b, **k: losskit.asymmetric_loss(a, b, gamma_pos=0.5, gamma_neg=0.5, clip=0.0, **k),
        _labels_weighted,
        count=_weight_count,
        split=_split_weighted,
    ),
    LossCase(
        "poly",
        losskit.poly_loss,
        _multiclass,
        count=_valid,
        module=(lnn.PolyLoss, {"epsilon": 2.0}),
        bad=[
            BadInput("epsilon", lambda: ((logits, classes), {"epsilon": -2.0}), "epsilon"),
            BadInput("gamma", lambda: ((logits, classes), {"gamma": -1.0}), "gamma"),
            BadInput("alpha-without-gamma", lambda: ((logits, classes), {"alpha": 0.25}), "alpha"),
            BadInput("index", lambda: ((logits, torch.tensor([0, 1, 9, 2])), {}), "target"),
            BadInput("weight-shape", lambda: ((logits, classes), {"weight": torch.ones(3)}), "weight"),
        ],
    ),
    LossCase(
        "poly-focal-weighted-smoothing",
        lambda a, b, **k: losskit.poly_loss(a, b, epsilon=-0.5, gamma=2.0, alpha=0.25, **k),
        _multiclass_weighted,
        count=_weighted_valid,
    ),
]
