"""Registry cases for the linear-chain CRF loss (emissions and transitions differentiated).

Its module, :class:`losskit.nn.CRF`, owns the scores the function receives, so the module face
is tested in ``test_crf.py`` instead of here."""

from __future__ import annotations

import torch

import losskit
from registry import BadInput, LossCase

T, C = 5, 4


def _randn(gen, *shape, dtype):
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)


def _crf(n, dtype, gen):
    emissions = 2 * _randn(gen, n, T, C, dtype=dtype)
    tags = torch.randint(0, C, (n, T), generator=gen)
    lengths = torch.randint(1, T + 1, (n,), generator=gen)
    if n > 2:
        lengths[1] = 1  # a length-1 sequence
        lengths[2] = 0  # a fully masked one: loss 0, not counted
    mask = torch.arange(T) < lengths.unsqueeze(1)
    tags[~mask] = -100  # padded steps hold anything
    transitions = _randn(gen, C, C, dtype=dtype)
    kwargs = {"start_transitions": _randn(gen, C, dtype=dtype), "end_transitions": _randn(gen, C, dtype=dtype)}
    return (emissions, tags, transitions), {**kwargs, "mask": mask}


def _count(args, kwargs):
    return float(kwargs["mask"].any(1).sum())


def _split(args, kwargs, index):
    e, tags, transitions = args
    return (e[index], tags[index], transitions), {**kwargs, "mask": kwargs["mask"][index]}


def _valid():
    e = torch.randn(2, 3, C)
    return (e, torch.zeros(2, 3, dtype=torch.long), torch.zeros(C, C)), {}


def _with(**changes):
    def make():
        (e, tags, trans), kwargs = _valid()
        args = {"input": e, "target": tags, "transitions": trans}
        for k, v in changes.items():
            (args if k in args else kwargs)[k] = v
        return (args["input"], args["target"], args["transitions"]), kwargs

    return make


CASES: list[LossCase] = [
    LossCase(
        "crf",
        losskit.crf_loss,
        _crf,
        diff=(0, 2),
        count=_count,
        split=_split,
        fullgraph=True,
        bad=[
            BadInput("emissions-2d", _with(input=torch.randn(3, C)), "input"),
            BadInput("transitions-shape", _with(transitions=torch.zeros(C, C + 1)), "transitions"),
            BadInput("start-shape", _with(start_transitions=torch.zeros(C + 1)), "start_transitions"),
            BadInput("tag-range", _with(target=torch.full((2, 3), C)), "target"),
            BadInput("float-tags", _with(target=torch.zeros(2, 3)), "target"),
            BadInput("tags-shape", _with(target=torch.zeros(2, 4, dtype=torch.long)), "target"),
            BadInput("mask-gap", _with(mask=torch.tensor([[True, False, True], [True, True, True]])), "mask"),
            BadInput("mask-shape", _with(mask=torch.ones(2, 4, dtype=torch.bool)), "mask"),
            BadInput("reduction", _with(reduction="token_mean"), "reduction"),
        ],
    ),
]
