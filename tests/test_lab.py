"""End to end: ``losskit compare`` on small tables; every artefact produced and parseable; bad inputs.

Sizes are tiny (a few hundred rows, a few epochs): these tests check plumbing and contracts,
not model quality.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from losskit.cli import main
from losskit.lab.candidates import Candidate, make_loss, parse_losses
from losskit.lab.card import ModelCard
from losskit.lab.models import optimal_start

FAST = ["--epochs", "3", "--bootstrap", "20", "--quiet", "--batch-size", "64"]


def _binary_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    logit = 2.0 * x[:, 0] - x[:, 1] - 2.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n)
    frame.loc[::37, "b"] = np.nan  # 17 missing values to impute
    frame.loc[[0, 1, 2], "colour"] = None
    frame["label"] = np.where(y == 1, "yes", "no")
    frame.loc[[5, 6], "label"] = None  # two rows without a target
    return frame


def _regression_frame(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 3.0 * x[:, 0] + x[:, 1] + rng.normal(scale=0.5, size=n)
    y[:10] += 50.0  # outliers
    frame = pd.DataFrame(x, columns=["u", "v", "w"])
    frame["y"] = y
    return frame


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lab_binary")
    _binary_frame().to_csv(d / "data.csv", index=False)
    assert main(["compare", str(d / "data.csv"), "--target", "label", "--out", str(d / "out"), *FAST]) == 0
    return d


def test_compare_writes_every_artefact(binary_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = binary_run / "out"
    for name in (
        "report.html",
        "model_card.json",
        "model_card.md",
        "metrics.csv",
        "summary.json",
        "model.pt",
        "preprocessor.joblib",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    names = [c["name"] for c in summary["candidates"]]
    # auto = the advisor's pick for a ~10% minority (unweighted BCE, which is also the plain baseline) and
    # its alternatives: focal, BCE with pos_weight=balanced (frozen from the training labels) and BCE on
    # undersampled training rows
    assert summary["candidates"][0]["origin"] == "advisor"
    assert "binary_focal_loss" in names and names.count("binary_cross_entropy_with_logits") == 3
    assert summary["positive_class"] == "yes"  # the minority of "yes" / "no"
    assert [c["resample"] for c in summary["candidates"]].count("under") == 1
    assert any(c["loss"].endswith("+ undersampling") for c in summary["candidates"])
    weighted = [c for c in summary["candidates"] if c["origin"] == "alternative" and "pos_weight" in c["options"]]
    assert len(weighted) == 1 and isinstance(weighted[0]["options"]["pos_weight"], float)
    assert summary["metric"] == "average_precision"  # the advisor's first metric for a rare positive class
    for c in summary["candidates"]:
        low, high = c["interval"]
        assert low <= c["value"] <= high
        assert 0.0 < c["threshold"] < 1.0
    assert math.isclose(sum(c["win_rate"] for c in summary["candidates"]), 1.0)


def test_metrics_csv_logs_every_epoch_with_reference_loss(binary_run: Path) -> None:
    rows = list(csv.DictReader((binary_run / "out" / "metrics.csv").open()))
    by_loss: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_loss.setdefault(row["loss"], []).append(row)
    assert len(by_loss) == 4
    for loss_rows in by_loss.values():
        assert [int(r["epoch"]) for r in loss_rows] == list(range(1, len(loss_rows) + 1))
        for r in loss_rows:
            for key in ("train_loss", "val_loss", "train_ref", "val_ref", "val_average_precision", "val_roc_auc"):
                assert math.isfinite(float(r[key])), key
    plain = by_loss["binary_cross_entropy_with_logits"]
    # for the plain baseline the candidate loss *is* the reference loss, on both splits
    for r in plain:
        assert float(r["val_loss"]) == pytest.approx(float(r["val_ref"]), rel=1e-5)
        assert float(r["train_loss"]) == pytest.approx(float(r["train_ref"]), rel=1e-4)


def test_model_card_round_trips_and_records_the_run(binary_run: Path) -> None:
    path = binary_run / "out" / "model_card.json"
    card = ModelCard.load(path)
    assert ModelCard.from_dict(json.loads(card.to_json())) == card
    data = json.loads(path.read_text())
    assert data["task"] == "binary" and data["classes"] == ["no", "yes"]
    assert data["data"]["dropped_rows"] == 2 and set(data["data"]["imputed"]) == {"b", "colour"}
    assert 0 < data["data"]["imputed"]["b"] <= 17 and 0 < data["data"]["imputed"]["colour"] <= 3
    assert data["splits"]["train"] + data["splits"]["val"] + data["splits"]["test"] == 598
    assert len(data["data"]["fingerprint"]) == 64
    assert {"torch", "numpy", "scikit-learn", "losskit"} <= set(data["versions"])
    assert data["metric"]["low"] <= data["metric"]["value"] <= data["metric"]["high"]
    assert len(data["reference"]["score_quantiles"]) == 201
    assert any(r.startswith("At the default threshold 0.5") for r in data["loss"]["reasons"])
    assert any("tuned on validation for F1 (average_precision itself does not" in r for r in data["loss"]["reasons"])
    if "pos_weight" in data["loss"]["options"]:  # frozen as a number, not "balanced"
        assert isinstance(data["loss"]["options"]["pos_weight"], float)
    md = (binary_run / "out" / "model_card.md").read_text()
    assert "Model card" in md and data["loss"]["name"] in md


def test_saved_model_reproduces_test_scores(binary_run: Path) -> None:
    import joblib

    from losskit.lab.models import TabularNet

    out = binary_run / "out"
    saved = torch.load(out / "model.pt", weights_only=False)
    pre = joblib.load(out / "preprocessor.joblib")
    cfg = saved["config"]
    net = TabularNet(cfg["n_features"], cfg["n_outputs"], cfg["hidden"])
    net.load_state_dict(saved["state_dicts"][0])
    frame = _binary_frame().dropna(subset=["label"]).drop(columns=["label"])
    with torch.no_grad():
        p = torch.sigmoid(net(torch.as_tensor(pre.transform(frame), dtype=torch.float32)))
    assert p.shape == (598,) and bool(((p > 0) & (p < 1)).all())
    assert saved["threshold"] == ModelCard.load(out / "model_card.json").threshold


def test_regression_explicit_losses_and_cv(tmp_path: Path) -> None:
    _regression_frame().to_parquet(tmp_path / "r.parquet")
    args = [
        "compare",
        str(tmp_path / "r.parquet"),
        "--target",
        "y",
        "--losses",
        "mse,huber:delta=1.5,mae",
        "--model",
        "linear",
        "--cv",
        "2",
        "--metric",
        "median_absolute_error",
        "--out",
        str(tmp_path / "o"),
        *FAST,
    ]
    assert main(args) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [c["loss"] for c in summary["candidates"]] == ["mse_loss", "huber_loss(delta=1.5)", "mae_loss"]
    assert all(len(c["fits"]) == 2 for c in summary["candidates"])  # one fit per fold
    card = json.loads((tmp_path / "o" / "model_card.json").read_text())
    assert card["splits"]["folds"] == 2 and card["threshold"] is None
    assert len(card["reference"]["target_quantiles"]) == 201


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_gbdt_models_train_on_losskit_objectives(tmp_path: Path, model: str) -> None:
    _binary_frame(400).to_csv(tmp_path / "d.csv", index=False)
    args = [
        "compare",
        str(tmp_path / "d.csv"),
        "--target",
        "label",
        "--losses",
        "bce,focal:gamma=1",
        "--model",
        model,
        "--rounds",
        "8",
        "--out",
        str(tmp_path / "o"),
        *FAST,
    ]
    assert main(args) == 0
    rows = list(csv.DictReader((tmp_path / "o" / "metrics.csv").open()))
    assert {r["loss"] for r in rows} == {"binary_cross_entropy_with_logits", "binary_focal_loss(gamma=1)"}
    suffix = "model.xgb.json" if model == "xgboost" else "model.lgb.txt"
    assert (tmp_path / "o" / suffix).is_file()


def test_multiclass_with_balanced_class_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(450, 3))
    y = np.digitize(x[:, 0] + 0.3 * rng.normal(size=450), [-0.8, 0.9])
    frame = pd.DataFrame(x, columns=["p", "q", "r"]).assign(kind=np.array(["ant", "bee", "cat"])[y])
    frame.to_csv(tmp_path / "m.csv", index=False)
    args = [
        "compare",
        str(tmp_path / "m.csv"),
        "--target",
        "kind",
        "--losses",
        "ce:weight=balanced,focal",
        "--out",
        str(tmp_path / "o"),
        *FAST,
    ]
    assert main(args) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    weights = summary["candidates"][0]["options"]["weight"]
    counts = np.bincount(y)  # frozen balanced weights follow n / (C n_c) of the *training* rows
    assert len(weights) == 3 and np.argmax(weights) == np.argmin(counts)
    assert summary["metric"] == "macro_f1"


# ------------------------------------------------------------------------------------ bad inputs
def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" not in line]
    assert len(err) == 1, err
    assert err[0].startswith("losskit compare: error:")
    return err[0]


def test_missing_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path / "absent.csv"), "--target", "y", *FAST]) == 2
    assert "DATA" in _error_line(capsys)


def test_missing_column_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _regression_frame(50).to_csv(tmp_path / "d.csv", index=False)
    assert main(["compare", str(tmp_path / "d.csv"), "--target", "nope", *FAST]) == 2
    assert "`--target`" in _error_line(capsys)


def test_one_class_target_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"x": range(20), "y": ["a"] * 20}).to_csv(tmp_path / "d.csv", index=False)
    assert main(["compare", str(tmp_path / "d.csv"), "--target", "y", *FAST]) == 2
    assert "two classes" in _error_line(capsys)


def test_non_numeric_regression_target_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"x": range(20), "y": list("ab") * 10}).to_csv(tmp_path / "d.csv", index=False)
    assert main(["compare", str(tmp_path / "d.csv"), "--target", "y", "--task", "regression", *FAST]) == 2
    assert "numeric" in _error_line(capsys)


def test_unknown_loss_name_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _regression_frame(50).to_csv(tmp_path / "d.csv", index=False)
    assert main(["compare", str(tmp_path / "d.csv"), "--target", "y", "--losses", "mse,squish", *FAST]) == 2
    assert "'squish'" in _error_line(capsys)


def test_unknown_loss_option_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _regression_frame(50).to_csv(tmp_path / "d.csv", index=False)
    assert main(["compare", str(tmp_path / "d.csv"), "--target", "y", "--losses", "huber:width=2", *FAST]) == 2
    assert "huber_loss" in _error_line(capsys)


def test_missing_tracker_is_exit_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec  # mlflow looks uninstalled, whether or not it is
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else find_spec(name, *a))
    assert main(["compare", str(tmp_path / "x.csv"), "--target", "y", "--log-to", "mlflow", *FAST]) == 2
    assert "pip install 'losskit[track]'" in _error_line(capsys)


def test_distributed_outside_torchrun_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _regression_frame(50).to_csv(tmp_path / "d.csv", index=False)
    assert main(["compare", str(tmp_path / "d.csv"), "--target", "y", "--distributed", *FAST]) == 2
    assert "torchrun" in _error_line(capsys)


# ------------------------------------------------------------------------------------ units
def test_parse_losses_syntax() -> None:
    cands = parse_losses("bce, focal:gamma=1,alpha=0.25 ,bce:pos_weight=balanced,bce", "binary")
    assert [(c.name, c.options) for c in cands] == [
        ("binary_cross_entropy_with_logits", {}),
        ("binary_focal_loss", {"gamma": 1, "alpha": 0.25}),
        ("binary_cross_entropy_with_logits", {"pos_weight": "balanced"}),
    ]  # the repeated plain bce is dropped
    assert parse_losses("auto", "regression") is None
    assert parse_losses("pinball:quantiles=0.9", "regression")[0].options == {"quantiles": [0.9]}


def test_balanced_pos_weight_is_frozen_from_training_labels() -> None:
    cand = Candidate("binary_cross_entropy_with_logits", {"pos_weight": "balanced"})
    y = np.array([0] * 9 + [1])
    loss = make_loss(cand, y, 2)
    assert cand.frozen == {"pos_weight": pytest.approx(9.0)}
    x, t = torch.tensor([0.3, -1.0]), torch.tensor([1.0, 0.0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(9.0))
    assert float(loss(x, t)) == pytest.approx(float(expected), rel=1e-6)


def test_optimal_start_is_the_loss_minimising_constant() -> None:
    y = torch.tensor([0.0, 1.0, 2.0, 10.0, 100.0])
    mse = make_loss(Candidate("mse_loss"), y.numpy(), 2)
    mae = make_loss(Candidate("mae_loss"), y.numpy(), 2)
    assert float(optimal_start(mse, y, 1)) == pytest.approx(22.6, rel=1e-4)  # the mean
    assert float(optimal_start(mae, y, 1)) == pytest.approx(2.0, abs=1e-2)  # the median
    labels = torch.tensor([1.0] + [0.0] * 9)
    bce = make_loss(Candidate("binary_cross_entropy_with_logits"), labels.numpy(), 2)
    assert float(optimal_start(bce, labels, 1)) == pytest.approx(math.log(1 / 9), rel=1e-4)  # log prior odds


def test_threshold_effect_reports_f1_at_half_and_at_the_tuned_threshold() -> None:
    from sklearn.metrics import f1_score, precision_score, recall_score

    from losskit.lab.report import _threshold_effect
    from losskit.lab.scoring import metrics_of

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(int)
    scores = np.clip(0.3 * y + 0.35 * rng.random(400), 0, 1)
    tuned = {"f1": 0.5, "recall": 0.25, "precision": 0.75}
    text = _threshold_effect(metrics_of("binary", y, scores, 0.5), tuned)  # scoring computes, the report renders
    pred = (scores >= 0.5).astype(int)
    f1 = f1_score(y, pred)
    recall, precision = recall_score(y, pred), precision_score(y, pred, zero_division=0)
    assert f"F1 would be {f1:.4g} (recall {recall:.4g}, precision {precision:.4g})" in text
    assert "at the tuned threshold it is 0.5 (recall 0.25, precision 0.75)" in text


def test_log_to_tensorboard_writes_every_epoch_of_every_candidate(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")  # part of the dev extra
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _regression_frame(120).to_csv(tmp_path / "d.csv", index=False)
    args = ["compare", str(tmp_path / "d.csv"), "--target", "y", "--losses", "mse,mae", "--out", str(tmp_path / "o")]
    assert main([*args, "--log-to", "tensorboard", *FAST]) == 0
    logged: dict[str, dict[int, float]] = {}
    for row in csv.DictReader((tmp_path / "o" / "metrics.csv").open()):
        logged.setdefault(row["loss"], {})[int(row["epoch"])] = float(row["val_ref"])
    runs = sorted((tmp_path / "o" / "tensorboard").iterdir())
    assert [r.name for r in runs] == ["0_mse_loss", "1_mae_loss"]
    for run, name in zip(runs, ("mse_loss", "mae_loss"), strict=True):
        events = EventAccumulator(str(run)).Reload()
        tags = set(events.Tags()["scalars"])
        assert {"fold0/train_loss", "fold0/val_loss", "fold0/train_ref", "fold0/val_ref"} <= tags
        scalars = {e.step: e.value for e in events.Scalars("fold0/val_ref")}
        assert scalars.keys() == logged[name].keys()
        for epoch, value in logged[name].items():
            assert scalars[epoch] == pytest.approx(value, rel=1e-6)


def test_log_to_mlflow_logs_one_run_per_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow's API as a recording stand-in module (the package itself is not a dev dependency)."""
    import contextlib
    import importlib.machinery
    import sys
    import types

    calls: list[tuple] = []
    fake = types.ModuleType("mlflow")
    fake.__spec__ = importlib.machinery.ModuleSpec("mlflow", None)
    fake.start_run = lambda run_name: (calls.append(("run", run_name)), contextlib.nullcontext())[1]
    fake.log_params = lambda params: calls.append(("params", params))
    fake.log_metrics = lambda metrics, step: calls.append(("metrics", step, metrics))
    fake.log_metric = lambda key, value: calls.append(("metric", key, value))
    fake.set_tracking_uri = lambda uri: calls.append(("uri", uri))
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    _regression_frame(120).to_csv(tmp_path / "d.csv", index=False)
    args = ["compare", str(tmp_path / "d.csv"), "--target", "y", "--losses", "mse,mae", "--out", str(tmp_path / "o")]
    assert main([*args, "--log-to", "mlflow", *FAST]) == 0
    assert [c[1] for c in calls if c[0] == "run"] == ["mse_loss", "mae_loss"]
    assert [c[1]["loss"] for c in calls if c[0] == "params"] == ["mse_loss", "mae_loss"]
    epochs = list(csv.DictReader((tmp_path / "o" / "metrics.csv").open()))
    logged = [c for c in calls if c[0] == "metrics"]
    assert len(logged) == len(epochs)
    assert logged[0][1] == 1 and {"fold0_train_loss", "fold0_val_loss", "fold0_val_ref"} <= set(logged[0][2])
    assert [c[1] for c in calls if c[0] == "metric"] == ["test_mae", "test_mae"]
