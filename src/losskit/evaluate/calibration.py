"""Calibration: expected / maximum calibration error, the reliability curve, temperature scaling.

Binning follows :func:`sklearn.calibration.calibration_curve` exactly (same edges, same bin of
every sample), but keeps every bin and its count, because the calibration errors weight each
bin by its share of the samples. **The binning rule** (one rule, shared with the streaming
``ece`` of :func:`losskit.evaluate.streaming_metrics`): probabilities are read in float64 and
bin ``b`` holds :math:`(e_b, e_{b+1}]`, the first bin also holding ``0``; a probability on an
inner edge goes to the bin below it (torchmetrics' own calibration error puts it in the bin
above). :func:`bin_index` implements it.

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

__all__ = ["STRATEGIES", "CalibrationResult", "bin_index", "calibration", "temperature_scale"]

STRATEGIES = ("uniform", "quantile")


def bin_index(confidence: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of every probability: ``b`` with ``edges[b] < p <= edges[b + 1]`` (bin 0 also holds
    ``edges[0]``), in float64; ``calibration_curve``'s rule.

    Example:
        >>> import numpy as np
        >>> bin_index(np.array([0.0, 0.2, 0.25, 1.0]), np.linspace(0, 1, 6))
        array([0, 0, 1, 4])
    """
    return np.searchsorted(edges[1:-1], confidence, side="left")


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
    bins = bin_index(confidence, edges)
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


def _nll_slope(z: torch.Tensor, target: torch.Tensor, beta: float) -> tuple[float, float]:
    """First and second derivative of the mean NLL of ``beta * z`` with respect to ``beta``.

    Binary: :math:`f' = \\overline{(\\sigma(\\beta z) - y) z}`, :math:`f'' = \\overline{\\sigma(1-\\sigma) z^2}`;
    multi-class: :math:`f' = \\overline{E_p[z] - z_y}`, :math:`f'' = \\overline{\\mathrm{Var}_p[z]}`.
    """
    if z.ndim == 1:
        p = torch.sigmoid(beta * z)
        return float(((p - target) * z).mean()), float((p * (1 - p) * z * z).mean())
    p = torch.softmax(beta * z, dim=1)
    mean_z = (p * z).sum(dim=1)
    var_z = (p * (z - mean_z[:, None]).square()).sum(dim=1)
    return float((mean_z - z.gather(1, target[:, None]).squeeze(1)).mean()), float(var_z.mean())


def temperature_scale(logits: torch.Tensor, y_true: torch.Tensor, *, max_iter: int = 100) -> float:
    """Fit the temperature ``T`` that minimises the validation negative log-likelihood.

    Calibrated probabilities are then ``softmax(logits / T)`` (``sigmoid(logits / T)`` for
    binary logits). ``T > 1`` softens an over-confident model. The NLL is convex in the inverse
    temperature ``beta = 1 / T``; ``beta`` is found by Newton's method with exact first and
    second derivatives in float64, safeguarded by bisection on a bracket of the derivative's
    sign change, to full float64 precision (tested against scipy's scalar minimiser).

    Args:
        logits: ``(N,)`` binary logits or ``(N, C)`` class logits, from held-out data.
        y_true: ``(N,)`` 0/1 labels (binary) or class indices.
        max_iter: Newton iterations at most.

    Returns:
        The temperature as a Python float.

    Raises:
        LossInputError: when the NLL has no finite positive minimiser (logits that rank the
        labels no better than chance, or perfectly separated ones).

    Reference: Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.

    Example:
        >>> import torch
        >>> from losskit.evaluate import temperature_scale
        >>> z = torch.tensor([4.0, -4.0, 2.0, -2.0])
        >>> y = torch.tensor([1, 0, 0, 0])  # one confident mistake: soften by about 2
        >>> round(temperature_scale(z, y), 4)
        1.9763
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
    else:
        labels = as_labels("y_true", y.numpy())
        if ((labels < 0) | (labels >= z.shape[1])).any():
            raise LossInputError("y_true", f"class indices in [0, {z.shape[1] - 1}]", f"{labels.min()}..{labels.max()}")
        target = torch.as_tensor(labels)
    diverging = LossInputError("logits", "logits whose NLL has a finite minimiser in T", "a diverging temperature")
    if _nll_slope(z, target, 0.0)[0] >= 0:  # no better than chance: the optimum is at T = inf (or T < 0)
        raise diverging
    low, high = 0.0, 1.0
    while _nll_slope(z, target, high)[0] < 0:  # bracket the minimiser: f'(low) < 0 <= f'(high)
        low, high = high, 2.0 * high
        if high > 1e12:  # perfectly separated: the optimum is at T = 0
            raise diverging
    beta = 1.0 if low == 0.0 else 0.5 * (low + high)
    for _ in range(max_iter):
        slope, curvature = _nll_slope(z, target, beta)
        if slope < 0:
            low = beta
        else:
            high = beta
        step = slope / curvature if curvature > 0 else math.inf
        candidate = beta - step
        if not low < candidate < high:
            candidate = 0.5 * (low + high)
        if abs(candidate - beta) <= 4 * math.ulp(beta) or high - low <= 4 * math.ulp(high):
            beta = candidate
            break
        beta = candidate
    return 1.0 / beta
