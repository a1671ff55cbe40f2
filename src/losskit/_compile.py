"""``torch.compile`` helpers that cost nothing at import time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch

__all__ = ["compile_disabled"]

F = TypeVar("F", bound=Callable[..., Any])


def compile_disabled(fn: F) -> F:
    """Like ``torch.compiler.disable(fn)`` (a graph break at each call under ``torch.compile``),
    but without importing ``torch._dynamo`` (and through it Triton) when the module is imported:
    the disabled wrapper is built on the first call.
    """
    disabled: list[Callable[..., Any]] = []

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not disabled:
            disabled.append(torch.compiler.disable(fn))
        return disabled[0](*args, **kwargs)

    return wrapper  # type: ignore[return-value]
