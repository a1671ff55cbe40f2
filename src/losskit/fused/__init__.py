"""Fused large-vocabulary linear cross-entropy implementations.

The public entry point is :func:`losskit.functional.linear_cross_entropy` (module:
:class:`losskit.nn.LinearCrossEntropyLoss`); this package holds the implementations it
dispatches to:

* :mod:`losskit.fused._torch`: chunked PyTorch (CPU and CUDA), gradients in the forward.
* :mod:`losskit.fused._triton`: Triton kernels (CUDA; CPU through Triton's interpreter).
"""

from losskit.fused._torch import chunked_linear_cross_entropy, default_chunk_size
from losskit.fused._triton import triton_available, triton_linear_cross_entropy

__all__ = [
    "chunked_linear_cross_entropy",
    "default_chunk_size",
    "triton_available",
    "triton_linear_cross_entropy",
]
