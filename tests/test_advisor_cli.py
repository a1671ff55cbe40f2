"""``losskit advise``: CSV and Parquet, several targets, JSON, and one-line errors with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from losskit.cli import main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("advise")
    n = 400
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "fraud": (np.arange(n) < 4).astype(int),
            "price": rng.lognormal(3.0, 1.0, n),
            "tags": rng.choice(["news|sport", "news", "tech", "sport|tech"], n),
            "tag_a": rng.integers(0, 2, n),
            "tag_b": rng.integers(0, 2, n),
        }
    )
    frame.to_csv(d / "data.csv", index=False)
    frame.to_parquet(d / "data.parquet")
    (d / "empty.csv").write_text("")
    (d / "header_only.csv").write_text("a,b\n")
    pd.DataFrame({"y": [1] * 30, "x": range(30)}).to_csv(d / "one_class.csv", index=False)
    values = [f"{v:.3f}" for v in rng.normal(size=60)] + ["twelve"]
    pd.DataFrame({"y": values}).to_csv(d / "unparseable.csv", index=False)
    (d / "data.xlsx").write_text("not a table")
    return d


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_binary_csv_prints_a_table(data_dir, capsys):
    assert main(["advise", str(data_dir / "data.csv"), "--target", "fraud"]) == 0
    out = capsys.readouterr().out
    assert "binary_rare" in out and "BCEWithLogitsLoss()" in out and "log(99)" in out
    assert "1.00%" in out


def test_parquet_json_regression(data_dir, capsys):
    assert main(["advise", str(data_dir / "data.parquet"), "--target", "price", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["row"] == "regression_log1p" and result["target_transform"] == "log1p"
    assert result["profile"]["n"] == 400


@pytest.mark.parametrize(
    "targets",
    [["--target", "tags"], ["--target", "tag_a", "--target", "tag_b"], ["--target", "tag_*"]],
    ids=["delimited", "repeated", "glob"],
)
def test_multilabel_targets(data_dir, capsys, targets):
    assert main(["advise", str(data_dir / "data.csv"), *targets, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "multilabel" and result["row"] == "multilabel_bce"


def test_mixed_targets_are_multitask(data_dir, capsys):
    assert main(["advise", str(data_dir / "data.csv"), "--target", "price", "--target", "fraud", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["row"] == "multitask_uncertainty"
    assert set(result["parts"]) == {"price", "fraud"}


def test_task_and_quantiles_options(data_dir, capsys):
    argv = ["advise", str(data_dir / "data.csv"), "--target", "price", "--task", "quantile", "--quantiles", "0.1,0.9"]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["options"]["quantiles"] == [0.1, 0.9]


def test_ranking_groups(data_dir, capsys):
    """A choice table (one row chosen per situation) with --group gets ListNet; the group column is
    not a feature, and a missing one or a group without --task ranking is one line."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"situation": np.repeat(np.arange(50), 4), "price": rng.normal(size=200)})
    frame["chosen"] = (np.arange(200) % 4 == 0).astype(int)  # the first of each situation's four
    frame.to_csv(data_dir / "choices.csv", index=False)
    argv = ["advise", str(data_dir / "choices.csv"), "--target", "chosen", "--task", "ranking"]
    assert main([*argv, "--group", "situation", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["row"] == "ranking_choice" and result["loss"] == "listnet_loss"
    assert result["profile"]["n_queries"] == 50 and result["profile"]["single_relevant_share"] == 1.0
    assert main([*argv, "--group", "nope"]) == 2
    assert "argument `--group`: no column 'nope'" in _one_line_error(capsys)
    assert main([*argv[:4], "--group", "situation"]) == 2
    assert "argument `--task`: expected 'ranking' for a target with query groups" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("file", "column", "message"),
    [
        ("missing.csv", "y", "no such file"),
        ("data.csv", "nope", "no column 'nope'"),
        ("empty.csv", "y", "is empty"),
        ("header_only.csv", "a", "has no rows"),
        ("one_class.csv", "y", "single value 1"),
        ("unparseable.csv", "y", "'twelve'"),
        ("data.xlsx", "y", "expected .csv, .tsv or .parquet"),
    ],
)
def test_bad_input_is_one_line_and_status_2(data_dir, capsys, file, column, message):
    assert main(["advise", str(data_dir / file), "--target", column]) == 2
    err = _one_line_error(capsys)
    assert err.startswith("losskit advise: error:") and message in err


def test_python_dash_m_losskit_error_is_one_line(data_dir):
    # One real process: the entry point turns a user error into one line and status 2.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    bad = subprocess.run(
        [sys.executable, "-m", "losskit", "advise", str(data_dir / "one_class.csv"), "--target", "y"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1, bad.stderr
    assert lines[0].startswith("losskit advise: error: argument `--target y`: expected a target with at least two")
