"""Result types and renderers: every number is computed once in scoring; the report, the card,
the console and the demo page only render what the result holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import losskit.evaluate
import losskit.lab.scoring
from losskit.lab.compare import CompareOptions, run_compare
from losskit.lab.console import print_summary
from losskit.lab.demo import _index
from losskit.lab.outputs import build_card
from losskit.lab.report import recommendation, render_report
from losskit.lab.train import TrainConfig


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + rng.normal(size=400) > 1.0).astype(int)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    options = CompareOptions(target="y", losses="bce,focal", bootstrap=20, train=TrainConfig(epochs=4))
    return run_compare(frame, options)


def test_renderers_compute_no_metric(result, monkeypatch, tmp_path: Path, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("a renderer recomputed a metric")

    for module, name in [
        (losskit.evaluate, "metrics"),
        (losskit.lab.scoring, "metrics_of"),
        (losskit.lab.scoring, "paired_bootstrap"),
        (losskit.lab.scoring.MetricSpec, "__call__"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    page = render_report(result)
    card = build_card(result)
    print_summary(result, {"report": tmp_path / "report.html"})
    index = _index({"binary": result})
    winner = result.winner
    assert winner.metrics_at_half is not None and "F1 would be" in page
    assert card.metric["value"] == winner.value and f"{winner.value:.4g}" in capsys.readouterr().out
    assert "Train with" in index


def test_scoring_stores_metrics_at_the_tuned_threshold_and_at_half(result):
    from sklearn.metrics import f1_score

    for r in result.results:
        tuned = (r.test_scores >= r.threshold).astype(int)
        half = (r.test_scores >= 0.5).astype(int)
        assert r.test_metrics["f1"] == pytest.approx(f1_score(result.y_test, tuned))
        assert r.metrics_at_half["f1"] == pytest.approx(f1_score(result.y_test, half))
    assert result.runner_up is not result.winner and result.runner_up in result.results


def test_positive_class_is_rendered_only_when_recorded(result, tmp_path: Path, capsys):
    assert result.positive_class is None or result.positive_class == 1
    unnamed = dataclasses.replace(result, positive_class=None)
    named = dataclasses.replace(result, positive_class="defaulted")
    assert "positive class" not in render_report(unnamed).lower()
    assert not any("positive class" in s for s in recommendation(unnamed))
    assert "positive class <b>&#x27;defaulted&#x27;</b>" in render_report(named)
    assert any("'defaulted'" in s for s in recommendation(named))
    print_summary(named, {"report": tmp_path / "r.html"})
    assert "positive class 'defaulted'" in capsys.readouterr().out


def test_not_converged_is_flagged_in_report_console_and_card(result, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at the terminal width
    loser = next(r for r in result.results if r is not result.winner)
    # the flags as rendered, whatever the short training gave: the winner converged, the loser not
    done = dataclasses.replace(result.winner, fits=[{**f, "converged": True} for f in result.winner.fits])
    stuck = dataclasses.replace(loser, fits=[{**f, "converged": False} for f in loser.fits])
    flagged = dataclasses.replace(result, winner=done, results=[done, stuck])
    assert "not converged" in render_report(flagged)
    assert any(s.startswith("Not converged: " + loser.candidate.label) for s in recommendation(flagged))
    print_summary(flagged, {"report": tmp_path / "r.html"})
    assert f"{loser.candidate.label} (not converged)" in capsys.readouterr().out
    card = build_card(flagged)
    assert [c["converged"] for c in card.comparison] == [True, False]
