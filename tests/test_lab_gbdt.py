"""``compare --model xgboost | lightgbm``: candidates checked before training, built-in objectives
equal to the losskit losses, multi-class starts that work on every XGBoost the extra allows,
and the regression objectives learning at the target's scale inside the lab.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_friedman1

from losskit import LossInputError, catalog, functional
from losskit.lab import gbdt_models
from losskit.lab.candidates import Candidate
from losskit.lab.compare import CompareOptions, run_compare
from losskit.lab.train import TrainConfig

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

FAST = TrainConfig(rounds=60, patience=10)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    x, y = make_friedman1(2000, noise=1.0, random_state=0)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame["price"] = 1000.0 * y  # a target in the thousands
    return frame


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_unsupported_explicit_loss_fails_before_any_training(prices, model, monkeypatch):
    calls = []
    monkeypatch.setattr(gbdt_models, "fit_gbdt", lambda *a, **k: calls.append(a))
    with pytest.raises(LossInputError, match="log_cosh_loss"):
        run_compare(prices, CompareOptions(target="price", model=model, losses="mse,log_cosh", bootstrap=10))
    assert calls == []  # refused before the first candidate trained
    with pytest.raises(LossInputError, match="reduction"):
        run_compare(prices, CompareOptions(target="price", model=model, losses="huber:reduction=1", bootstrap=10))
    assert calls == []


def test_check_candidates_keeps_only_tree_losses_under_auto():
    cands = [Candidate("log_cosh_loss"), Candidate("huber_loss", {"delta": 2.0}), Candidate("mse_loss")]
    kept = gbdt_models.check_candidates(cands, explicit=False)
    assert [c.name for c in kept] == ["huber_loss", "mse_loss"]
    with pytest.raises(LossInputError, match="log_cosh_loss"):
        gbdt_models.check_candidates(cands, explicit=True)
    with pytest.raises(LossInputError, match="at least one loss"):
        gbdt_models.check_candidates([Candidate("log_cosh_loss")], explicit=False)


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_auto_trains_the_tree_losses_and_says_which_advised_loss_it_drops(prices, model):
    corrupted = prices.copy()
    corrupted.loc[::20, "price"] *= 10.0  # data-entry errors: the advisor names robust losses, log_cosh too
    result = run_compare(corrupted, CompareOptions(target="price", model=model, bootstrap=10, train=FAST))
    names = [r.candidate.name for r in result.results]
    assert names == ["huber_loss", "mae_loss", "mse_loss"]
    assert all(catalog.lookup(n).gbdt is not None for n in names)
    dropped = [(d["loss"], d["why"]) for d in result.advice["not_trained"]]
    assert dropped == [("log_cosh_loss", f"no GBDT objective ({model})")]


@pytest.mark.parametrize("q", [0.5, 0.2])
def test_builtin_objectives_equal_the_losskit_loss(q):
    """The built-in the lab uses for mae / pinball is the same loss: each library's own metric of
    predictions equals the losskit loss (pinball at 0.5 is half the absolute error)."""
    import torch

    rng = np.random.default_rng(0)
    y, pred = rng.normal(1000, 300, 200), rng.normal(1000, 300, 200)
    ours = float(functional.pinball_loss(torch.as_tensor(pred)[:, None], torch.as_tensor(y), [q]))
    cand = Candidate("pinball_loss", frozen={"quantiles": [q]})
    xgb_params = gbdt_models.builtin_params("xgboost", cand)
    lgb_params = gbdt_models.builtin_params("lightgbm", cand)
    # one round with learning rate 0 and the predictions as margins: the metric sees exactly them
    d = xgb.DMatrix(np.zeros((200, 1)), label=y, base_margin=pred)
    metric = "mae" if q == 0.5 else "quantile"
    booster = xgb.train({**xgb_params, "eval_metric": metric, "learning_rate": 0.0}, d, 1)
    xgb_value = float(booster.eval(d).split(":")[-1])
    lset = lgb.Dataset(np.zeros((200, 1)), label=y, init_score=pred)
    evals: dict = {}
    lgb.train(
        {
            **lgb_params,
            "learning_rate": 1e-12,  # LightGBM refuses 0; the trees then move no prediction by 1e-9
            "boost_from_average": False,
            "verbosity": -1,
            "metric": "l1" if q == 0.5 else "quantile",
        },
        lset,
        1,
        valid_sets=[lset],
        callbacks=[lgb.record_evaluation(evals)],
    )
    lgb_value = next(iter(next(iter(evals.values())).values()))[-1]
    scale = 2.0 if q == 0.5 else 1.0  # mae = 2 * pinball(0.5)
    assert xgb_value == pytest.approx(scale * ours, rel=1e-5)
    assert lgb_value == pytest.approx(scale * ours, rel=1e-5)


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_regression_losses_learn_at_the_targets_scale_in_the_lab(prices, model):
    """Each regression candidate's test MAE is within 5% of its built-in counterpart's (L1; Huber,
    or XGBoost's pseudo-Huber), trained on the same inputs with the same early stopping (the
    losskit MAE objective with a unit Hessian stayed at the median predictor)."""
    result = run_compare(
        prices, CompareOptions(target="price", model=model, losses="mae,huber:delta=500", bootstrap=10)
    )
    maes = {r.candidate.name: r.test_metrics["mae"] for r in result.results}
    fold, test = result.plan.folds[0], result.plan.test
    features, y = result.table.features, prices["price"].to_numpy()
    pre = result.preprocessors[0]  # the lab's own model inputs (LightGBM's bins depend on them)
    x = np.full((len(y), result.n_inputs), np.nan, dtype=np.float32)
    for rows in (fold.train, fold.val, test):
        x[rows] = pre.transform(features.iloc[rows])
    patience, rounds = result.options.train.patience, result.options.train.rounds
    counterparts = {  # the built-in counterpart of each candidate, per library
        "xgboost": {
            "mae_loss": {"objective": "reg:absoluteerror"},
            "huber_loss": {"objective": "reg:pseudohubererror", "huber_slope": 500.0},
        },
        "lightgbm": {"mae_loss": {"objective": "l1"}, "huber_loss": {"objective": "huber", "alpha": 500.0}},
    }[model]
    median_only = float(np.mean(np.abs(np.median(y[fold.train]) - y[test])))
    for name, params in counterparts.items():
        builtin = _builtin(model, params, x, y, fold, test, rounds, patience)
        reference = float(np.mean(np.abs(builtin - y[test])))
        assert reference < 0.6 * median_only  # the table has signal to learn
        assert maes[name] <= 1.05 * reference, (name, maes[name], reference)


def _builtin(model, params, x, y, fold, test, rounds, patience):
    """The library's built-in objective, trained on the same rows with the same early stopping."""
    if model == "xgboost":
        dval = xgb.DMatrix(x[fold.val], label=y[fold.val])
        booster = xgb.train(
            # base_score at the median: reg:pseudohubererror diverges from XGBoost's own intercept
            {
                "learning_rate": 0.1,
                "max_depth": 6,
                "nthread": 1,
                "base_score": float(np.median(y[fold.train])),
                **params,
            },
            xgb.DMatrix(x[fold.train], label=y[fold.train]),
            rounds,
            evals=[(dval, "val")],
            early_stopping_rounds=patience,
            verbose_eval=False,
        )
        return booster.predict(xgb.DMatrix(x[test]), iteration_range=(0, booster.best_iteration + 1))
    train_set = lgb.Dataset(x[fold.train], label=y[fold.train])
    booster = lgb.train(
        {"learning_rate": 0.1, "max_depth": 6, "num_threads": 1, "verbosity": -1, **params},
        train_set,
        rounds,
        valid_sets=[lgb.Dataset(x[fold.val], label=y[fold.val], reference=train_set)],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    return booster.predict(x[test], num_iteration=booster.best_iteration)


def test_multiclass_xgboost_starts_from_per_row_margins_recorded_in_the_fit():
    frame = load_iris(as_frame=True).frame
    result = run_compare(frame, CompareOptions(target="target", model="xgboost", losses="cross_entropy", bootstrap=10))
    res = result.results[0]
    start = np.asarray(res.fits[0]["start"])
    assert start.shape == (3,)
    assert res.test_metrics["accuracy"] > 0.85
    # the saved booster plus the recorded start reproduces the test scores
    pre = result.preprocessors[0]
    x_test = np.asarray(pre.transform(result.table.features.iloc[result.plan.test]), dtype=np.float32)
    margin = np.tile(start, (len(x_test), 1))
    raw = res.models[0].predict(
        xgb.DMatrix(x_test, base_margin=margin), output_margin=True, iteration_range=(0, res.fits[0]["best_epoch"])
    )
    proba = np.exp(raw - raw.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba / proba.sum(axis=1, keepdims=True), res.test_scores, atol=1e-6)
