"""Registry cases for the distillation loss."""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase


def _randn(gen, *shape, dtype):
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _soft(n, dtype, gen):
    return (2 * _randn(gen, n, 5, dtype=dtype), 2 * _randn(gen, n, 5, dtype=dtype)), {"temperature": 2.0}


def _tokens(n, dtype, gen):
    """Token-level: (N, V, L) logits, (N, L) labels with padding."""
    s, t = 2 * _randn(gen, n, 5, 3, dtype=dtype), 2 * _randn(gen, n, 5, 3, dtype=dtype)
    target = torch.randint(0, 5, (n, 3), generator=gen)
    target[:, 2] = -100
    return (s, t), {"temperature": 3.0, "alpha": 0.7, "target": target}


def _valid(args, kwargs):
    return float((kwargs["target"] != -100).sum())


def _split(args, kwargs, index):
    return tuple(a[index] for a in args), {**kwargs, "target": kwargs["target"][index]}


s, t = torch.randn(4, 5), torch.randn(4, 5)

CASES: list[LossCase] = [
    LossCase(
        "distillation",
        losskit.distillation_loss,
        _soft,
        module=(lnn.DistillationLoss, {}),
        bad=[
            BadInput("temperature", lambda: ((s, t), {"temperature": 0.0}), "temperature"),
            BadInput("alpha", lambda: ((s, t), {"alpha": 1.5}), "alpha"),
            BadInput("teacher-shape", lambda: ((s, torch.randn(4, 6)), {}), "teacher_logits"),
            BadInput("student-1d", lambda: ((torch.randn(5), torch.randn(5)), {}), "student_logits"),
            BadInput("target-index", lambda: ((s, t), {"target": torch.tensor([0, 1, 5, 2])}), "target"),
            BadInput("target-float", lambda: ((s, t), {"target": torch.zeros(4)}), "target"),
            BadInput("target-shape", lambda: ((s, t), {"target": torch.zeros(3, dtype=torch.long)}), "target"),
            BadInput("reduction", lambda: ((s, t), {"reduction": "batchmean"}), "reduction"),
        ],
    ),
    LossCase("distillation-tokens-with-labels", losskit.distillation_loss, _tokens, count=_valid, split=_split),
]
