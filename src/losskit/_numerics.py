"""Shared numerics helpers: compute dtype and result dtype."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["compute_dtype", "restore", "upcast"]

_LOW = (torch.float16, torch.bfloat16)


def compute_dtype(t: Tensor) -> torch.dtype:
    """float32 for half-precision inputs, the input's own dtype otherwise."""
    return torch.float32 if t.dtype in _LOW else t.dtype


def upcast(t: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """Cast a floating tensor to ``dtype`` (no copy when it already is); pass None through."""
    if t is None or not t.is_floating_point():
        return t
    return t.to(dtype)


def restore(result: Tensor, like: Tensor) -> Tensor:
    """Cast a result computed in float32 back to the dtype of the input it came from."""
    return result.to(like.dtype) if result.dtype != like.dtype and like.is_floating_point() else result
