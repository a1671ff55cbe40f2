"""Registry cases for the CTC loss.

The generic reduction suites assume ``"mean" == "sum" / count`` with one count for the batch.
PyTorch's CTC mean (kept by losskit for compatibility) divides each sample by its own target
length first, which has that form only when every target length is 0 or 1; the registry case
therefore uses such targets, and ``test_ctc.py`` covers longer targets, repeated labels and
the reductions with uneven target lengths.
"""

from __future__ import annotations

import torch

import losskit
from losskit import nn as lnn
from registry import BadInput, LossCase

T, C = 6, 4


def _log_probs(t: int, n: int, c: int, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    logits = 2 * torch.randn(t, n, c, generator=gen, dtype=torch.float64)
    return logits.log_softmax(-1).to(dtype)


def _short_targets(n, dtype, gen):
    log_probs = _log_probs(T, n, C, dtype, gen)
    targets = torch.randint(1, C, (n, 1), generator=gen)
    target_lengths = torch.randint(0, 2, (n,), generator=gen)
    input_lengths = torch.randint(T // 2, T + 1, (n,), generator=gen)
    return (log_probs, targets, input_lengths, target_lengths), {}


def _split(args, kwargs, index):
    log_probs, targets, input_lengths, target_lengths = args
    return (log_probs[:, index], targets[index], input_lengths[index], target_lengths[index]), dict(kwargs)


def _valid():
    gen = torch.Generator().manual_seed(3)
    log_probs = _log_probs(6, 2, 4, torch.float32, gen)
    return log_probs, torch.tensor([[1, 2], [3, 3]]), torch.tensor([6, 5]), torch.tensor([2, 2])


def _with(**changes):
    def make():
        names = ("log_probs", "targets", "input_lengths", "target_lengths")
        args = dict(zip(names, _valid(), strict=True))
        kwargs = {k: v for k, v in changes.items() if k not in names}
        args.update({k: v for k, v in changes.items() if k in names})
        return tuple(args[k] for k in names), kwargs

    return make


_BAD = [
    BadInput("raw-logits", _with(log_probs=torch.randn(6, 2, 4)), "log_probs"),
    BadInput("probabilities", _with(log_probs=torch.full((6, 2, 4), 0.25)), "log_probs"),
    BadInput("not-3d", _with(log_probs=torch.full((6, 4), 0.25).log()), "log_probs"),
    BadInput("blank-in-target", _with(targets=torch.tensor([[1, 0], [3, 3]])), "targets"),
    BadInput("label-out-of-range", _with(targets=torch.tensor([[1, 4], [3, 3]])), "targets"),
    BadInput("float-targets", _with(targets=torch.tensor([[1.0, 2.0], [3.0, 3.0]])), "targets"),
    # "33" needs a blank between the labels: 3 frames, but sample 1 has 2.
    BadInput("infeasible", _with(input_lengths=torch.tensor([6, 2])), "input_lengths"),
    BadInput("input-longer-than-T", _with(input_lengths=torch.tensor([7, 5])), "input_lengths"),
    BadInput("lengths-shape", _with(input_lengths=torch.tensor([6, 5, 5])), "input_lengths"),
    BadInput("negative-target-length", _with(target_lengths=torch.tensor([2, -1])), "target_lengths"),
    BadInput("target-length-over-S", _with(target_lengths=torch.tensor([3, 2])), "target_lengths"),
    BadInput("concatenated-too-short", _with(targets=torch.tensor([1, 2, 3])), "targets"),
    BadInput("blank-out-of-range", _with(blank=4), "blank"),
    BadInput("reduction-typo", _with(reduction="batchmean"), "reduction"),
]

CASES = [
    LossCase(
        "ctc_loss",
        losskit.ctc_loss,
        _short_targets,
        module=(lnn.CTCLoss, {"blank": 0}),
        split=_split,
        fullgraph=False,
        bad=_BAD,
    ),
]
