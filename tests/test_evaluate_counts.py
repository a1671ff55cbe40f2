"""Count, ordinal and ranking metrics against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    average_precision_score,
    cohen_kappa_score,
    d2_tweedie_score,
    mean_gamma_deviance,
    mean_poisson_deviance,
    mean_tweedie_deviance,
    ndcg_score,
)

from losskit import LossInputError
from losskit.evaluate import (
    d2_score,
    gamma_deviance,
    level_mae,
    map_at_k,
    mrr,
    ndcg_at_k,
    poisson_deviance,
    quadratic_weighted_kappa,
    tweedie_deviance,
)


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    mu = np.exp(rng.normal(0.5, 1.0, 300))
    y = rng.poisson(mu * np.exp(rng.normal(0, 0.4, 300))).astype(float)
    return y, mu, rng.uniform(0.1, 2.0, 300)


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize("weighted", [False, True])
def test_deviances_equal_sklearn(counts, weighted):
    y, mu, w = counts
    sw = w if weighted else None
    assert math.isclose(
        poisson_deviance(y, mu, sample_weight=sw), mean_poisson_deviance(y, mu, sample_weight=sw), rel_tol=1e-12
    )
    for p in (1.2, 1.5, 1.8):
        expected = mean_tweedie_deviance(y, mu, power=p, sample_weight=sw)
        assert math.isclose(tweedie_deviance(y, mu, power=p, sample_weight=sw), expected, rel_tol=1e-10)
    yp = y + 0.5
    assert math.isclose(
        gamma_deviance(yp, mu, sample_weight=sw), mean_gamma_deviance(yp, mu, sample_weight=sw), rel_tol=1e-12
    )
    # the ends of the Tweedie family
    assert math.isclose(tweedie_deviance(y, mu, power=1.0), mean_poisson_deviance(y, mu), rel_tol=1e-12)
    assert math.isclose(tweedie_deviance(yp, mu, power=2.0), mean_gamma_deviance(yp, mu), rel_tol=1e-12)


@pytest.mark.parametrize("power", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_d2_equals_sklearn(counts, power, weighted):
    y, mu, w = counts
    y = y + (0.5 if power == 2.0 else 0.0)
    sw = w if weighted else None
    expected = d2_tweedie_score(y, mu, power=power, sample_weight=sw)
    assert math.isclose(d2_score(y, mu, power=power, sample_weight=sw), expected, rel_tol=1e-10)
    assert 0.0 < expected < 1.0


def test_deviance_has_the_right_sign_and_d2_is_undefined_for_a_constant_target():
    y = np.array([0.0, 2.0, 5.0])
    assert poisson_deviance(y, [0.1, 2.0, 5.0]) > 0  # a worse prediction costs more, never less
    assert poisson_deviance(y, [1.0, 2.0, 5.0]) < poisson_deviance(y, [3.0, 2.0, 5.0])  # y = 0: mu 1 beats 3
    assert gamma_deviance([1.0, 2.0], [1.0, 2.0]) == 0.0
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(d2_score([2.0, 2.0], [1.0, 3.0]))


def test_count_metric_bad_input():
    with pytest.raises(LossInputError, match="`y_pred`"):
        poisson_deviance([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(LossInputError, match="`y_true`"):
        poisson_deviance([1.0, -2.0], [1.0, 1.0])
    with pytest.raises(LossInputError, match="`y_true`"):
        gamma_deviance([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(LossInputError, match="`power`"):
        d2_score([1.0], [1.0], power=3.0)
    with pytest.raises(LossInputError, match="`y_pred`"):
        poisson_deviance([1.0, 2.0], [1.0])


# --------------------------------------------------------------------------- ordinal


def test_qwk_equals_sklearn_with_all_levels():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 200)
    p = np.clip(y + rng.integers(-2, 3, 200), 0, 4)
    w = rng.uniform(0.1, 2.0, 200)
    for sw in (None, w):
        expected = cohen_kappa_score(y, p, weights="quadratic", labels=np.arange(5), sample_weight=sw)
        assert math.isclose(quadratic_weighted_kappa(y, p, sample_weight=sw), expected, rel_tol=1e-12)
    # a level nobody uses still counts as a level (sklearn needs labels= for that)
    y2, p2 = np.where(y == 2, 3, y), np.where(p == 2, 3, p)
    expected = cohen_kappa_score(y2, p2, weights="quadratic", labels=np.arange(5))
    assert math.isclose(quadratic_weighted_kappa(y2, p2), expected, rel_tol=1e-12)
    assert math.isclose(quadratic_weighted_kappa(y2, p2, num_levels=7), expected, rel_tol=1e-12)


def test_level_mae_and_qwk_edge_cases():
    assert level_mae([0, 1, 4], [0, 3, 4], sample_weight=[1.0, 2.0, 1.0]) == 1.0
    assert quadratic_weighted_kappa([0, 1, 2], [0, 1, 2]) == 1.0
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(quadratic_weighted_kappa([1, 1], [1, 1]))
    with pytest.raises(LossInputError, match="`y_pred`"):
        level_mae([0, 1], [0, 1.5])
    with pytest.raises(LossInputError, match="`num_levels`"):
        quadratic_weighted_kappa([0, 3], [0, 1], num_levels=3)
    with pytest.raises(LossInputError, match="`y_true`"):
        level_mae([0, -1], [0, 1])


# --------------------------------------------------------------------------- ranking


def _ranking(seed=2, n=12, length=9, tied=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, (n, length)).astype(float)
    s = rng.normal(size=(n, length))
    if tied:
        s = np.round(s)  # many ties
    lengths = rng.integers(3, length + 1, n)
    mask = np.arange(length)[None, :] < lengths[:, None]
    return y, s, mask


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("k", [None, 1, 3, 5])
def test_ndcg_equals_sklearn_per_list(k, tied):
    y, s, mask = _ranking(tied=tied)
    w = np.linspace(0.5, 2.0, len(y))
    per_list = [ndcg_score([y[i][mask[i]]], [s[i][mask[i]]], k=k) for i in range(len(y))]
    assert math.isclose(ndcg_at_k(y, s, k=k, mask=mask, gain="linear"), np.mean(per_list), rel_tol=1e-12)
    assert math.isclose(
        ndcg_at_k(y, s, k=k, mask=mask, gain="linear", sample_weight=w), np.average(per_list, weights=w), rel_tol=1e-12
    )
    exp_lists = [ndcg_score([2.0 ** y[i][mask[i]] - 1], [s[i][mask[i]]], k=k) for i in range(len(y))]
    assert math.isclose(ndcg_at_k(y, s, k=k, mask=mask), np.mean(exp_lists), rel_tol=1e-12)


def test_padding_is_ignored_whatever_it_holds():
    y, s, mask = _ranking(seed=3)
    garbage_y = np.where(mask, y, 99.0)
    garbage_s = np.where(mask, s, np.nan)
    for metric in (ndcg_at_k, mrr, map_at_k):
        assert metric(garbage_y, garbage_s, mask=mask) == metric(
            np.where(mask, y, 0.0), np.where(mask, s, -1e9), mask=mask
        )


def test_map_equals_sklearn_average_precision_and_map_at_k_by_hand():
    y, s, mask = _ranking(seed=4)
    per_list = []
    for i in range(len(y)):
        rel = y[i][mask[i]] > 0
        per_list.append(average_precision_score(rel, s[i][mask[i]]) if rel.any() else 0.0)
    assert math.isclose(map_at_k(y, s, mask=mask), np.mean(per_list), rel_tol=1e-12)
    # relevant at ranks 1, 3, 4 of 5; @3: (1/1 + 2/3) / min(3, 3)
    rel, scores = [[1, 0, 1, 1, 0]], [[5.0, 4.0, 3.0, 2.0, 1.0]]
    assert math.isclose(map_at_k(rel, scores, k=3), (1 + 2 / 3) / 3, rel_tol=1e-12)
    assert math.isclose(map_at_k(rel, scores, k=1), 1.0, rel_tol=1e-12)
    assert math.isclose(map_at_k(rel, scores), (1 + 2 / 3 + 3 / 4) / 3, rel_tol=1e-12)


def test_mrr_and_ties_count_against_relevant_entries():
    assert mrr([[0, 0, 2, 1]], [[0.4, 0.3, 0.2, 0.9]]) == 1.0
    assert mrr([[0, 0, 2, 1]], [[0.9, 0.8, 0.7, 0.1]]) == 1 / 3
    assert mrr([[0, 0, 0]], [[1.0, 2.0, 3.0]]) == 0.0
    # a constant scorer: the relevant entry ranks after every tied irrelevant one
    assert mrr([[0, 1, 0, 0]], [[1.0, 1.0, 1.0, 1.0]]) == 0.25
    assert map_at_k([[0, 1, 0, 0]], [[1.0, 1.0, 1.0, 1.0]]) == 0.25


def test_ranking_metric_bad_input():
    with pytest.raises(LossInputError, match="`y_true`"):
        ndcg_at_k([1.0, 0.0], [0.2, 0.1])
    with pytest.raises(LossInputError, match="`y_score`"):
        mrr([[1.0, 0.0]], [[0.2, 0.1, 0.0]])
    with pytest.raises(LossInputError, match="`mask`"):
        map_at_k([[1.0, 0.0]], [[0.2, 0.1]], mask=[[1, 1]])
    with pytest.raises(LossInputError, match="`k`"):
        ndcg_at_k([[1.0, 0.0]], [[0.2, 0.1]], k=0)
    with pytest.raises(LossInputError, match="`gain`"):
        ndcg_at_k([[1.0, 0.0]], [[0.2, 0.1]], gain="exp")
    with pytest.raises(LossInputError, match="`y_true`"):
        ndcg_at_k([[-1.0, 0.0]], [[0.2, 0.1]])
    with pytest.raises(LossInputError, match="`y_score`"):
        mrr([[1.0, 0.0]], [[np.nan, 0.1]])
