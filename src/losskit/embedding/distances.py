"""Distances between embeddings, for the metric-learning losses.

Three distances, named by the ``distance=`` option of the losses:

* ``"euclidean"``: :math:`\\lVert x - y \\rVert_2`;
* ``"squared_euclidean"``: :math:`\\lVert x - y \\rVert_2^2`;
* ``"cosine"``: :math:`1 - x \\cdot y / (\\max(\\lVert x \\rVert, \\epsilon) \\max(\\lVert y \\rVert, \\epsilon))`.

The Euclidean distances use the embeddings as given: nothing is normalised behind the
caller's back (normalise first if the model expects unit vectors). Only the cosine distance
divides by the norms, because that is its definition.

The square root has an infinite derivative at 0 (a point and itself, or two identical
embeddings); there it is given the subgradient 0, so gradients stay finite.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["DISTANCES", "DistanceOrder", "paired_distance", "pairwise_distance_matrix"]

DISTANCES = ("euclidean", "squared_euclidean", "cosine")

_NORM_EPS = 1e-12


def _safe_sqrt(sq: Tensor) -> Tensor:
    """``sqrt`` with gradient 0 (instead of inf) where the argument is 0."""
    positive = sq > 0
    return torch.where(positive, sq.clamp_min(torch.finfo(sq.dtype).tiny).sqrt(), torch.zeros_like(sq))


def pairwise_distance_matrix(x: Tensor, distance: str = "euclidean") -> Tensor:
    """All pairwise distances between the rows of ``x``.

    Args:
        x: embeddings ``(B, D)``.
        distance: one of :data:`DISTANCES`.

    Returns:
        ``(B, B)`` distances with an exact 0 diagonal. The Euclidean forms use
        :math:`\\lVert x_i\\rVert^2 + \\lVert x_j\\rVert^2 - 2 x_i \\cdot x_j` (one matrix
        product, clamped at 0 against rounding) after centring the batch, which leaves the
        distances unchanged and reduces the cancellation error.
    """
    n = x.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    if distance == "cosine":
        unit = x / x.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)
        dist = (1.0 - unit @ unit.T).clamp_min(0.0)
        return torch.where(eye, zero, dist)
    centred = x - x.mean(dim=0, keepdim=True) if n > 0 else x
    sq_norm = (centred * centred).sum(dim=1)
    sq = (sq_norm[:, None] + sq_norm[None, :] - 2.0 * (centred @ centred.T)).clamp_min(0.0)
    sq = torch.where(eye, zero, sq)
    if distance == "squared_euclidean":
        return sq
    return _safe_sqrt(sq)


class DistanceOrder:
    """Cheap stand-in for a distance matrix when only the order within each row matters (mining).

    ``rows(start, stop)`` gives a ``(stop - start, B)`` block whose entries sort, within each row,
    exactly as the distances from anchors ``start:stop`` to all ``B`` embeddings do (up to
    rounding): :math:`\\lVert x_j\\rVert^2 - 2 x_a \\cdot x_j` (the squared distance minus a per-row
    constant, on the centred batch) for the Euclidean distances, :math:`-\\cos(x_a, x_j)` for the
    cosine distance. One matrix product per block, no square root, no gradient; blocks keep the
    memory at ``O(block * B)``. ``bound`` bounds the absolute value of every score.
    """

    def __init__(self, x: Tensor, distance: str) -> None:
        x = x.detach()
        if distance == "cosine":
            self._rows = x / x.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)
            self._bias = self._rows.new_zeros(1, x.shape[0])
            self._alpha = -1.0
            self.bound = 1.0
        else:
            self._rows = x - x.mean(dim=0, keepdim=True) if x.shape[0] > 0 else x
            self._bias = (self._rows * self._rows).sum(dim=1)[None, :]
            self._alpha = -2.0
            # |x_j|^2 + 2 |x_a| |x_j| <= 3 max |x|^2
            self.bound = 3.0 * float(self._bias.max()) if x.shape[0] > 0 else 0.0
        self._cols = self._rows.T

    @torch.no_grad()
    def rows(self, start: int, stop: int) -> Tensor:
        return torch.addmm(self._bias, self._rows[start:stop], self._cols, alpha=self._alpha)


def paired_distance(x1: Tensor, x2: Tensor, distance: str = "euclidean") -> Tensor:
    """Row-wise distance between ``x1[i]`` and ``x2[i]``: ``(N, D), (N, D) -> (N,)``."""
    if distance == "cosine":
        u1 = x1 / x1.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)
        u2 = x2 / x2.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)
        return (1.0 - (u1 * u2).sum(dim=1)).clamp_min(0.0)
    diff = x1 - x2
    sq = (diff * diff).sum(dim=1)
    if distance == "squared_euclidean":
        return sq
    return _safe_sqrt(sq)
