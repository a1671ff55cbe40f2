"""Calibration: expected / maximum calibration error, the reliability curve, temperature scaling.

Binning follows :func:`sklearn.calibration.calibration_curve` exactly (same edges, same bin of
every sample), but keeps every bin and its count, because the calibration errors weight each
bin by its share of the samples:

.. math::

    \\mathrm{ECE} = \\sum_b \\frac{n_b}{n} \\, |\\mathrm{acc}_b - \\mathrm{conf}_b|, \\qquad
    \\mathrm{MCE} = \\max_{b:\\, n_b > 0} |\\mathrm{acc}_b - \\mathrm{conf}_b|

Binary input is binned by the probability of the positive class (``acc_b`` is the share of
positives); multi-class input by the top-label confidence ``max_c p_c`` (``acc_b`` is the
share of correct arg-max predictions), as in Guo et al., "On Calibration of Modern Neural
Networks", ICML 2017, which also introduced temperature scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from losskit._errors import LossInputError
from losskit._validation import check_choice, check_float
from losskit.evaluate._inputs import (
    as_array,
    as_labels,
    check_binary_labels,
    check_length,
    check_probabilities,
    check_simplex,
)
from losskit.functional import binary_cross_entropy_with_logits, cross_entropy

__all__ = ["STRATEGIES", "CalibrationResult", "calibration", "temperature_scale"]

STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True)
class CalibrationResult:
    """ECE, MCE and the reliability curve, one entry per bin (NaN means for empty bins).

    ``prob_true`` is the observed frequency (share of positives, or of correct top-label
    predictions), ``prob_pred`` the mean predicted probability, ``bin_counts`` the samples per bin
    and ``bin_edges`` the ``n_bins + 1`` edges.
    """

    ece: float
    mce: float
    prob_true: np.ndarray
    prob_pred: np.ndarray
    bin_counts: np.ndarray
    bin_edges: np.ndarray


def calibration(y_true: Any, y_prob: Any, *, n_bins: int = 15, strategy: str = "uniform") -> CalibrationResult:
    """Expected and maximum calibration error and the reliability curve.

    Args:
        y_true: ``(N,)`` 0/1 labels (binary) or class indices (multi-class).
        y_prob: ``(N,)`` probability of the positive class, or ``(N, C)`` class probabilities.
        n_bins: number of bins (≥ 1).
        strategy: ``"uniform"`` (equal-width bins on [0, 1]) or ``"quantile"`` (edges at the
            quantiles of the binned probabilities, so bins hold about as many samples; tied
            probabilities can merge bins, which then stay empty).

    Returns:
        :class:`CalibrationResult`.

    Example:
        >>> from losskit.evaluate import calibration
        >>> r = calibration([0, 1, 1, 1], [0.2, 0.2, 0.8, 0.8], n_bins=5)
        >>> round(r.ece, 6), round(r.mce, 6)  # bins at 0.2 (acc 0.5) and 0.8 (acc 1.0)
        (0.25, 0.3)
    """
    check_choice("strategy", strategy, STRATEGIES)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise LossInputError("n_bins", "a positive integer", repr(n_bins))
    yt = as_array("y_true", y_true)
    p = as_array("y_prob", y_prob, ndim=(1, 2))
    check_length("y_prob", p, yt.shape[0])
    if p.ndim == 1:
        check_probabilities("y_prob", p)
        hit = check_binary_labels("y_true", yt).astype(np.float64)
        confidence = p
    else:
        check_simplex("y_prob", p)
        y = as_labels("y_true", yt)
        if ((y < 0) | (y >= p.shape[1])).any():
            raise LossInputError("y_true", f"class indices in [0, {p.shape[1] - 1}]", f"{y.min()}..{y.max()}")
        confidence = p.max(axis=1)
        hit = (p.argmax(axis=1) == y).astype(np.float64)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.percentile(confidence, np.linspace(0, 100, n_bins + 1))
    bins = np.searchsorted(edges[1:-1], confidence)  # the same assignment as calibration_curve
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    prob_true = np.full(n_bins, np.nan)
    prob_pred = np.full(n_bins, np.nan)
    prob_true[filled] = np.bincount(bins, weights=hit, minlength=n_bins)[filled] / counts[filled]
    prob_pred[filled] = np.bincount(bins, weights=confidence, minlength=n_bins)[filled] / counts[filled]
    gap = np.abs(prob_true[filled] - prob_pred[filled])
    return CalibrationResult(
        ece=float(np.sum(counts[filled] / counts.sum() * gap)),
        mce=float(gap.max()),
        prob_true=prob_true,
        prob_pred=prob_pred,
        bin_counts=counts,
        bin_edges=edges,
    )


def temperature_scale(logits: torch.Tensor, y_true: torch.Tensor, *, max_iter: int = 100) -> float:
    """Fit the temperature ``T`` that minimises the validation negative log-likelihood.

    Calibrated probabilities are then ``softmax(logits / T)`` (``sigmoid(logits / T)`` for
    binary logits). ``T > 1`` softens an over-confident model. ``log T`` is optimised with L-BFGS
    (strong Wolfe line search) in float64, so ``T`` stays positive.

    Args:
        logits: ``(N,)`` binary logits or ``(N, C)`` class logits, from held-out data.
        y_true: ``(N,)`` 0/1 labels (binary) or class indices.
        max_iter: L-BFGS iterations.

    Returns:
        The temperature as a Python float.

    Reference: Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.
    """
    check_float("logits", logits)
    if not isinstance(y_true, torch.Tensor):
        raise LossInputError("y_true", "a torch.Tensor", type(y_true).__name__)
    if logits.ndim not in (1, 2) or logits.shape[0] == 0:
        raise LossInputError("logits", "a non-empty (N,) or (N, C) tensor", f"shape {tuple(logits.shape)}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise LossInputError("max_iter", "a positive integer", repr(max_iter))
    z = logits.detach().to("cpu", torch.float64)
    if not torch.isfinite(z).all():
        raise LossInputError("logits", "finite (no NaN or inf)", f"{int((~torch.isfinite(z)).sum())} non-finite values")
    y = y_true.detach().to("cpu")
    check_length("y_true", y, z.shape[0], "the length of logits")
    if z.ndim == 1:
        target = torch.as_tensor(check_binary_labels("y_true", y.numpy()), dtype=torch.float64)

        def nll(t: torch.Tensor) -> torch.Tensor:
            return binary_cross_entropy_with_logits(z / t, target)
    else:
        labels = as_labels("y_true", y.numpy())
        if ((labels < 0) | (labels >= z.shape[1])).any():
            raise LossInputError("y_true", f"class indices in [0, {z.shape[1] - 1}]", f"{labels.min()}..{labels.max()}")
        target = torch.as_tensor(labels)

        def nll(t: torch.Tensor) -> torch.Tensor:
            return cross_entropy(z / t, target)

    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nll(log_t.exp())
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    if not math.isfinite(temperature):
        raise LossInputError("logits", "logits whose NLL has a finite minimiser in T", "a diverging temperature")
    return temperature
