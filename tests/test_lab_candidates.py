"""The lab's candidates come from the catalog and the structured advice: every auto comparison
compares, transforms and resampling are trained as such, the positive class is the advisor's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets, metrics

from losskit import LossInputError, catalog
from losskit.lab.candidates import Candidate, make_loss, prior_correction, resample_rows
from losskit.lab.compare import CompareOptions, choose_candidates, run_compare
from losskit.lab.data import prepare
from losskit.lab.train import TrainConfig

ONE_EPOCH = TrainConfig(epochs=1, batch_size=64, hidden=(8,), patience=1)
FEW = TrainConfig(epochs=12, batch_size=32, hidden=(16,), patience=4)


def _frame(task: str, n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    if task == "regression":
        y = np.exp(1.0 + x[:, 0] + 0.3 * rng.normal(size=n))
    elif task == "ranking":  # 20 queries of 8 rows, graded relevance 0..2
        y = np.digitize(x[:, 0] + 0.5 * rng.normal(size=n), [0.0, 1.0])
    elif task == "binary":
        y = np.where(x[:, 0] + 0.5 * rng.normal(size=n) > 1.0, "rare", "common")
    else:
        y = np.array(["a", "b", "c"])[np.digitize(x[:, 0], [-0.5, 0.5])]
    frame = pd.DataFrame({"u": x[:, 0], "v": x[:, 1], "w": x[:, 2], "y": y})
    return frame.assign(q=np.arange(n) // 8) if task == "ranking" else frame


@pytest.mark.parametrize(
    ("task", "entry"),
    [(t, e) for t in ("binary", "multiclass", "regression", "ranking") for e in catalog.trainable(t)],
    ids=lambda v: getattr(v, "name", v),
)
def test_every_lab_trainable_entry_trains_for_one_epoch(task: str, entry: catalog.LossEntry) -> None:
    spec = entry.name + (":quantiles=0.5" if entry.name == "pinball_loss" else "")
    group = "q" if task == "ranking" else None
    opts = CompareOptions(target="y", task=task, losses=spec, train=ONE_EPOCH, bootstrap=5, group=group)
    result = run_compare(_frame(task), opts)
    (only,) = result.results
    # a budget of one epoch, extended up to 4x while the candidate still improves
    assert only.candidate.name == entry.name and 1 <= only.fits[0]["epochs_run"] <= 4
    assert np.isfinite(only.value)


def _auto(task: str, frame: pd.DataFrame, **kw: object):
    return run_compare(frame, CompareOptions(target="y", task=task, train=ONE_EPOCH, bootstrap=5, **kw))


def test_auto_multiclass_compares_plain_smoothed_and_focal() -> None:
    result = _auto("multiclass", _frame("multiclass"))
    labels = [r.candidate.label for r in result.results]
    assert labels[0] == "cross_entropy" and result.results[0].candidate.origin == "advisor"
    assert "cross_entropy(label_smoothing=0.1)" in labels and "focal_loss(gamma=2)" in labels
    assert len(labels) >= 3


def test_auto_imbalanced_multiclass_adds_class_weights_and_oversampling() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(["big", "mid", "tiny"], p=[0.85, 0.1, 0.05], size=400)
    frame = pd.DataFrame({"u": rng.normal(size=400) + (y == "tiny"), "y": y})
    result = _auto("multiclass", frame)
    cands = [r.candidate for r in result.results]
    assert cands[0].name == "cross_entropy" and "weight" in cands[0].frozen  # the advisor's class weights
    assert any(c.resample == "over" for c in cands) and any(c.name == "focal_loss" for c in cands)
    assert any(c.origin == "baseline" and not c.options for c in cands)  # plain CE beside them


def test_auto_regression_on_a_log_scale_target_trains_log1p_and_scores_in_original_units() -> None:
    frame = _frame("regression", n=300)
    result = _auto("regression", frame)
    first = result.results[0]
    assert first.candidate.target_transform == "log1p" and first.candidate.label == "mse_loss on log1p(y)"
    assert any(r.candidate.label == "mse_loss" for r in result.results)  # plain MSE on the raw target beside it
    assert first.fits[0]["target_transform"] == {"name": "log1p", "inverse": "expm1"}
    # the scores are in the target's units: the test MAE is that of expm1(prediction)
    mae = metrics.mean_absolute_error(result.y_test, first.test_scores)
    assert first.test_metrics["mae"] == pytest.approx(mae)
    assert 0 < np.median(first.test_scores) < 3 * np.median(result.y_test)
    assert not any("raw target" in r for r in first.candidate.reasons)


def test_explicit_log1p_candidate_beats_raw_mse_on_a_multiplicative_target() -> None:
    frame = _frame("regression", n=400, seed=3)
    opts = CompareOptions(
        target="y",
        task="regression",
        losses="mse:target=log1p,mse",
        metric="median_absolute_error",
        train=FEW,
        bootstrap=5,
    )
    log_fit, raw_fit = run_compare(frame, opts).results
    assert log_fit.candidate.label == "mse_loss on log1p(y)" and raw_fit.candidate.label == "mse_loss"
    assert log_fit.test_metrics["median_absolute_error"] < raw_fit.test_metrics["median_absolute_error"]


def test_resampling_touches_training_rows_only_and_the_prior_is_corrected() -> None:
    y = np.r_[np.zeros(90, dtype=np.int64), np.ones(10, dtype=np.int64)]
    under = resample_rows(Candidate("binary_cross_entropy_with_logits", resample="under"), y, seed=0)
    over = resample_rows(Candidate("binary_cross_entropy_with_logits", resample="over"), y, seed=0)
    assert np.bincount(y[under]).tolist() == [10, 10] and np.bincount(y[over]).tolist() == [90, 90]
    assert len(np.unique(under)) == 20  # a subset of the rows, no duplicates
    # a 50% score at the balanced prior is the true prior's 10% after the Bayes step
    np.testing.assert_allclose(prior_correction(np.array([0.5]), y[under], y, 2), [0.1])


def test_auto_rare_positives_train_the_undersampled_candidate() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(800, 2))
    y = np.where(x[:, 0] + 0.3 * rng.normal(size=800) > 1.6, "fraud", "ok")
    result = _auto("binary", pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}))
    under = next(r for r in result.results if r.candidate.resample == "under")
    fit = under.fits[0]["prior_correction"]
    assert fit["fitted_prior"] == [0.5, 0.5] and fit["true_prior"][1] < 0.1
    n_train = len(result.plan.folds[0].train)
    assert fit["rows"] < n_train and len(result.y_test) == len(result.plan.test)  # test rows untouched
    assert 0 < under.test_scores.mean() < 0.2  # scores back at the true prior, not at 50%


def test_make_loss_freezes_data_derived_options_from_the_catalog() -> None:
    cand = Candidate("cross_entropy", {"weight": "balanced"})
    make_loss(cand, np.array([0, 0, 0, 1, 2, 2]), 3)
    assert cand.frozen["weight"] == pytest.approx([6 / 9, 2.0, 1.0])


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    """scikit-learn's breast cancer table, labels as strings that sort the majority second."""
    data = datasets.load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame["y"] = np.where(frame.pop("target") == 0, "cancer", "healthy")  # 212 cancer, 357 healthy
    return frame


def test_string_labels_score_the_minority_class(cancer: pd.DataFrame) -> None:
    opts = CompareOptions(target="y", losses="bce", train=FEW, bootstrap=5)
    result = run_compare(cancer, opts)
    assert result.table.positive_class == "cancer" and result.table.classes == ["healthy", "cancer"]
    test_labels = cancer["y"].to_numpy()[result.plan.test]
    np.testing.assert_array_equal(result.y_test, (test_labels == "cancer").astype(int))
    w = result.winner
    pred = (w.test_scores >= w.threshold).astype(int)
    assert w.test_metrics["recall"] == pytest.approx(metrics.recall_score(test_labels == "cancer", pred))
    assert w.test_metrics["precision"] == pytest.approx(metrics.precision_score(test_labels == "cancer", pred))
    assert result.advice is None or result.advice["positive_class"] == "cancer"


def test_pos_label_overrides_the_positive_class(cancer: pd.DataFrame) -> None:
    opts = CompareOptions(target="y", losses="bce", pos_label="healthy", train=ONE_EPOCH, bootstrap=5)
    result = run_compare(cancer, opts)
    assert result.table.positive_class == "healthy" and result.y_test.mean() > 0.5


def test_tree_models_get_only_losses_with_a_gbdt_objective_before_training() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=300)
    y[:15] += 40.0  # outliers: the advisor picks Huber, with MAE and log-cosh as alternatives
    frame = pd.DataFrame({"u": rng.normal(size=300), "y": y})
    table = prepare(frame, "y")
    chosen, said = choose_candidates("auto", table, table.y, table.features, "xgboost")
    assert [c.name for c in chosen] == ["huber_loss", "mae_loss", "mse_loss"]
    assert [d["loss"] for d in said["not_trained"]] == ["log_cosh_loss"]
    with pytest.raises(LossInputError, match="GBDT objective"):
        choose_candidates("mse,log_cosh", table, table.y, table.features, "lightgbm")
