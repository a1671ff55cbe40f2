"""``report.html`` in headless Chromium: no console errors, every plot present and painted.

Needs a ``chromium`` binary (Debian: ``apt-get install chromium``); skipped without one. The
harness first proves it can see a console error at all, so a silent browser cannot pass.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from losskit.cli import main

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium binary (apt-get install chromium)")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-logging=stderr",
    "--v=0",
    "--allow-file-access-from-files",
]


def _chromium(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BROWSER, *FLAGS, *extra, page.resolve().as_uri()], capture_output=True, text=True, timeout=120
    )


def _console_errors(stderr: str) -> list[str]:
    # Chromium prints page console messages as ":CONSOLE(line)]" or ":CONSOLE:line]" log lines
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]", line) or "Uncaught" in line]


def test_harness_sees_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom")</script></body></html>')
    assert any("boom" in line for line in _console_errors(_chromium(page, "--dump-dom").stderr))


def test_report_renders_without_console_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + rng.normal(size=400) > 1.2).astype(int)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}).to_csv(tmp_path / "d.csv", index=False)
    args = [
        "compare",
        str(tmp_path / "d.csv"),
        "--target",
        "y",
        "--losses",
        "bce,focal",
        "--epochs",
        "2",
        "--bootstrap",
        "10",
        "--quiet",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 0
    report = tmp_path / "o" / "report.html"
    source = report.read_text()
    # self-contained: nothing fetched (XML namespace URIs in the SVG metadata are names, not requests)
    assert not re.search(
        r"""(src|href)\s*=\s*["']?(https?:|//)|url\(\s*["']?(https?:|//)|@import|<link|<script""", source
    )

    loaded = _chromium(report, "--dump-dom")
    assert loaded.returncode == 0
    assert _console_errors(loaded.stderr) == []
    dom = loaded.stdout
    # loss curves, PR, ROC and calibration: four figures, each an inline SVG with drawn paths
    figures = re.findall(r'<figure class="plot" id="plot-\d+">(.*?)</figure>', dom, flags=re.S)
    assert len(figures) == 4
    for fig in figures:
        assert "<svg" in fig and fig.count("<path") > 5

    shot = tmp_path / "shot.png"
    _chromium(report, f"--screenshot={shot}", "--window-size=900,1400", "--hide-scrollbars")
    pixels = imread(shot)[:, :, :3]  # floats in [0, 1]
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.25  # saturated line colours, not grey text
    assert coloured.mean() > 0.002
