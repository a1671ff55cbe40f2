"""The ``losskit`` command line as a whole: one-line errors before any work, flags in every message,
help for every option, ``--version``, closed pipes, piped tables and missing optional packages."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import losskit
from losskit._cliutil import flag_names, in_flags, piped_width
from losskit._errors import LossInputError
from losskit.cli import build_parser, main

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])), **extra}


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    y = (x[:, 0] + rng.normal(size=120) > 0.5).astype(int)
    path = tmp_path_factory.mktemp("cli") / "d.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}).to_csv(path, index=False)
    return path


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call of the comparison fails the test: errors must come before the work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("losskit.lab.compare.run_compare", refuse)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"losskit {losskit.__version__}"


@pytest.mark.parametrize(
    ("options", "flag", "words"),
    [
        (["--lr", "-1"], "--lr", "expected a positive number, but got '-1'"),
        (["--lr", "nan"], "--lr", "expected a positive number, but got 'nan'"),
        (["--lr", "fast"], "--lr", "expected a positive number, but got 'fast'"),
        (["--epochs", "0"], "--epochs", "expected a positive integer, but got '0'"),
        (["--batch-size", "2.5"], "--batch-size", "expected a positive integer"),
        (["--val-size", "1.5"], "--val-size", "between 0 and 1"),
        (["--test-size", "0"], "--test-size", "between 0 and 1"),
        (["--seed", "-3"], "--seed", "an integer >= 0"),
        (["--timeout", "inf"], "--timeout", "a positive number"),
        (["--hidden", "64,0"], "--hidden", "positive layer widths"),
        (["--model", "svm"], "--model", "invalid choice: 'svm'"),
        (["--bogus", "3"], "", "unrecognized arguments: --bogus 3"),
    ],
)
def test_bad_compare_option_is_one_line_with_a_help_hint(
    table: Path, capsys: pytest.CaptureFixture[str], no_training: None, options: list[str], flag: str, words: str
) -> None:
    assert main(["compare", str(table), "--target", "y", *options]) == 2
    line = _one_line(capsys)
    assert line.startswith("losskit compare: error: ") and line.endswith("(see `losskit compare --help`)")
    assert words in line
    if flag:
        assert f"argument `{flag}`" in line


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        (["--alpha", "2"], "--alpha"),
        (["--alpha", "nan"], "--alpha"),
        (["--rate-ratio", "1"], "--rate-ratio"),
        (["--scale-ratio", "inf"], "--scale-ratio"),
        (["--shift", "-1"], "--shift"),
    ],
)
def test_bad_drift_option_is_one_line(
    table: Path, capsys: pytest.CaptureFixture[str], options: list[str], flag: str
) -> None:
    assert main(["drift", "model_card.json", str(table), "--target", "y", *options]) == 2
    assert f"losskit drift: error: argument `{flag}`" in _one_line(capsys)


@pytest.mark.parametrize("quantiles", ["0.1,1.5", "0.5,nan", "a,b", ","])
def test_bad_advise_quantiles_are_one_line(table: Path, capsys: pytest.CaptureFixture[str], quantiles: str) -> None:
    assert main(["advise", str(table), "--target", "y", "--task", "quantile", "--quantiles", quantiles]) == 2
    line = _one_line(capsys)
    assert line.startswith("losskit advise: error: argument `--quantiles`: expected numbers between 0 and 1")


def test_missing_required_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "d.csv"]) == 2
    assert _one_line(capsys) == (
        "losskit compare: error: the following arguments are required: --target (see `losskit compare --help`)"
    )


def test_val_and_test_sizes_must_leave_training_rows(
    table: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    assert main(["compare", str(table), "--target", "y", "--val-size", "0.5", "--test-size", "0.5"]) == 2
    assert "sum < 1" in _one_line(capsys)


def test_out_pointing_at_a_file_fails_before_training(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    (tmp_path / "file").write_text("keep")
    assert main(["compare", str(table), "--target", "y", "--out", str(tmp_path / "file")]) == 2
    line = _one_line(capsys)
    assert "argument `--out`" in line and "is an existing file" in line
    assert (tmp_path / "file").read_text() == "keep"


def test_wrong_target_lists_the_columns_in_every_command(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    expected = f"argument `--target`: no column 'nope' in {table} (columns: a, b, y)"
    assert main(["advise", str(table), "--target", "nope"]) == 2
    assert _one_line(capsys) == f"losskit advise: error: {expected}"
    assert main(["compare", str(table), "--target", "nope", "--out", str(tmp_path / "o")]) == 2
    assert _one_line(capsys) == f"losskit compare: error: {expected}"
    card = tmp_path / "model_card.json"
    card.write_text('{"task": "binary"}')  # the card is read first; the column check does not need it whole
    assert main(["drift", str(card), str(table), "--target", "nope"]) == 2
    assert "argument `CARD.json`" in _one_line(capsys)


def test_library_errors_are_worded_in_the_flags_of_the_command(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(table), "--target", "y", "--losses", "squish", "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys)
    assert line.startswith("losskit compare: error: argument `--losses`: expected a loss") and "'squish'" in line
    assert main(["compare", str(tmp_path / "absent.csv"), "--target", "y"]) == 2
    assert _one_line(capsys).startswith("losskit compare: error: argument `DATA`: expected an existing")
    pd.DataFrame({"y": [0, 1] * 10}).to_csv(tmp_path / "only_target.csv", index=False)
    assert main(["compare", str(tmp_path / "only_target.csv"), "--target", "y", "--out", str(tmp_path / "o")]) == 2
    assert _one_line(capsys).startswith("losskit compare: error: argument `DATA`: expected a table with at least one")


def test_in_flags_maps_arguments_to_flags() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", metavar="DATA")
    parser.add_argument("--log-to")
    parser.add_argument("--losses")
    flags = flag_names(parser)
    assert flags == {"help": "--help", "data": "DATA", "log_to": "--log-to", "losses": "--losses"}
    assert in_flags(LossInputError("log_to", "x", "y"), flags) == "argument `--log-to`: expected x, but got y"
    nested = LossInputError("losses focal:gamma", "a number", "'a'")
    assert in_flags(nested, flags) == "argument `--losses focal:gamma`: expected a number, but got 'a'"
    assert in_flags(LossInputError("weight", "x", "y"), flags) == "argument `weight`: expected x, but got y"


def test_every_option_of_every_command_has_help_text() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"advise", "audit", "compare", "drift", "demo"} <= set(commands)
    for name, command in commands.items():
        for action in command._actions:
            assert action.help and action.help != argparse.SUPPRESS, f"losskit {name} {action.dest}"


def test_piped_width(monkeypatch: pytest.MonkeyPatch) -> None:
    class Pipe:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", Pipe(False))
    assert piped_width() == 200
    monkeypatch.setattr(sys, "stdout", Pipe(True))
    assert piped_width() is None  # rich measures the terminal
    monkeypatch.setattr(sys, "stdout", Pipe(False))
    monkeypatch.setenv("COLUMNS", "100")
    assert piped_width() is None  # rich honours COLUMNS


def test_tables_do_not_wrap_at_80_columns_when_piped(
    table: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["advise", str(table), "--target", "y"]) == 0  # captured stdout is not a terminal
    assert max(map(len, capsys.readouterr().out.splitlines())) > 80  # the table keeps its natural width
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["advise", str(table), "--target", "y"]) == 0
    assert max(map(len, capsys.readouterr().out.splitlines())) <= 80  # an explicit width still wins


def test_closed_pipe_ends_quietly(table: Path) -> None:
    """``losskit advise --json | head``: the reader is gone before the first write."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "losskit", "advise", str(table), "--target", "y", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert err.decode() == ""
    assert proc.returncode == 141


_WITHOUT_EXTRAS = textwrap.dedent(
    """
    import importlib.abc, sys

    EXTRAS = {"pandas", "pyarrow", "rich", "matplotlib", "joblib", "sklearn", "scipy", "torchmetrics",
              "xgboost", "lightgbm", "mlflow", "tensorboard", "sacrebleu"}

    class CoreOnly(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in EXTRAS:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, CoreOnly())
    from losskit.cli import main

    for argv in sys.argv[1:]:
        if argv.startswith("python:"):  # a library call: print its error message
            try:
                exec(argv.removeprefix("python:"))
                print("no error", file=sys.stderr)
            except ImportError as exc:
                print(type(exc).__name__, exc, file=sys.stderr)
            continue
        print("status", main(argv.split()), file=sys.stderr)
    """
)


def test_commands_without_the_extras_name_the_extra(table: Path, tmp_path: Path) -> None:
    """A core install (torch and numpy only): each command fails in one line naming the extra."""
    commands = [
        f"advise {table} --target y",
        "audit losskit:mse_loss --task regression",
        f"compare {table} --target y --out {tmp_path / 'o'}",
        f"drift {tmp_path / 'card.json'} {table} --target y",
        f"predict {tmp_path} {table}",
        f"demo --out {tmp_path / 'demo'}",
    ]
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS, *commands], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 * len(commands), done.stderr
    for command, (error, status) in zip(commands, zip(lines[::2], lines[1::2], strict=True), strict=True):
        name = command.split()[0]
        assert error.startswith(f"losskit {name}: error: this command needs the optional package '"), error
        assert error.endswith("pip install 'losskit[lab]'"), error
        assert status == "status 2"
    assert not (tmp_path / "o").exists() and not (tmp_path / "demo").exists()


def test_library_without_the_extras_names_the_extra() -> None:
    """A core install: the losses work; the packages that need an extra say which, in one line."""
    calls = {
        "import losskit, torch; assert float(losskit.mse_loss(torch.zeros(2), torch.ones(2))) == 1.0": "no error",
        "import losskit.evaluate": "losskit.evaluate needs the optional package 'sklearn': pip install 'losskit[eval]'",
        "import losskit.gbdt": "losskit.gbdt needs the optional package 'scipy': pip install 'losskit[gbdt]'",
        "import losskit.lab; losskit.lab.run_compare": "losskit.lab needs the optional package 'pandas': "
        "pip install 'losskit[lab]'",
        "import losskit; losskit.advise([0.5, 1.5, 2.25, 7.0, 3.5, 1.25])": "losskit.advise on a continuous target "
        "needs the optional package 'scipy': pip install 'losskit[eval]'",
    }
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS, *(f"python:{c}" for c in calls)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(calls), done.stderr[-2000:]
    for line, expected in zip(lines, calls.values(), strict=True):
        assert line == (expected if expected == "no error" else f"ModuleNotFoundError {expected}")


def test_pos_label_is_checked_and_worded_as_the_flag(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(table), "--target", "y", "--pos-label", "7", "--out", str(tmp_path / "o")]) == 2
    assert _one_line(capsys).startswith("losskit compare: error: argument `--pos-label`: expected one of the target")
    assert not (tmp_path / "o").exists()
    assert main(["advise", str(table), "--target", "y", "--pos-label", "7"]) == 2
    assert _one_line(capsys).startswith("losskit advise: error: argument `--pos-label`: expected one of the target")


def test_no_command_is_one_line_listing_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    line = _one_line(capsys)
    assert line.startswith("losskit: error: a command is required: advise, audit, compare, drift")
    assert line.endswith("(see `losskit --help`)")
