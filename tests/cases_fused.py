"""Registry cases for the fused linear cross-entropy (chunked PyTorch path)."""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase

H, V = 5, 13


def _make(n, dtype, gen, **options):
    x = torch.randn(n, H, generator=gen, dtype=torch.float64).to(dtype)
    w = torch.randn(V, H, generator=gen, dtype=torch.float64).to(dtype)
    t = torch.randint(0, V, (n,), generator=gen)
    t[::4] = -100  # every fourth token ignored
    return (x, w, t), {"impl": "torch", "chunk_size": 3, **options}


def _make_all_options(n, dtype, gen):
    args, kwargs = _make(n, dtype, gen, label_smoothing=0.1, z_loss=0.05, softcap=3.0)
    kwargs["linear_bias"] = torch.randn(V, generator=gen, dtype=torch.float64).to(dtype)
    return args, kwargs


def _count(args, kwargs):
    return float((args[2] != -100).sum())


def _split(args, kwargs, index):
    """Tokens are split; the head (weight, bias) is shared by every micro-batch."""
    x, w, t = args
    return (x[index], w, t[index]), dict(kwargs)


def _bad() -> list[BadInput]:
    x, w, t = torch.randn(4, H), torch.randn(V, H), torch.randint(0, V, (4,))
    return [
        BadInput("hidden-mismatch", lambda: ((torch.randn(4, H + 1), w, t), {}), "input"),
        BadInput("target-out-of-range", lambda: ((x, w, torch.tensor([0, 1, V, 2])), {}), "target"),
        BadInput("dtype-mismatch", lambda: ((x, w.double(), t), {}), "linear_weight"),
        BadInput("impl-typo", lambda: ((x, w, t), {"impl": "fast"}), "impl"),
        BadInput("softcap-negative", lambda: ((x, w, t), {"softcap": -1.0}), "softcap"),
    ]


CASES = [
    LossCase(
        "linear_cross_entropy",
        losskit.linear_cross_entropy,
        _make,
        diff=(0, 1),
        module=(lnn.LinearCrossEntropyLoss, {"z_loss": 0.01}),
        count=_count,
        split=_split,
        fullgraph=False,
        bad=_bad(),
    ),
    LossCase(
        "linear_cross_entropy-all-options",
        losskit.linear_cross_entropy,
        _make_all_options,
        diff=(0, 1),
        count=_count,
        split=_split,
        fullgraph=False,
    ),
]
