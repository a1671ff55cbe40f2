"""Label (prior) shift: correct posteriors for new class priors, and estimate those priors.

When the class priors change between training and deployment but the class-conditional
densities ``p(x | y)`` do not, Bayes' rule gives the new posteriors from the old ones:

.. math::

    p_{new}(y \\mid x) = \\frac{p(y \\mid x)\\, \\pi_{new}(y) / \\pi_{train}(y)}
                             {\\sum_{c} p(c \\mid x)\\, \\pi_{new}(c) / \\pi_{train}(c)}

When ``π_new`` is unknown, the EM algorithm of Saerens, Latinne & Decaestecker ("Adjusting the
Outputs of a Classifier to New a Priori Probabilities: A Simple Procedure", Neural Computation
14(1), 2002) estimates it from unlabelled data: start from ``π_train``, adjust the posteriors
(E step), set ``π`` to their mean (M step), repeat. The posteriors must be calibrated first
(see :func:`losskit.evaluate.temperature_scale`); EM on over-confident posteriors is biased.

Binary input is a ``(N,)`` probability of the positive class with priors given as the positive
rate (a number) or as ``[negative, positive]``; multi-class input is ``(N, C)`` with ``(C,)``
priors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from losskit._errors import LossInputError
from losskit.evaluate._inputs import as_array, check_probabilities, check_simplex

__all__ = ["PriorShiftEstimate", "adjust_for_prior_shift", "estimate_prior_shift"]

_PRIOR_ATOL = 1e-4


@dataclass(frozen=True)
class PriorShiftEstimate:
    """EM result: the estimated new ``prior`` (same form as ``train_prior``), the adjusted
    posteriors ``proba`` (same shape as the input), the iterations run and whether EM converged."""

    prior: float | np.ndarray
    proba: np.ndarray | torch.Tensor
    n_iter: int
    converged: bool


def _posteriors(proba: Any) -> tuple[np.ndarray, bool]:
    """``(N, C)`` posteriors, and whether the input was the binary ``(N,)`` form."""
    p = as_array("proba", proba, ndim=(1, 2))
    if p.ndim == 1:
        check_probabilities("proba", p)
        return np.stack([1.0 - p, p], axis=1), True
    check_simplex("proba", p)
    return p, False


def _prior(name: str, prior: Any, n_classes: int, *, strict: bool) -> np.ndarray:
    """A ``(C,)`` prior from a vector, or from the positive rate when there are two classes."""
    pi = as_array(name, prior, ndim=(0, 1), allow_empty=True)
    if pi.ndim == 0:
        if n_classes != 2:
            raise LossInputError(name, f"a vector of {n_classes} class priors", float(pi))
        pi = np.array([1.0 - pi, pi])
    if pi.shape != (n_classes,):
        raise LossInputError(name, f"a vector of {n_classes} class priors (one per column of proba)", pi.shape)
    low_ok = (pi > 0).all() if strict else (pi >= 0).all()
    if not low_ok or (pi > 1).any() or abs(pi.sum() - 1.0) > _PRIOR_ATOL:
        floor = "(0, 1]" if strict else "[0, 1]"
        raise LossInputError(name, f"class priors in {floor} summing to 1", pi.tolist())
    return pi


def _adjust(p: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    q = p * ratio
    total = q.sum(axis=1, keepdims=True)
    if (total == 0).any():
        warnings.warn(
            f"{int((total == 0).sum())} rows put all their probability on classes whose new prior is 0; "
            "their adjusted posteriors are NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
    with np.errstate(invalid="ignore"):
        return q / total


def _like(result: np.ndarray, binary: bool, proba: Any) -> np.ndarray | torch.Tensor:
    out = result[:, 1] if binary else result
    if isinstance(proba, torch.Tensor):
        return torch.as_tensor(out, device=proba.device, dtype=proba.dtype if proba.is_floating_point() else None)
    return out


def adjust_for_prior_shift(proba: Any, train_prior: Any, new_prior: Any) -> np.ndarray | torch.Tensor:
    """Re-weight posteriors from the training priors to new priors (one Bayes step).

    Args:
        proba: ``(N,)`` positive-class probabilities or ``(N, C)`` class probabilities.
        train_prior: class priors of the training data (all > 0).
        new_prior: class priors of the deployment data (≥ 0).

    Returns:
        Adjusted posteriors of the same shape (a tensor on the same device when ``proba`` is
        one, else a NumPy array).

    Example:
        >>> from losskit.evaluate import adjust_for_prior_shift
        >>> # odds 1:1 at a training positive rate of 0.5 become 1:3 at a positive rate of 0.25
        >>> adjust_for_prior_shift([0.5], 0.5, 0.25)
        array([0.25])
    """
    p, binary = _posteriors(proba)
    train = _prior("train_prior", train_prior, p.shape[1], strict=True)
    new = _prior("new_prior", new_prior, p.shape[1], strict=False)
    return _like(_adjust(p, new / train), binary, proba)


def estimate_prior_shift(
    proba: Any, train_prior: Any, *, max_iter: int = 1000, tol: float = 1e-8
) -> PriorShiftEstimate:
    """Estimate the class priors of unlabelled data with the EM of Saerens et al. (2002).

    Args:
        proba: calibrated ``(N,)`` positive-class or ``(N, C)`` class posteriors of the new data,
            from a model trained under ``train_prior``.
        train_prior: class priors of the training data (all > 0).
        max_iter: EM iterations at most.
        tol: stop when no prior moves by more than ``tol`` in an iteration.

    Returns:
        :class:`PriorShiftEstimate`; a :class:`RuntimeWarning` is issued when EM did not
        converge within ``max_iter``.
    """
    p, binary = _posteriors(proba)
    train = _prior("train_prior", train_prior, p.shape[1], strict=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise LossInputError("max_iter", "a positive integer", repr(max_iter))
    if not isinstance(tol, (int, float)) or not tol > 0:
        raise LossInputError("tol", "a positive number", repr(tol))
    prior, converged, n_iter = train, False, 0
    while n_iter < max_iter and not converged:
        n_iter += 1
        updated = _adjust(p, prior / train).mean(axis=0)
        converged = bool(np.abs(updated - prior).max() <= tol)
        prior = updated
    if not converged:
        warnings.warn(f"prior-shift EM did not converge in {max_iter} iterations.", RuntimeWarning, stacklevel=2)
    scalar = np.ndim(train_prior) == 0
    return PriorShiftEstimate(
        prior=float(prior[1]) if scalar else prior,
        proba=_like(_adjust(p, prior / train), binary, proba),
        n_iter=n_iter,
        converged=converged,
    )
