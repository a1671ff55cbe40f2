"""The loss registry the shared test suites run over.

Each loss family registers its cases in a module ``tests/cases_<family>.py`` that defines
``CASES: list[LossCase]``. Every registered case then gets, for free, the suites in
``test_registry_*.py``: finiteness and gradients, ``gradcheck`` in float64, reduction
consistency, ``num_items`` accumulation, empty batches, fp16/bf16, the module face, and
every bad input the case lists.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


@dataclass
class BadInput:
    """An input that must raise ``LossInputError`` whose message names ``argument``."""

    label: str
    make: Callable[[], tuple[Args, Kwargs]]
    argument: str


@dataclass
class LossCase:
    """How to call one loss.

    Attributes:
        name: test id.
        fn: the functional loss, called as ``fn(*args, **kwargs)``.
        make: ``make(n, dtype, generator) -> (args, kwargs)`` for a batch of ``n`` items; float
            tensors in ``args`` at positions ``diff`` are differentiated.
        diff: positions in ``args`` of the differentiable inputs.
        module: optional ``(cls, init_kwargs)``; ``cls(**init_kwargs)(*args, **kwargs)`` must equal
            ``fn(*args, **init_kwargs, **kwargs)``.
        count: ``count(args, kwargs) -> float``: what "mean" divides by (defaults to the number
            of elements of the unreduced loss).
        reductions: whether it takes ``reduction`` (and ``num_items``).
        batch_separable: the loss of a batch is a sum over its items (splitting the batch in two
            and passing ``num_items`` reproduces the full mean). False for losses that mine
            within a batch.
        split: ``split(args, kwargs, index) -> (args, kwargs)`` selecting batch items ``index``
            (defaults to slicing every tensor argument along dim 0).
        empty: whether ``make(0, ...)`` is a valid (empty) batch.
        half: whether fp16/bf16 inputs are supported (computed in float32 inside).
        half_atol: tolerance of the half-precision result against float32.
        fullgraph: whether ``torch.compile`` traces it in one graph (losses whose shapes depend
            on data, or that opt out of tracing, compile with graph breaks instead).
        bad: bad inputs that must raise.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    make: Callable[[int, torch.dtype, torch.Generator], tuple[Args, Kwargs]]
    diff: tuple[int, ...] = (0,)
    module: tuple[type, Kwargs] | None = None
    count: Callable[[Args, Kwargs], float] | None = None
    reductions: bool = True
    batch_separable: bool = True
    split: Callable[[Args, Kwargs, torch.Tensor], tuple[Args, Kwargs]] | None = None
    empty: bool = True
    half: bool = True
    half_atol: float = 5e-2
    fullgraph: bool = True
    bad: list[BadInput] = field(default_factory=list)

    def __repr__(self) -> str:  # readable pytest ids
        return self.name


def default_split(args: Args, kwargs: Kwargs, index: torch.Tensor) -> tuple[Args, Kwargs]:
    """Slice every tensor positional argument along dim 0."""
    out = tuple(a[index] if isinstance(a, torch.Tensor) and a.dim() > 0 else a for a in args)
    return out, dict(kwargs)


def load_cases() -> list[LossCase]:
    """Collect ``CASES`` from every ``tests/cases_*.py`` module."""
    here = Path(__file__).parent
    cases: list[LossCase] = []
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            cases.extend(importlib.import_module(info.name).CASES)
    return cases


CASES = load_cases()
