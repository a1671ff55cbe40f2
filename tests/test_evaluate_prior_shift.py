"""Prior-shift correction and the Saerens et al. (2002) EM estimate, on a known generative model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from losskit import LossInputError
from losskit.evaluate import adjust_for_prior_shift, estimate_prior_shift

MEANS = np.array([-2.0, 0.0, 2.0])  # class-conditional densities N(mean, 1), shared by both domains


def _posterior(x, prior):
    """Exact Bayes posterior p(y | x) of the Gaussian model under ``prior`` (written from densities)."""
    joint = norm.pdf(x[:, None], loc=MEANS[None, : len(prior)]) * np.asarray(prior)[None, :]
    return joint / joint.sum(axis=1, keepdims=True)


def _sample(prior, n, seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(len(prior), size=n, p=prior)
    return rng.normal(MEANS[y], 1.0), y


def test_hand_derived_binary():
    # Odds 1:1 under a positive rate of 0.5 become (1 * 0.25/0.5) : (1 * 0.75/0.5) = 1:3.
    assert adjust_for_prior_shift([0.5], 0.5, 0.25) == pytest.approx([0.25])
    assert adjust_for_prior_shift([0.5], [0.5, 0.5], [0.75, 0.25]) == pytest.approx([0.25])


def test_adjustment_equals_bayes_under_the_new_prior():
    train, new = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.2, 0.7])
    x = np.linspace(-4, 4, 41)
    adjusted = adjust_for_prior_shift(_posterior(x, train), train, new)
    np.testing.assert_allclose(adjusted, _posterior(x, new), rtol=1e-10)


def test_same_prior_is_identity_and_tensors_stay_tensors():
    proba = torch.tensor([[0.2, 0.8], [0.6, 0.4]], dtype=torch.float32)
    out = adjust_for_prior_shift(proba, [0.3, 0.7], [0.3, 0.7])
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, proba)


@pytest.mark.parametrize(
    ("train", "new"),
    [([0.5, 0.3, 0.2], [0.1, 0.2, 0.7]), ([1 / 3] * 3, [0.6, 0.3, 0.1])],
)
def test_em_recovers_known_prior_multiclass(train, new):
    x, y = _sample(new, 20000, seed=0)
    est = estimate_prior_shift(_posterior(x, train), train)
    assert est.converged
    empirical = np.bincount(y, minlength=3) / y.size
    np.testing.assert_allclose(est.prior, empirical, atol=0.02)
    # The adjusted posteriors are the Bayes posteriors under the estimated prior.
    np.testing.assert_allclose(est.proba, _posterior(x, est.prior), rtol=1e-8)


def test_em_recovers_known_prior_binary():
    x, y = _sample([0.8, 0.2], 20000, seed=1)
    proba = _posterior(x, [0.5, 0.5])[:, 1]
    est = estimate_prior_shift(proba, 0.5)
    assert isinstance(est.prior, float)
    assert est.prior == pytest.approx(y.mean(), abs=0.02)
    assert est.proba.shape == proba.shape


def test_em_without_shift_stays_put():
    prior = [0.3, 0.7]
    x, y = _sample(prior, 20000, seed=2)
    est = estimate_prior_shift(_posterior(x, prior), prior)
    np.testing.assert_allclose(est.prior, np.bincount(y) / y.size, atol=0.02)


def test_em_not_converged_warns():
    x, _ = _sample([0.8, 0.2], 500, seed=3)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        est = estimate_prior_shift(_posterior(x, [0.5, 0.5]), [0.5, 0.5], max_iter=1)
    assert not est.converged and est.n_iter == 1


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (([0.2, 1.2], 0.5, 0.5), "proba"),
        (([0.2, np.nan], 0.5, 0.5), "proba"),
        (([[0.2, 0.3]], [0.5, 0.5], [0.5, 0.5]), "proba"),
        (([0.2, 0.4], 0.0, 0.5), "train_prior"),
        (([0.2, 0.4], [0.5, 0.6], 0.5), "train_prior"),
        (([[0.2, 0.3, 0.5]], [0.5, 0.5], [0.2, 0.3, 0.5]), "train_prior"),
        (([[0.2, 0.3, 0.5]], [0.2, 0.3, 0.5], 0.5), "new_prior"),
        (([0.2, 0.4], 0.5, 1.5), "new_prior"),
    ],
)
def test_bad_input_names_the_argument(args, argument):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        adjust_for_prior_shift(*args)


def test_estimate_bad_input():
    with pytest.raises(LossInputError, match="`max_iter`"):
        estimate_prior_shift([0.2, 0.4], 0.5, max_iter=0)
    with pytest.raises(LossInputError, match="`tol`"):
        estimate_prior_shift([0.2, 0.4], 0.5, tol=-1.0)
    with pytest.raises(LossInputError, match="`train_prior`"):
        estimate_prior_shift([[0.2, 0.8]], [1.0, 0.0])
