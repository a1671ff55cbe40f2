"""Count and positive-target losses against scikit-learn's deviances and PyTorch's Poisson NLL."""

from __future__ import annotations

import doctest
import importlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance, mean_tweedie_deviance

import losskit
from losskit import LossInputError

D = torch.float64


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    eta = rng.normal(0.5, 1.0, n)
    y = rng.poisson(np.exp(eta + rng.normal(0, 0.5, n))).astype(float)
    w = rng.uniform(0.1, 3.0, n)
    exposure = rng.uniform(0.2, 2.0, n)
    return eta, y, w, exposure


@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_equals_sklearn_mean_poisson_deviance(weighted):
    eta, y, w, _ = _data()
    got = losskit.poisson_loss(torch.tensor(eta), torch.tensor(y), weight=torch.tensor(w) if weighted else None)
    expected = mean_poisson_deviance(y, np.exp(eta), sample_weight=w if weighted else None)
    assert math.isclose(float(got), expected, rel_tol=1e-12)


@pytest.mark.parametrize("power", [1.01, 1.3, 1.5, 1.9])
def test_tweedie_equals_sklearn_mean_tweedie_deviance(power):
    eta, y, w, _ = _data(seed=1)
    got = losskit.tweedie_loss(torch.tensor(eta), torch.tensor(y), power=power, weight=torch.tensor(w))
    expected = mean_tweedie_deviance(y, np.exp(eta), power=power, sample_weight=w)
    assert math.isclose(float(got), expected, rel_tol=1e-10)


def test_gamma_equals_sklearn_mean_gamma_deviance():
    rng = np.random.default_rng(2)
    eta = rng.normal(0, 1, 300)
    y = rng.gamma(2.0, np.exp(eta) / 2.0)
    w = rng.uniform(0.1, 2.0, 300)
    got = losskit.gamma_loss(torch.tensor(eta), torch.tensor(y), weight=torch.tensor(w))
    assert math.isclose(float(got), mean_gamma_deviance(y, np.exp(eta), sample_weight=w), rel_tol=1e-12)


def test_poisson_gradient_is_twice_torch_poisson_nll():
    """PyTorch's poisson_nll_loss(log_input=True) is exp(x) - y x: half the deviance up to a constant."""
    eta, y, _, _ = _data(seed=3)
    x1 = torch.tensor(eta, requires_grad=True)
    x2 = torch.tensor(eta, requires_grad=True)
    losskit.poisson_loss(x1, torch.tensor(y), reduction="sum").backward()
    torch.nn.functional.poisson_nll_loss(x2, torch.tensor(y), log_input=True, reduction="sum").backward()
    torch.testing.assert_close(x1.grad, 2 * x2.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [losskit.poisson_loss, losskit.gamma_loss, losskit.tweedie_loss])
def test_offset_is_log_exposure(fn):
    """A rate model: offset log(t) is the same as predicting log(t) + x."""
    eta, y, _, t = _data(seed=4)
    y = y + 0.5  # positive for the Gamma deviance
    x = torch.tensor(eta, requires_grad=True)
    with_offset = fn(x, torch.tensor(y), offset=torch.log(torch.tensor(t)))
    (g1,) = torch.autograd.grad(with_offset, x)
    shifted = fn(x + torch.log(torch.tensor(t)), torch.tensor(y))
    (g2,) = torch.autograd.grad(shifted, x)
    torch.testing.assert_close(with_offset, shifted, rtol=1e-12, atol=0)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-15)
    # and scikit-learn agrees on the mean exp(x + log t) = t exp(x)
    if fn is losskit.poisson_loss:
        assert math.isclose(with_offset.detach().item(), mean_poisson_deviance(y, t * np.exp(eta)), rel_tol=1e-12)


@pytest.mark.parametrize("fn", [losskit.poisson_loss, losskit.gamma_loss, losskit.tweedie_loss])
def test_perfect_prediction_scores_zero_with_zero_gradient(fn):
    y = torch.tensor([0.5, 1.0, 3.0, 250.0, 1e4], dtype=D)
    x = torch.log(y).requires_grad_(True)
    out = fn(x, y, reduction="sum")
    (g,) = torch.autograd.grad(out, x)
    out = out.detach()
    assert abs(out.item()) < 1e-10
    assert g.abs().max() < 1e-9


def test_poisson_and_gamma_accurate_in_float32_near_large_targets():
    """Close to a large target the deviance is a small difference of large terms: computed from
    log(y / mu) with expm1 it keeps float32 precision (the naive form loses ~1e-3 absolute here)."""
    y = torch.tensor([1000.0, 5e4])
    x = torch.log(y) + torch.tensor([1e-3, -2e-3])
    for fn in (losskit.poisson_loss, losskit.gamma_loss):
        got = fn(x, y, reduction="none")
        ref = fn(x.double(), y.double(), reduction="none")
        torch.testing.assert_close(got.double(), ref, rtol=1e-3, atol=0)


@pytest.mark.parametrize("fn", [losskit.poisson_loss, losskit.gamma_loss, losskit.tweedie_loss])
def test_finite_value_and_gradient_at_extreme_log_rates(fn):
    x = torch.tensor([-80.0, -30.0, 0.0, 30.0, 80.0], requires_grad=True)
    y = torch.tensor([0.0, 3.0, 1.0, 2.0, 7.0]) + (1.0 if fn is losskit.gamma_loss else 0.0)
    out = fn(x, y)
    (g,) = torch.autograd.grad(out, x)
    assert torch.isfinite(out) and torch.isfinite(g).all()


def test_tweedie_tends_to_poisson_and_gamma_at_the_ends():
    eta, y, _, _ = _data(seed=5)
    x, yt = torch.tensor(eta), torch.tensor(y) + 0.25
    torch.testing.assert_close(
        losskit.tweedie_loss(x, yt, power=1 + 1e-7), losskit.poisson_loss(x, yt), rtol=1e-5, atol=0
    )
    torch.testing.assert_close(
        losskit.tweedie_loss(x, yt, power=2 - 1e-7), losskit.gamma_loss(x, yt), rtol=1e-5, atol=0
    )


def test_bad_power_and_targets_raise():
    x = torch.zeros(3)
    with pytest.raises(LossInputError, match="`power`"):
        losskit.tweedie_loss(x, torch.ones(3), power=1.0)
    with pytest.raises(LossInputError, match="`target`"):
        losskit.poisson_loss(x, torch.tensor([1.0, -1.0, 0.0]))
    with pytest.raises(LossInputError, match="`target`"):
        losskit.gamma_loss(x, torch.tensor([1.0, 0.0, 2.0]))
    with losskit.validation(False):  # value checks can be switched off on hot paths
        losskit.poisson_loss(x, torch.tensor([1.0, -1.0, 0.0]))


@pytest.mark.parametrize(
    "module",
    [
        "losskit.functional.counts",
        "losskit.functional.ordinal",
        "losskit.functional.listwise",
        "losskit.evaluate.counts",
        "losskit.evaluate.ordinal",
        "losskit.evaluate.ranking",
    ],
)
def test_docstring_examples_run(module):
    """Every ``Example:`` in the count, ordinal and ranking modules runs and prints what it shows."""
    result = doctest.testmod(importlib.import_module(module))
    assert (result.failed == 0 and result.attempted > 0) or module == "losskit.gbdt.counts"


@pytest.mark.parametrize("page", ["counts.md", "ordinal.md", "listwise.md"])
def test_docs_examples_run(page):
    """The Python examples of the count, ordinal and listwise documentation run as written."""
    text = (Path(__file__).parents[1] / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page} example {i}", "exec"), {})
