"""``losskit predict`` / ``losskit.lab.load_run``: a saved run scores new rows exactly as ``compare``
scored its test rows; predict + ``drift --scores`` on an unshifted resample agrees with the card;
outputs are written atomically; bad runs and tables are one line and exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lab_tables import credit_default, diamonds
from losskit import LossInputError
from losskit.cli import main
from losskit.lab import CompareOptions, TrainConfig, load_run, run_compare, write_outputs
from losskit.lab.predict import write_table


def _compare(frame: pd.DataFrame, out: Path, **options: object) -> tuple[object, Path]:
    train = TrainConfig(**options.pop("train", {}))  # type: ignore[arg-type]
    result = run_compare(frame, CompareOptions(bootstrap=10, train=train, **options))  # type: ignore[arg-type]
    write_outputs(result, out)
    return result, out


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("default_run")
    return _compare(
        credit_default(),
        out,
        target="default",
        losses="bce",
        model="linear",
        train={"epochs": 10, "lr": 0.05, "batch_size": 1024},
    )


def _test_rows(result: object, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True).iloc[result.plan.test]  # type: ignore[attr-defined]


def test_binary_run_reproduces_the_test_scores_and_decisions(default_run: tuple[object, Path]) -> None:
    result, out = default_run
    run = load_run(out)
    predicted = run.predict(_test_rows(result, credit_default()))
    np.testing.assert_allclose(predicted["score"], result.winner.test_scores, rtol=1e-6, atol=1e-9)  # type: ignore[attr-defined]
    t = run.card.threshold
    assert t is not None
    expected = np.where(predicted["score"] >= t, "Yes", "No")
    assert (predicted["decision"].to_numpy() == expected).all() and set(expected) == {"Yes", "No"}


def test_predict_then_drift_scores_agrees_with_the_card(
    tmp_path: Path, default_run: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = default_run
    d = credit_default()
    card = str(out / "model_card.json")
    # an unshifted resample of 20,000 rows: the EM odds ratio's interval holds 1, outcome stable
    d.sample(20000, replace=True, random_state=3).to_csv(tmp_path / "same.csv", index=False)
    assert main(["predict", str(out), str(tmp_path / "same.csv"), "--out", str(tmp_path / "s.csv")]) == 0
    code = main(["drift", card, str(tmp_path / "s.csv"), "--scores", "score", "--json"])
    report = json.loads(capsys.readouterr().out)
    (stat,) = report["statistics"]
    assert code == 0 and report["outcome"] == "stable" and stat["low"] < 1.0 < stat["high"]
    assert report["prior"]["new_positive_rate"] == pytest.approx(report["prior"]["old_positive_rate"], abs=0.01)
    # 10% defaulted instead of 3.3%, 4,000 rows: the scores alone reveal the shift and the threshold
    yes, no = d[d.default == "Yes"], d[d.default == "No"]
    shifted = pd.concat([yes.sample(400, replace=True, random_state=1), no.sample(3600, random_state=1)])
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    assert main(["predict", str(out), str(tmp_path / "shifted.csv"), "--out", str(tmp_path / "t.csv")]) == 0
    code = main(["drift", card, str(tmp_path / "t.csv"), "--scores", "score", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["prior"]["new_positive_rate"] == pytest.approx(0.10, abs=0.03)
    assert report["threshold"]["adjusted"] < report["threshold"]["card"]


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_tree_runs_reproduce_the_test_predictions(tmp_path: Path, model: str) -> None:
    frame = diamonds().sample(3000, random_state=0)
    result, out = _compare(frame, tmp_path, target="price", losses="mse", model=model, train={"rounds": 30})
    predicted = load_run(out).predict(_test_rows(result, frame))
    np.testing.assert_allclose(predicted["prediction"], result.winner.test_scores, rtol=1e-5)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("table", "target", "losses"),
    [("diamonds", "price", "mse:target=log1p"), ("default", "default", "bce:resample=under")],
)
def test_transformed_and_resampled_runs_reproduce_the_test_scores(
    tmp_path: Path, table: str, target: str, losses: str
) -> None:
    # log1p: expm1 of the prediction; undersampling: scores moved back from 50/50 to the true prior
    frame = (diamonds() if table == "diamonds" else credit_default()).sample(3000, random_state=0)
    result, out = _compare(frame, tmp_path, target=target, losses=losses, model="linear", train={"epochs": 3})
    run = load_run(out)
    assert run.card.loss["target_transform" if table == "diamonds" else "resample"] in ("log1p", "under")
    predicted = run.scores(_test_rows(result, frame))
    np.testing.assert_allclose(predicted, result.winner.test_scores, rtol=1e-5, atol=1e-9)  # type: ignore[attr-defined]


def test_cross_validated_tree_run_warns_that_one_fold_was_saved(tmp_path: Path) -> None:
    frame = diamonds().sample(1000, random_state=1)
    _compare(frame, tmp_path, target="price", losses="mse", model="xgboost", cv=2, train={"rounds": 5})
    with pytest.warns(UserWarning, match="only the first fold"):
        run = load_run(tmp_path)
    assert len(run.models) == len(run.preprocessors) == 1


def test_cross_validated_multiclass_run_averages_its_fold_models(tmp_path: Path) -> None:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    result, out = _compare(frame, tmp_path, target="target", losses="ce", model="mlp", cv=2, train={"epochs": 5})
    run = load_run(out)
    assert len(run.models) == 2
    predicted = run.predict(_test_rows(result, frame))
    probs = predicted[[f"p_{c}" for c in run.card.classes]].to_numpy()
    np.testing.assert_allclose(probs, result.winner.test_scores, rtol=1e-5, atol=1e-8)  # type: ignore[attr-defined]
    assert (predicted["decision"].to_numpy() == np.asarray(run.card.classes)[probs.argmax(1)]).all()


def test_outputs_are_written_atomically_and_links_are_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "scores.csv"
    link.symlink_to(victim)
    write_table(pd.DataFrame({"score": [0.5]}), link)
    assert victim.read_text() == "keep me" and not link.is_symlink()
    assert pd.read_csv(link)["score"].tolist() == [0.5]
    assert sorted(os.listdir(tmp_path)) == ["scores.csv", "victim.txt"]  # no temporary file left behind


def test_bad_runs_and_tables_are_one_line_exit_2(
    tmp_path: Path, default_run: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = default_run
    credit_default().drop(columns="balance").head(20).to_csv(tmp_path / "no_balance.csv", index=False)
    credit_default().head(20).to_csv(tmp_path / "ok.csv", index=False)
    cases = [
        ([str(out), str(tmp_path / "no_balance.csv")], "balance"),
        ([str(tmp_path), str(tmp_path / "ok.csv")], "model_card.json"),
        ([str(out), str(tmp_path / "ok.csv"), "--out", str(tmp_path)], "`--out`"),
        ([str(out), str(tmp_path / "ok.csv"), "--out", str(tmp_path / "nowhere" / "x.csv")], "`--out`"),
    ]
    for args, needle in cases:
        assert main(["predict", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err


class _Payload:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch pwned",))


def test_model_file_loads_without_executing_code(tmp_path: Path, default_run: tuple[object, Path]) -> None:
    _, out = default_run
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("model_card.json", "preprocessor.joblib"):
        (run_dir / name).write_bytes((out / name).read_bytes())
    torch.save({"config": _Payload()}, run_dir / "model.pt")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(LossInputError, match=r"model\.pt"):
            load_run(run_dir)
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "pwned").exists()
