"""Fused large-vocabulary linear cross-entropy implementations.

The public entry point is :func:`losskit.functional.linear_cross_entropy` (module:
:class:`losskit.nn.LinearCrossEntropyLoss`); this package holds the implementations it
dispatches to:

* :mod:`losskit.fused._torch`: chunked PyTorch (CPU and CUDA), gradients in the forward.
* :mod:`losskit.fused._triton`: Triton kernels (CUDA; CPU through Triton's interpreter).
* :mod:`losskit.fused._parallel`: vocabulary sharding across a process group (tensor parallelism).

:func:`chunk_size_for_budget` turns a memory budget for the chunk buffer into ``chunk_size``.
"""

from losskit.fused._torch import chunk_size_for_budget, chunked_linear_cross_entropy, default_chunk_size
from losskit.fused._triton import triton_available, triton_linear_cross_entropy

__all__ = [
    "chunk_size_for_budget",
    "chunked_linear_cross_entropy",
    "default_chunk_size",
    "triton_available",
    "triton_linear_cross_entropy",
]
