"""``losskit audit PACKAGE.MODULE:FUNCTION --task ...`` on a user's own loss module."""

from __future__ import annotations

import json
import sys

import pytest

from losskit.cli import main

USER_LOSSES = """
import torch
import torch.nn.functional as F

import losskit


def good_bce(input, target, reduction="mean"):
    return losskit.binary_cross_entropy_with_logits(input, target, reduction=reduction)


def twice_averaged(input, target):
    n = input.shape[0]
    return F.binary_cross_entropy_with_logits(input, target, reduction="sum") / n / n


class Smooth(torch.nn.Module):
    def forward(self, input, target):
        return losskit.smooth_l1_loss(input, target)


NOT_CALLABLE = 3
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_losses_for_audit.py").write_text(USER_LOSSES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_losses_for_audit"
    sys.modules.pop("my_losses_for_audit", None)


def test_passing_loss_exits_0(user_module, capsys):
    assert main(["audit", f"{user_module}:good_bce", "--task", "binary"]) == 0
    out = capsys.readouterr().out
    assert "batch_split" in out and "passed" in out


def test_failing_loss_exits_1_with_json(user_module, capsys):
    assert main(["audit", f"{user_module}:twice_averaged", "--task", "binary", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert {c["name"]: c["status"] for c in report["checks"]}["batch_split"] == "fail"


def test_class_is_instantiated(user_module, capsys):
    assert main(["audit", f"{user_module}:Smooth", "--task", "regression", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == "Smooth()"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon_here", "expected PACKAGE.MODULE:FUNCTION"),
        ("surely_not_a_module_xyz:f", "cannot import 'surely_not_a_module_xyz'"),
        ("{mod}:missing", "has no attribute 'missing'"),
        ("{mod}:NOT_CALLABLE", "is not callable"),
    ],
)
def test_bad_spec_is_one_line_and_status_2(user_module, capsys, spec, message):
    assert main(["audit", spec.format(mod=user_module), "--task", "binary"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("losskit audit: error:") and message in err


def test_working_directory_is_searched_last(tmp_path, monkeypatch):
    from losskit.auditor.cli import load_callable

    (tmp_path / "my_last_losses.py").write_text(USER_LOSSES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert callable(load_callable("my_last_losses:good_bce"))
        assert sys.path[-1] == str(tmp_path)  # found there, after every installed package
    finally:
        sys.modules.pop("my_last_losses", None)


def test_a_module_in_the_working_directory_cannot_shadow_a_library(tmp_path):
    """``python -m losskit audit`` from a folder holding a ``rich.py`` (the report is printed with rich)."""
    import os
    import subprocess
    from pathlib import Path

    (tmp_path / "my_losses_for_audit.py").write_text(USER_LOSSES)
    (tmp_path / "rich.py").write_text("open('SHADOWED', 'w').close()\nraise SystemExit('shadowed rich ran')\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    # no empty entry: an empty PYTHONPATH component means the working directory
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "losskit", "audit", "my_losses_for_audit:good_bce", "--task", "binary"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "good_bce" in done.stdout
    assert not (tmp_path / "SHADOWED").exists()
