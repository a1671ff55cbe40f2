"""The lab on a count target: the advisor recommends the Poisson deviance, which the lab cannot
train yet (its output is a log-mean, not a prediction of the count); it is listed as not trained
instead of being scored as if its log-mean were a prediction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from losskit.cli import main


def test_count_target_recommendation_is_listed_not_trained(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame["y"] = rng.poisson(np.exp(0.5 * x[:, 0] + 1.0))
    frame.to_csv(tmp_path / "d.csv", index=False)
    args = ["compare", str(tmp_path / "d.csv"), "--target", "y", "--task", "regression", "--out", str(tmp_path / "o")]
    assert main([*args, "--epochs", "2", "--bootstrap", "10", "--quiet", "--batch-size", "64"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    advice = summary["advice"]
    assert advice["row"] == "regression_counts" and advice["loss"] == "poisson_loss"
    assert {(d["loss"], d["origin"]) for d in advice["not_trained"]} >= {("poisson_loss", "advisor")}
    trained = {c["name"] for c in summary["candidates"]}
    assert "poisson_loss" not in trained and "tweedie_loss" not in trained
    assert "mse_loss" in trained  # the baseline and the log1p alternative still run
