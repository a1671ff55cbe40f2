"""``compare --distributed`` under torchrun with 2 CPU processes (gloo) equals the single-process run;
a stalled rank ends the other after ``--timeout`` with one line.

Each rank takes half of every global batch and divides its loss by the global item count, so
after DDP's gradient averaging every step is the single-process step: the metrics agree to
float rounding, not just statistically.
"""

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

ARGS = ["--target", "y", "--losses", "bce,focal", "--epochs", "3", "--batch-size", "64", "--bootstrap", "10", "--quiet"]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=500) > 1.0).astype(int)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}).to_csv(tmp_path / "d.csv", index=False)

    assert main(["compare", str(tmp_path / "d.csv"), *ARGS, "--out", str(tmp_path / "one")]) == 0
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "losskit",
        "compare",
        str(tmp_path / "d.csv"),
        *ARGS,
        "--distributed",
        "--out",
        str(tmp_path / "two"),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    for a, b in zip(one["candidates"], two["candidates"], strict=True):
        assert a["loss"] == b["loss"]
        assert a["fits"][0]["best_epoch"] == b["fits"][0]["best_epoch"]
        assert b["threshold"] == pytest.approx(a["threshold"], abs=1e-5)
        for key in ("log_loss", "average_precision", "roc_auc", "f1"):
            assert b["test_metrics"][key] == pytest.approx(a["test_metrics"][key], abs=1e-5), key
    log_one = pd.read_csv(tmp_path / "one" / "metrics.csv")
    log_two = pd.read_csv(tmp_path / "two" / "metrics.csv")
    # per-epoch training losses are global item means on both sides
    np.testing.assert_allclose(log_two["train_loss"], log_one["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(log_two["val_loss"], log_one["val_loss"], rtol=1e-5)


@pytest.mark.slow
def test_a_stalled_rank_ends_the_other_in_one_line_after_timeout(tmp_path: Path) -> None:
    """Rank 1 joins the process group and then stalls; rank 0 gives up after ``--timeout`` seconds."""
    import socket
    import time

    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=80), "y": rng.integers(0, 2, 80)}).to_csv(tmp_path / "d.csv", index=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {
        **os.environ,
        # no empty entry: an empty PYTHONPATH component means the working directory
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": "2",
    }
    # Rank 1 imports first and says so, then waits in the rendezvous: rank 0 starts only then, so
    # the group forms however slowly the machine imports torch, and rank 1 stalls after joining.
    ready = tmp_path / "ready"
    script = (
        "import pathlib, sys, time; from losskit.lab.distributed import setup; "
        "pathlib.Path(sys.argv[1]).touch(); setup(True); time.sleep(120)"
    )
    stalled = subprocess.Popen(
        [sys.executable, "-c", script, str(ready)],
        env={**env, "RANK": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        waited = 0.0
        while not ready.exists() and stalled.poll() is None and waited < 240:
            time.sleep(0.1)
            waited += 0.1
        assert ready.exists(), "rank 1 did not start"
        cmd = [sys.executable, "-m", "losskit", "compare", str(tmp_path / "d.csv"), *ARGS]
        # 10 s, not less: rank 1 connects to rank 0's store with its own retry back-off, which on a
        # busy two-core machine has taken more than 3 s (rank 0 then reported a rank that never joined)
        cmd += ["--distributed", "--timeout", "10", "--out", str(tmp_path / "o")]
        # the subprocess limit (300 s) would fail the test long before gloo's default 30 minutes
        done = subprocess.run(cmd, env={**env, "RANK": "0"}, capture_output=True, text=True, timeout=300)
    finally:
        stalled.kill()
        stalled.wait()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("losskit compare: error: rank 0 of 2: a collective failed, another rank stalled")
    assert "--timeout 10 s" in lines[0] and "Timed out waiting 10000ms" in lines[0]  # the group got the timeout
    assert not (tmp_path / "o").exists()
