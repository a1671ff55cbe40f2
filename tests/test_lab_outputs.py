"""``compare``'s artefacts appear all at once or not at all, never through a link, never beside an
older run's files; Ctrl-C leaves nothing; the model card's Markdown shows untrusted text as text."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from losskit import LossInputError
from losskit.cli import main
from losskit.lab.compare import CompareOptions, LabResult, run_compare
from losskit.lab.outputs import check_out_dir, write_outputs
from losskit.lab.train import TrainConfig

ARTEFACTS = {"metrics.csv", "model.pt", "model_card.json", "model_card.md", "preprocessor.joblib", "report.html"}
FAST = ["--losses", "bce", "--epochs", "2", "--bootstrap", "10", "--quiet", "--batch-size", "64"]
NASTY_TARGET = "`y`<script>alert(1)</script>"
NASTY_COLUMN = "<img src=x onerror=alert(2)>"


def _frame(n: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    y = x[:, 0] + rng.normal(size=n) > 0.5
    return pd.DataFrame({"a": x[:, 0], NASTY_COLUMN: x[:, 1], NASTY_TARGET: np.where(y, "<b>yes</b>", "no|t")})


@pytest.fixture(scope="module")
def result() -> LabResult:
    options = CompareOptions(
        target=NASTY_TARGET, losses="bce", bootstrap=10, train=TrainConfig(epochs=2, batch_size=64)
    )
    return run_compare(_frame(), options, source="d.csv")


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "d.csv"
    _frame().rename(columns={NASTY_TARGET: "y"}).to_csv(path, index=False)
    return path


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _fail(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


def test_writes_every_artefact_and_nothing_else(result: LabResult, tmp_path: Path) -> None:
    paths = write_outputs(result, tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == ARTEFACTS | {"summary.json"}
    assert all(p.parent == tmp_path / "out" and p.is_file() for p in paths.values())
    assert _leftovers(tmp_path) == []


def test_a_failed_run_leaves_no_folder(result: LabResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("losskit.lab.outputs._save_model", _fail)  # the last artefact fails
    with pytest.raises(OSError, match="No space"):
        write_outputs(result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rewrite_keeps_the_earlier_run_whole(
    result: LabResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_outputs(result, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    monkeypatch.setattr("losskit.lab.outputs._save_model", _fail)
    with pytest.raises(OSError):
        write_outputs(result, tmp_path / "out", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_an_earlier_run_is_refused_unless_overwrite(result: LabResult, tmp_path: Path) -> None:
    write_outputs(result, tmp_path / "out")
    with pytest.raises(LossInputError, match="holds files"):
        write_outputs(result, tmp_path / "out")
    (tmp_path / "out" / "model.xgb.json").write_text("{}")  # an older run's model of another kind
    write_outputs(result, tmp_path / "out", overwrite=True)
    assert {p.name for p in (tmp_path / "out").iterdir()} == ARTEFACTS | {"summary.json"}  # no stale file
    assert _leftovers(tmp_path) == []


def test_planted_links_are_never_followed(result: LabResult, tmp_path: Path) -> None:
    write_outputs(result, tmp_path / "out")
    victim, victim_dir = tmp_path / "victim.txt", tmp_path / "victim_dir"
    victim.write_text("precious")
    victim_dir.mkdir()
    (victim_dir / "keep").write_text("precious too")
    (tmp_path / "out" / "report.html").unlink()
    (tmp_path / "out" / "report.html").symlink_to(victim)  # an artefact's name pointing elsewhere
    (tmp_path / "out" / "tensorboard").symlink_to(victim_dir, target_is_directory=True)
    write_outputs(result, tmp_path / "out", overwrite=True)
    assert victim.read_text() == "precious" and (victim_dir / "keep").read_text() == "precious too"
    report = tmp_path / "out" / "report.html"
    assert not report.is_symlink() and "<html" in report.read_text().lower()
    assert not (tmp_path / "out" / "tensorboard").exists()


def test_refused_output_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_text("x")
    with pytest.raises(LossInputError, match="an existing file"):
        check_out_dir(tmp_path / "file")
    with pytest.raises(LossInputError, match="symbolic link"):
        check_out_dir(tmp_path / "link", overwrite=True)
    with pytest.raises(LossInputError, match=r"model_card\.json"):  # --overwrite replaces only a run's folder
        check_out_dir(tmp_path / "photos", overwrite=True)
    (tmp_path / "model_card.json").write_text("{}")
    monkeypatch.chdir(tmp_path / "real")
    with pytest.raises(LossInputError, match="working directory"):
        check_out_dir(tmp_path, overwrite=True)
    check_out_dir(tmp_path / "new")  # absent, or an empty folder: fine
    check_out_dir(tmp_path / "real")


def test_cli_rerun_is_refused_before_training(
    csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert main(["compare", str(csv), "--target", "y", "--out", str(out), "--pos-label", "no|t", *FAST]) == 0
    assert json.loads((out / "summary.json").read_text())["positive_class"] == "no|t"  # --pos-label reached the lab
    capsys.readouterr()
    monkeypatch.setattr("losskit.lab.compare.run_compare", _fail)
    assert main(["compare", str(csv), "--target", "y", "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"losskit compare: error: argument `--out`: expected a new or empty folder, but got {str(out)!r}, "
        "which holds files (add --overwrite to replace it)"
    )


@pytest.mark.parametrize("where", ["losskit.lab.compare.run_compare", "losskit.lab.outputs.render_report"])
def test_ctrl_c_exits_130_and_leaves_no_folder(
    csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupt)  # during training, or while the artefacts are written
    assert main(["compare", str(csv), "--target", "y", "--out", str(tmp_path / "out"), *FAST]) == 130
    assert capsys.readouterr().err.strip() == "losskit compare: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]


def test_mlflow_store_goes_under_out(csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow as a stand-in module whose store is a file at the tracking URI it is given."""
    fake = types.ModuleType("mlflow")
    fake.__spec__ = importlib.machinery.ModuleSpec("mlflow", None)
    fake.set_tracking_uri = lambda uri: Path(uri.removeprefix("sqlite:///")).write_text("store")
    fake.start_run = lambda run_name: __import__("contextlib").nullcontext()
    fake.log_params = fake.log_metrics = fake.log_metric = lambda *a, **k: None
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    out = tmp_path / "out"
    assert main(["compare", str(csv), "--target", "y", "--out", str(out), "--log-to", "mlflow", *FAST]) == 0
    assert (out / "mlflow.db").read_text() == "store"
    assert list((tmp_path / "cwd").iterdir()) == []


def test_model_card_markdown_shows_untrusted_text_as_text(result: LabResult, tmp_path: Path) -> None:
    write_outputs(result, tmp_path / "out")
    text = (tmp_path / "out" / "model_card.md").read_text()
    html = MarkdownIt("commonmark").enable("table").render(text)  # an independent CommonMark renderer
    for raw in ("<script", "<img", "<b>"):
        assert raw not in html, raw
    # the target's backticks do not end the heading's code span: the whole name is one code element
    heading = html.splitlines()[0]
    escaped = NASTY_TARGET.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert heading == f"<h1>Model card: binary model of <code>{escaped}</code></h1>"
    assert "<code>&lt;img src=x onerror=alert(2)&gt;</code>" in html
    assert "<code>&lt;b&gt;yes&lt;/b&gt;</code>" in html and "<code>no|t</code>" in html


def test_drift_lists_the_columns_for_a_wrong_column(
    result: LabResult, csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_outputs(result, tmp_path / "out")
    for flag in ("--target", "--scores"):
        assert main(["drift", str(paths["card_json"]), str(csv), flag, "nope"]) == 2
        assert capsys.readouterr().err.strip() == (
            f"losskit drift: error: argument `{flag}`: no column 'nope' in {csv} (columns: a, {NASTY_COLUMN}, y)"
        )
