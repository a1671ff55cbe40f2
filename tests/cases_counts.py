"""Registry cases for the count, ordinal and listwise losses."""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase


def _randn(gen, *shape, dtype=torch.float32):
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


# --------------------------------------------------------------------------- counts


def _counts(n, dtype, gen):
    x = 0.5 * _randn(gen, n, 3, dtype=dtype)
    y = torch.poisson(torch.exp(_randn(gen, n, 3)), generator=gen).to(dtype)
    return (x, y), {}


def _counts_full(n, dtype, gen):
    (x, y), _ = _counts(n, dtype, gen)
    offset = torch.log(torch.rand(n, 1, generator=gen, dtype=torch.float64) + 0.5).to(dtype)
    w = (torch.rand(n, 1, generator=gen, dtype=torch.float64) + 0.1).to(dtype)
    return (x, y), {"offset": offset, "weight": w}


def _positive(n, dtype, gen):
    x = 0.5 * _randn(gen, n, 3, dtype=dtype)
    y = torch.exp(_randn(gen, n, 3)).to(dtype)
    return (x, y), {}


def _weight_count(args, kwargs):
    return float(torch.broadcast_to(kwargs["weight"], args[0].shape).sum())


def _split_kwargs(args, kwargs, index):
    out = tuple(a[index] for a in args)
    return out, {k: v[index] if isinstance(v, torch.Tensor) and v.dim() > 0 else v for k, v in kwargs.items()}


def _bad(label, argument, fn):
    return BadInput(label, fn, argument)


x4 = torch.randn(4, 3)
y4 = torch.ones(4, 3)

_COUNT_BAD = [
    _bad("shape", "target", lambda: ((x4, torch.ones(4, 2)), {})),
    _bad("negative", "target", lambda: ((x4, -y4), {})),
    _bad("int-input", "input", lambda: ((torch.ones(4, 3, dtype=torch.long), y4), {})),
    _bad("offset-shape", "offset", lambda: ((x4, y4), {"offset": torch.zeros(5)})),
    _bad("weight-shape", "weight", lambda: ((x4, y4), {"weight": torch.ones(2, 3)})),
    _bad("reduction", "reduction", lambda: ((x4, y4), {"reduction": "avg"})),
]

# --------------------------------------------------------------------------- ordinal

K = 5


def _ordinal(n, dtype, gen):
    x = 2 * _randn(gen, n, K - 1, dtype=dtype)
    y = torch.randint(0, K, (n,), generator=gen)
    return (x, y), {}


def _ordinal_weighted(n, dtype, gen):
    (x, y), _ = _ordinal(n, dtype, gen)
    return (x, y), {"weight": (torch.rand(n, generator=gen, dtype=torch.float64) + 0.1).to(dtype)}


def _corn_count(args, kwargs):
    _, y = args
    taking_part = (y[:, None] >= torch.arange(K - 1)).double()
    w = kwargs.get("weight")
    return float(taking_part.sum() if w is None else (taking_part * w.double()[:, None]).sum())


def _row_weight_count(args, kwargs):
    return float(kwargs["weight"].double().sum())


levels = torch.tensor([0, 1, 4, 2])
logits4 = torch.randn(4, K - 1)
_ORDINAL_BAD = [
    _bad("level-range", "target", lambda: ((logits4, torch.tensor([0, 1, 5, 2])), {})),
    _bad("negative-level", "target", lambda: ((logits4, torch.tensor([0, -1, 2, 2])), {})),
    _bad("float-target", "target", lambda: ((logits4, levels.float()), {})),
    _bad("target-shape", "target", lambda: ((logits4, levels[:3]), {})),
    _bad("1d-input", "input", lambda: ((torch.randn(4), levels), {})),
    _bad("weight-shape", "weight", lambda: ((logits4, levels), {"weight": torch.ones(4, 1)})),
]

# --------------------------------------------------------------------------- ranked lists

L = 6


def _lists(n, dtype, gen):
    x = _randn(gen, n, L, dtype=dtype)
    y = torch.randint(0, 4, (n, L), generator=gen).to(dtype)
    lengths = torch.randint(1, L + 1, (n,), generator=gen)
    mask = torch.arange(L)[None, :] < lengths[:, None]
    if n > 2:
        mask[2] = False  # an empty list: scores 0 and does not count
    return (x, y), {"mask": mask}


def _lists_weighted(n, dtype, gen):
    args, kwargs = _lists(n, dtype, gen)
    return args, {**kwargs, "weight": (torch.rand(n, generator=gen, dtype=torch.float64) + 0.1).to(dtype)}


def _list_count(args, kwargs):
    nonempty = kwargs["mask"].any(dim=1).double()
    w = kwargs.get("weight")
    return float(nonempty.sum() if w is None else (nonempty * w.double()).sum())


s4 = torch.randn(4, L)
r4 = torch.randint(0, 3, (4, L)).float()
_LIST_BAD = [
    _bad("1d", "input", lambda: ((torch.randn(L), torch.ones(L)), {})),
    _bad("target-shape", "target", lambda: ((s4, r4[:, :3]), {})),
    _bad("negative-relevance", "target", lambda: ((s4, -torch.ones(4, L)), {})),
    _bad("mask-dtype", "mask", lambda: ((s4, r4), {"mask": torch.ones(4, L)})),
    _bad("mask-shape", "mask", lambda: ((s4, r4), {"mask": torch.ones(4, 2, dtype=torch.bool)})),
    _bad("weight-shape", "weight", lambda: ((s4, r4), {"weight": torch.ones(4, L)})),
]


def _list_case(name, fn, module, bad=(), **options):
    return [
        LossCase(
            name,
            fn,
            _lists,
            count=_list_count,
            split=_split_kwargs,
            module=module,
            half_atol=8e-2,
            bad=list(_LIST_BAD) + list(bad),
        ),
        LossCase(f"{name}-weighted", fn, _lists_weighted, count=_list_count, split=_split_kwargs, half_atol=8e-2),
    ]


CASES: list[LossCase] = [
    LossCase("poisson", losskit.poisson_loss, _counts, module=(lnn.PoissonLoss, {}), bad=_COUNT_BAD),
    LossCase("poisson-offset-weighted", losskit.poisson_loss, _counts_full, count=_weight_count, split=_split_kwargs),
    LossCase(
        "tweedie",
        losskit.tweedie_loss,
        _counts,
        module=(lnn.TweedieLoss, {"power": 1.3}),
        bad=[*_COUNT_BAD, _bad("power", "power", lambda: ((x4, y4), {"power": 2.0}))],
    ),
    LossCase(
        "tweedie-offset-weighted",
        lambda x, y, **k: losskit.tweedie_loss(x, y, power=1.7, **k),
        _counts_full,
        count=_weight_count,
        split=_split_kwargs,
    ),
    LossCase(
        "gamma",
        losskit.gamma_loss,
        _positive,
        module=(lnn.GammaLoss, {}),
        bad=[*_COUNT_BAD, _bad("zero-target", "target", lambda: ((x4, torch.zeros(4, 3)), {}))],
    ),
    LossCase(
        "coral",
        losskit.coral_loss,
        _ordinal,
        module=(lnn.CoralLoss, {"task_weight": torch.tensor([1.0, 0.5, 2.0, 1.0])}),
        bad=[
            *_ORDINAL_BAD,
            _bad("task_weight", "task_weight", lambda: ((logits4, levels), {"task_weight": torch.ones(5)})),
        ],
    ),
    LossCase("coral-weighted", losskit.coral_loss, _ordinal_weighted, count=_row_weight_count, split=_split_kwargs),
    LossCase("corn", losskit.corn_loss, _ordinal, count=_corn_count, module=(lnn.CornLoss, {}), bad=_ORDINAL_BAD),
    LossCase("corn-weighted", losskit.corn_loss, _ordinal_weighted, count=_corn_count, split=_split_kwargs),
    *_list_case("listnet", losskit.listnet_loss, (lnn.ListNetLoss, {})),
    *_list_case("listmle", losskit.listmle_loss, (lnn.ListMLELoss, {})),
    *_list_case(
        "lambda",
        losskit.lambda_loss,
        (lnn.LambdaLoss, {"weighting": "ndcg2", "sigma": 2.0}),
        bad=[_bad("weighting", "weighting", lambda: ((s4, r4), {"weighting": "ndcg3"}))],
    ),
    *_list_case(
        "approx_ndcg",
        losskit.approx_ndcg_loss,
        (lnn.ApproxNDCGLoss, {"temperature": 0.5}),
        bad=[_bad("temperature", "temperature", lambda: ((s4, r4), {"temperature": 0.0}))],
    ),
]
