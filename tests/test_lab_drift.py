"""``losskit drift``: planted shifts are detected (exit 1), unshifted samples pass (exit 0), bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from losskit.cli import main
from losskit.evaluate import adjust_for_prior_shift
from losskit.lab.card import ModelCard
from losskit.lab.drift import adjusted_threshold, psi

LEVELS = np.linspace(0, 1, 201)
RNG = np.random.default_rng(0)
# The model's validation scores on the training prior of 5% positives: a beta mixture.
REF_LABELS = (RNG.random(20000) < 0.05).astype(int)
REF_SCORES = np.where(REF_LABELS == 1, RNG.beta(5, 2, 20000), RNG.beta(1, 12, 20000))


def _binary_card() -> ModelCard:
    return ModelCard(
        task="binary",
        target="y",
        classes=[0, 1],
        loss={"name": "binary_cross_entropy_with_logits", "options": {"pos_weight": 19.0}, "origin": "advisor"},
        threshold=0.4,
        metric={"name": "pr_auc", "value": 0.8, "low": 0.7, "high": 0.9, "level": 0.95, "win_rate": 1.0},
        test_metrics={"f1": 0.7},
        model={"kind": "mlp"},
        data={
            "source": "x.csv",
            "fingerprint": "0" * 64,
            "rows": 100,
            "columns": ["a"],
            "dropped_rows": 0,
            "imputed": {},
        },
        splits={"train": 70, "val": 15, "test": 15, "folds": 1, "seed": 0},
        reference={
            "class_counts": [95, 5],
            "prior": [0.95, 0.05],
            "score_quantiles": np.quantile(REF_SCORES, LEVELS),
            "score_mean": float(REF_SCORES.mean()),
        },
    )


@pytest.fixture
def card_path(tmp_path: Path) -> Path:
    return _binary_card().save(tmp_path)[0]


def _labels(tmp_path: Path, rate: float, n: int = 4000, seed: int = 1) -> Path:
    y = (np.random.default_rng(seed).random(n) < rate).astype(int)
    path = tmp_path / f"new_{rate}.csv"
    pd.DataFrame({"y": y}).to_csv(path, index=False)
    return path


def test_unshifted_labels_pass(tmp_path: Path, card_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", str(card_path), str(_labels(tmp_path, 0.05)), "--target", "y"]) == 0
    assert "stable" in capsys.readouterr().out


def test_planted_prior_shift_is_detected(tmp_path: Path, card_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", str(card_path), str(_labels(tmp_path, 0.15)), "--target", "y", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["significant"] and report["tests"]["chi_square"]["p_value"] < 1e-6
    assert report["tests"]["psi"]["value"] > 0.1
    assert report["prior"]["new_positive_rate"] == pytest.approx(0.15, abs=0.02)
    # more positives: the equivalent threshold on the old scores moves down
    assert report["threshold"]["adjusted"] < report["threshold"]["card"] == 0.4
    assert any("pos_weight" in line for line in report["advice"])


def test_scores_only_pass_then_detect_a_shift(tmp_path: Path, card_path: Path) -> None:
    rng = np.random.default_rng(2)
    same = rng.choice(REF_SCORES, 3000)
    pd.DataFrame({"s": same}).to_csv(tmp_path / "same.csv", index=False)
    assert main(["drift", str(card_path), str(tmp_path / "same.csv"), "--scores", "s", "--json"]) == 0
    # 30% positives instead of 5%: same class-conditional score distributions, new mixture
    pos = rng.random(3000) < 0.30
    shifted = np.where(pos, rng.beta(5, 2, 3000), rng.beta(1, 12, 3000))
    pd.DataFrame({"s": shifted}).to_csv(tmp_path / "shifted.csv", index=False)
    assert main(["drift", str(card_path), str(tmp_path / "shifted.csv"), "--scores", "s"]) == 1


def test_adjusted_threshold_inverts_the_prior_shift_correction() -> None:
    # the old score at t' becomes exactly t after losskit.evaluate's Bayes correction to the new prior
    for t, old, new in [(0.4, 0.05, 0.15), (0.7, 0.3, 0.1), (0.5, 0.5, 0.5)]:
        t_new = adjusted_threshold(t, old, new)
        assert float(adjust_for_prior_shift(np.array([t_new]), old, new)[0]) == pytest.approx(t, rel=1e-9)


def test_psi_by_hand() -> None:
    # 50/50 -> 60/40: (0.1 ln 1.2) + (-0.1 ln 0.8) = 0.0405
    assert psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(0.1 * np.log(1.2) - 0.1 * np.log(0.8))
    assert psi(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


def test_regression_card_from_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": 2 * x[:, 0] + rng.normal(size=300)})
    frame.to_csv(tmp_path / "train.csv", index=False)
    args = [
        "compare",
        str(tmp_path / "train.csv"),
        "--target",
        "y",
        "--losses",
        "mse",
        "--model",
        "linear",
        "--epochs",
        "2",
        "--bootstrap",
        "10",
        "--quiet",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 0
    card = str(tmp_path / "o" / "model_card.json")
    fresh = pd.DataFrame({"y": 2 * rng.normal(size=2000) + rng.normal(size=2000)})
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    assert main(["drift", card, str(tmp_path / "fresh.csv"), "--target", "y"]) == 0
    (fresh + 3.0).to_csv(tmp_path / "moved.csv", index=False)
    capsys.readouterr()
    assert main(["drift", card, str(tmp_path / "moved.csv"), "--target", "y", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["tests"]["ks"]["p_value"] < 1e-6 and report["tests"]["wasserstein"]["distance"] > 2.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--target", "nope"], "`--target`"),
        (["--scores", "word"], "numeric"),
    ],
)
def test_bad_drift_input_is_one_line_exit_2(
    tmp_path: Path, card_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    pd.DataFrame({"y": [0, 1], "word": ["a", "b"]}).to_csv(tmp_path / "d.csv", index=False)
    assert main(["drift", str(card_path), str(tmp_path / "d.csv"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("losskit drift: error:") and needle in err[0]


def test_missing_or_foreign_card_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _labels(tmp_path, 0.1, n=10)
    assert main(["drift", str(tmp_path / "none.json"), str(data), "--target", "y"]) == 2
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    assert main(["drift", str(tmp_path / "other.json"), str(data), "--target", "y"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("CARD" in line for line in lines)
