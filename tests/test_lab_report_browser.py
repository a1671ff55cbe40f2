"""``report.html`` in headless Chromium: no console errors, every plot present and painted.

Needs a ``chromium`` binary (Debian: ``apt-get install chromium``); skipped without one. The
harness first proves it can see a console error at all, so a silent browser cannot pass.
"""

from __future__ import annotations

import html
import json
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


# Measures the laid-out page and writes the numbers into the DOM (the report itself has no script).
_MEASURE = """<script>
const out = {width: document.documentElement.scrollWidth, view: window.innerWidth, overlaps: [], ticks: 0};
const table = document.getElementById("comparison").getBoundingClientRect();
out.table = table.right;
out.body = document.body.getBoundingClientRect().right;
for (const axes of document.querySelectorAll("g[id^=axes_]")) {
  for (const kind of ["xtick_", "ytick_"]) {
    const boxes = [...axes.querySelectorAll(`g[id^=${kind}] text`)]
      .map(t => [t.textContent, t.getBoundingClientRect()]).filter(([, b]) => b.width > 0);
    out.ticks += boxes.length;
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [ta, a] = boxes[i], [tb, b] = boxes[j];
      if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
        out.overlaps.push(`${axes.id} ${ta} / ${tb}`);
    }
  }
}
document.body.setAttribute("data-measure", JSON.stringify(out));
</script>"""


def _measure(report: Path, tmp_path: Path, width: int) -> dict:
    page = tmp_path / f"measured-{width}.html"
    page.write_text(report.read_text().replace("</body>", _MEASURE + "</body>"))
    dom = _chromium(page, "--dump-dom", f"--window-size={width},1000").stdout
    match = re.search(r'data-measure="([^"]*)"', dom)
    assert match, dom[-2000:]
    return json.loads(html.unescape(match.group(1)))


def _prices_frame(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    price = np.exp(7.5 + 0.8 * x[:, 0] - 0.4 * x[:, 1] + 0.2 * rng.normal(size=n))  # thousands, right-skewed
    return pd.DataFrame({"carat": x[:, 0], "depth": x[:, 1], "table": x[:, 2], "cut": x[:, 3], "price": price})


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_report_fits_the_page_and_tick_labels_do_not_overlap(tmp_path: Path, kind: str) -> None:
    if kind == "binary":
        rng = np.random.default_rng(0)
        x = rng.normal(size=(500, 3))
        y = np.where(x[:, 0] + rng.normal(size=500) > 1.2, "fraud", "ok")
        frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
        target, losses = "y", "bce,focal,bce:pos_weight=balanced,bce:label_smoothing=0.1"
    else:
        frame, target, losses = _prices_frame(), "price", "mse,huber:delta=500,mae,pinball:quantiles=0.5"
    frame.to_csv(tmp_path / "d.csv", index=False)
    args = ["compare", str(tmp_path / "d.csv"), "--target", target, "--losses", losses, "--epochs", "3"]
    assert main([*args, "--bootstrap", "10", "--quiet", "--out", str(tmp_path / "o")]) == 0
    report = tmp_path / "o" / "report.html"
    for width in (1000, 1280):  # a laptop window, and the page's full width
        seen = _measure(report, tmp_path, width)
        assert seen["width"] <= seen["view"], seen  # no sideways scrolling
        assert seen["table"] <= seen["body"] + 1, seen  # the comparison table inside the page
        assert seen["ticks"] > 20 and seen["overlaps"] == [], seen


def test_measuring_harness_sees_overlapping_ticks_and_a_wide_table(tmp_path: Path) -> None:
    """The checks above can fail: a page with crowded tick labels and a wide table is caught."""
    ticks = "".join(
        f'<g id="xtick_{i}"><text x="{10 + 6 * i}" y="20" font-size="12">{10000 * i}</text></g>' for i in range(8)
    )
    wide = "<tr>" + "".join(f"<td>column_{i}_with_a_long_name</td>" for i in range(30)) + "</tr>"
    page = tmp_path / "bad.html"
    page.write_text(
        f'<!DOCTYPE html><html><body><svg width="400" height="40"><g id="axes_1">{ticks}</g></svg>'
        f'<table id="comparison">{wide}</table></body></html>'
    )
    seen = _measure(page, tmp_path, 1000)
    assert seen["overlaps"] and seen["width"] > seen["view"]
