"""Registry cases for the core regression and classification losses."""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase


def _randn(gen, *shape, dtype=torch.float32):
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _reg(n, dtype, gen):
    return (_randn(gen, n, 3, dtype=dtype), _randn(gen, n, 3, dtype=dtype)), {}


def _reg_weighted(n, dtype, gen):
    args, _ = _reg(n, dtype, gen)
    w = torch.rand(n, 1, generator=gen, dtype=torch.float64).to(dtype) + 0.1
    return args, {"weight": w}


def _binary(n, dtype, gen):
    x = 2 * _randn(gen, n, 4, dtype=dtype)
    y = (torch.rand(n, 4, generator=gen) > 0.5).to(dtype)
    return (x, y), {}


def _binary_full(n, dtype, gen):
    (x, y), _ = _binary(n, dtype, gen)
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=dtype)
    return (x, y), {"pos_weight": pw, "label_smoothing": 0.1}


def _multiclass(n, dtype, gen, c=5):
    x = 2 * _randn(gen, n, c, dtype=dtype)
    t = torch.randint(0, c, (n,), generator=gen)
    if n > 2:
        t[1] = -100
    return (x, t), {}


def _multiclass_weighted(n, dtype, gen):
    (x, t), _ = _multiclass(n, dtype, gen)
    w = torch.tensor([1.0, 2.0, 0.5, 1.5, 3.0], dtype=dtype)
    return (x, t), {"weight": w, "label_smoothing": 0.1}


def _segmentation(n, dtype, gen):
    x = _randn(gen, n, 3, 2, 2, dtype=dtype)
    t = torch.randint(0, 3, (n, 2, 2), generator=gen)
    return (x, t), {}


def _soft(n, dtype, gen):
    x = _randn(gen, n, 4, dtype=dtype)
    p = torch.softmax(_randn(gen, n, 4), dim=1).to(dtype)
    return (x, p), {}


def _pinball(n, dtype, gen):
    return (_randn(gen, n, 3, dtype=dtype), _randn(gen, n, dtype=dtype)), {"quantiles": [0.1, 0.5, 0.9]}


def _valid(args, kwargs):
    t = args[1]
    return float((t != -100).sum())


def _weighted_count(args, kwargs):
    t = args[1]
    w = kwargs["weight"].double()
    valid = t != -100
    return float(w[t[valid]].sum())


def _reg_weight_count(args, kwargs):
    return float(torch.broadcast_to(kwargs["weight"], args[0].shape).sum())


def _split_weighted(args, kwargs, index):
    out = tuple(a[index] for a in args)
    kw = dict(kwargs)
    kw["weight"] = kwargs["weight"][index]
    return out, kw


def _bad(label, argument, fn):
    return BadInput(label, fn, argument)


x4 = torch.randn(4, 3)
logits = torch.randn(4, 5)
classes = torch.tensor([0, 1, 2, 3])

_REG_BAD = [
    _bad("shape", "target", lambda: ((x4, torch.randn(4, 2)), {})),
    _bad("int-input", "input", lambda: ((torch.ones(4, 3, dtype=torch.long), x4), {})),
    _bad("reduction", "reduction", lambda: ((x4, x4), {"reduction": "avg"})),
    _bad("weight-shape", "weight", lambda: ((x4, x4), {"weight": torch.ones(5)})),
]

CASES: list[LossCase] = [
    LossCase("mse", losskit.mse_loss, _reg, module=(lnn.MSELoss, {}), bad=_REG_BAD),
    LossCase(
        "mse-weighted",
        losskit.mse_loss,
        _reg_weighted,
        count=lambda a, k: _reg_weight_count(a, k),
        split=_split_weighted,
    ),
    LossCase("mae", losskit.mae_loss, _reg, module=(lnn.MAELoss, {}), bad=_REG_BAD),
    LossCase(
        "huber",
        losskit.huber_loss,
        _reg,
        module=(lnn.HuberLoss, {"delta": 0.7}),
        bad=[_bad("delta", "delta", lambda: ((x4, x4), {"delta": 0.0}))],
    ),
    LossCase(
        "smooth_l1",
        losskit.smooth_l1_loss,
        _reg,
        module=(lnn.SmoothL1Loss, {"beta": 0.5}),
        bad=[_bad("beta", "beta", lambda: ((x4, x4), {"beta": -1.0}))],
    ),
    LossCase("log_cosh", losskit.log_cosh_loss, _reg, module=(lnn.LogCoshLoss, {})),
    LossCase(
        "pinball",
        losskit.pinball_loss,
        _pinball,
        module=None,
        bad=[
            _bad("q-range", "quantiles", lambda: ((x4, torch.randn(4)), {"quantiles": [0.1, 0.5, 1.0]})),
            _bad("q-count", "quantiles", lambda: ((x4, torch.randn(4)), {"quantiles": [0.1, 0.5]})),
            _bad("target-shape", "target", lambda: ((x4, torch.randn(4, 3)), {"quantiles": [0.1, 0.5, 0.9]})),
            _bad(
                "monotone-order",
                "quantiles",
                lambda: ((x4, torch.randn(4)), {"quantiles": [0.9, 0.5, 0.1], "monotone": True}),
            ),
        ],
    ),
    LossCase(
        "pinball-monotone",
        lambda x, y, **k: losskit.pinball_loss(x, y, [0.1, 0.5, 0.9], monotone=True, **k),
        lambda n, d, g: (_pinball(n, d, g)[0], {}),
        module=(lambda **k: lnn.PinballLoss([0.1, 0.5, 0.9], monotone=True, **k), {}),
    ),
    LossCase(
        "bce",
        losskit.binary_cross_entropy_with_logits,
        _binary,
        module=(lnn.BCEWithLogitsLoss, {"label_smoothing": 0.05}),
        bad=[
            _bad("target-range", "target", lambda: ((x4, torch.full((4, 3), 2.0)), {})),
            _bad("target-shape", "target", lambda: ((x4, torch.ones(4)), {})),
            _bad("smoothing", "label_smoothing", lambda: ((x4, torch.ones(4, 3)), {"label_smoothing": 1.0})),
            _bad("pos_weight", "pos_weight", lambda: ((x4, torch.ones(4, 3)), {"pos_weight": torch.ones(2)})),
            _bad("pos_weight-neg", "pos_weight", lambda: ((x4, torch.ones(4, 3)), {"pos_weight": -torch.ones(3)})),
        ],
    ),
    LossCase("bce-pos_weight-smoothing", losskit.binary_cross_entropy_with_logits, _binary_full),
    LossCase(
        "binary_focal",
        losskit.binary_focal_loss,
        _binary,
        module=(lnn.BinaryFocalLoss, {"gamma": 2.0, "alpha": 0.25}),
        bad=[
            _bad("gamma", "gamma", lambda: ((x4, torch.ones(4, 3)), {"gamma": -1.0})),
            _bad("alpha", "alpha", lambda: ((x4, torch.ones(4, 3)), {"alpha": 1.5})),
            _bad("target-range", "target", lambda: ((x4, torch.full((4, 3), -0.5)), {})),
        ],
    ),
    LossCase(
        "binary_focal-gamma0.5-all-options",
        lambda x, y, **k: losskit.binary_focal_loss(x, y, gamma=0.5, alpha=0.3, **k),
        _binary_full,
    ),
    LossCase(
        "cross_entropy",
        losskit.cross_entropy,
        _multiclass,
        count=_valid,
        module=(lnn.CrossEntropyLoss, {"label_smoothing": 0.1}),
        bad=[
            _bad("index", "target", lambda: ((logits, torch.tensor([0, 1, 7, 2])), {})),
            _bad("negative-index", "target", lambda: ((logits, torch.tensor([0, -3, 1, 2])), {})),
            _bad("target-shape", "target", lambda: ((logits, torch.tensor([0, 1, 2])), {})),
            _bad("float-target-shape", "target", lambda: ((logits, torch.rand(4, 3)), {})),
            _bad("soft-range", "target", lambda: ((logits, torch.full((4, 5), 1.5)), {})),
            _bad("weight-shape", "weight", lambda: ((logits, classes), {"weight": torch.ones(3)})),
            _bad("smoothing", "label_smoothing", lambda: ((logits, classes), {"label_smoothing": -0.1})),
            _bad("reduction", "reduction", lambda: ((logits, classes), {"reduction": "batchmean"})),
            _bad("int-logits", "input", lambda: ((classes, classes), {})),
        ],
    ),
    LossCase("cross_entropy-weighted-smoothed", losskit.cross_entropy, _multiclass_weighted, count=_weighted_count),
    LossCase("cross_entropy-kdim", losskit.cross_entropy, _segmentation),
    LossCase("cross_entropy-soft", losskit.cross_entropy, _soft, count=lambda a, k: float(a[0].shape[0])),
    LossCase(
        "focal",
        losskit.focal_loss,
        _multiclass,
        count=_valid,
        module=(lnn.FocalLoss, {"gamma": 2.0, "alpha": 0.25}),
        bad=[
            _bad("gamma", "gamma", lambda: ((logits, classes), {"gamma": -0.5})),
            _bad("alpha", "alpha", lambda: ((logits, classes), {"alpha": 2.0})),
            _bad("alpha-shape", "alpha", lambda: ((logits, classes), {"alpha": torch.ones(3)})),
            _bad("index", "target", lambda: ((logits, torch.tensor([0, 1, 5, 2])), {})),
        ],
    ),
    LossCase(
        "focal-gamma0.5-weighted-smoothed",
        lambda x, t, **k: losskit.focal_loss(x, t, gamma=0.5, alpha=torch.full((5,), 0.5, dtype=x.dtype), **k),
        _multiclass_weighted,
        count=_weighted_count,
    ),
    LossCase("focal-soft", losskit.focal_loss, _soft, count=lambda a, k: float(a[0].shape[0])),
    LossCase("focal-kdim", losskit.focal_loss, _segmentation),
]
