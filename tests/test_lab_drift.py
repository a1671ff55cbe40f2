"""``losskit drift`` on real tables: material shifts flagged (exit 1), unshifted resamples stable
(exit 0, false-alarm rate measured over 500 resamples), too few rows its own outcome (exit 3),
bad input one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lab_tables import LEVELS, class_card, credit_default, diamonds, regression_card
from losskit import LossInputError
from losskit.cli import main
from losskit.evaluate import adjust_for_prior_shift
from losskit.lab.drift import (
    _PROBS,
    EXIT_STATUS,
    adjusted_threshold,
    check_drift,
    class_effects,
    combine,
    decide,
    psi,
    robust_effects,
)

RATE_TOL, SHIFT_TOL, SCALE_TOL = np.log(1.4), 0.1, np.log(1.05)  # the defaults of check_drift


def _default_resample(rate: float, n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """``n`` rows of the credit-default table drawn with replacement so that ``rate`` of them defaulted."""
    d = credit_default()
    yes, no = d[d.default == "Yes"], d[d.default == "No"]
    k = round(n * rate)
    return pd.concat(
        [yes.sample(k, replace=True, random_state=seed), no.sample(n - k, replace=True, random_state=seed)]
    )


@pytest.fixture(scope="module")
def default_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    card = class_card(credit_default().default, threshold=0.35)
    return card.save(tmp_path_factory.mktemp("default"))[0]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["drift", *args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(("rate", "direction"), [(0.10, "up"), (0.066, "up"), (0.01, "down"), (0.0167, "down")])
def test_credit_default_prior_shifts_are_flagged_with_the_threshold_in_words(
    tmp_path: Path, default_card: Path, capsys: pytest.CaptureFixture[str], rate: float, direction: str
) -> None:
    # 3.33% defaulted in training; 4,000 new rows at 10%, 6.6% (doubled), 1% and 1.67% (halved)
    data = tmp_path / "new.csv"
    _default_resample(rate).to_csv(data, index=False)
    code, out = _run(capsys, str(default_card), str(data), "--target", "default", "--json")
    report = json.loads(out)
    assert code == 1 and report["outcome"] == "shift" and report["exit_status"] == 1
    assert report["prior"]["new_positive_rate"] == pytest.approx(rate, abs=1e-3)
    (stat,) = report["statistics"]
    assert stat["name"] == "odds ratio of class 'Yes'" and stat["outcome"] == "shift"
    # material (beyond the 1.4 tolerance) and the interval excludes "no change"
    if direction == "up":
        assert stat["estimate"] >= 1.4 and stat["low"] > 1.0
    else:
        assert stat["estimate"] <= 1 / 1.4 and stat["high"] < 1.0
    adjusted = report["threshold"]["adjusted"]
    assert (adjusted < 0.35) if direction == "up" else (adjusted > 0.35)
    # the text shows the recomputed threshold, and says nothing about weights the card does not have
    code, text = _run(capsys, str(default_card), str(data), "--target", "default")
    assert code == 1 and "SHIFT" in text and f"{adjusted:.4g}" in text
    assert "weight" not in text and "np.float64" not in text + out


def test_unshifted_resample_is_stable_and_says_the_threshold_it_keeps(
    tmp_path: Path, default_card: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "same.csv"
    _default_resample(0.0333).to_csv(data, index=False)
    code, text = _run(capsys, str(default_card), str(data), "--target", "default")
    assert code == 0 and "stable" in text and "keep the threshold 0.35" in text


def test_too_few_rows_is_its_own_outcome(
    tmp_path: Path, default_card: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "few.csv"
    _default_resample(0.04, n=500).to_csv(data, index=False)
    code, out = _run(capsys, str(default_card), str(data), "--target", "default", "--json")
    report = json.loads(out)
    assert code == 3 == EXIT_STATUS["too_few_rows"] and report["outcome"] == "too_few_rows"
    assert report["statistics"][0]["rows_needed"] > 500
    code, text = _run(capsys, str(default_card), str(data), "--target", "default")
    assert code == 3 and "TOO FEW ROWS TO DECIDE" in text and "stable" not in text.split("\n")[0]
    assert f"{report['statistics'][0]['rows_needed']:,} rows are needed" in text


def _class_outcomes(ref_counts: np.ndarray, counts: np.ndarray, tested: slice) -> np.ndarray:
    effects = {k: v[:, tested] for k, v in class_effects(counts, ref_counts).items()}
    return combine(decide(effects, RATE_TOL, alpha=0.01))


def test_false_alarm_rate_over_500_unshifted_resamples_and_power_on_a_3_percent_class() -> None:
    # 500 resamples of 4,000 rows of the real table: the rule never flags (bounded by alpha = 0.01)
    d = credit_default()
    card = class_card(d.default)
    ref = np.asarray(card.reference["class_counts"])
    y = (d.default == "Yes").to_numpy()
    rng = np.random.default_rng(0)
    k = y[rng.integers(0, len(y), (500, 4000))].sum(1)
    outcomes = _class_outcomes(ref, np.stack([4000 - k, k], 1), slice(1, 2))
    assert (outcomes == 1).mean() <= 0.01 and (outcomes == 0).mean() >= 0.98
    # a 3% class doubled or halved on 4,000 rows (reference of 7,000 rows at 3%): flagged in >= 99%
    ref3 = np.array([6790, 210])
    for rate in (0.06, 0.015):
        k = rng.binomial(4000, rate, 500)
        assert (_class_outcomes(ref3, np.stack([4000 - k, k], 1), slice(1, 2)) == 1).mean() >= 0.99


def test_multiclass_false_alarm_rate_is_bounded_by_alpha() -> None:
    # five classes, 20,000 reference rows, 500 multinomial samples of 5,000 rows from the same prior
    prior = np.array([0.4, 0.3, 0.2, 0.07, 0.03])
    rng = np.random.default_rng(1)
    counts = rng.multinomial(5000, prior, 500)
    outcomes = _class_outcomes(np.round(prior * 20000), counts, slice(None))
    assert (outcomes == 1).mean() <= 0.01


def _diamond_outcomes(factor: float, n: int, resamples: int, seed: int) -> np.ndarray:
    d = diamonds()
    card = regression_card(d.price)
    ref_q = np.interp(_PROBS, LEVELS, np.asarray(card.reference["target_quantiles"]))
    price = d.price.to_numpy(dtype=np.float64)
    sample = price[np.random.default_rng(seed).integers(0, len(price), (resamples, n))] * factor
    effects = robust_effects(np.quantile(sample, _PROBS, axis=1).T, n, ref_q, card.splits["train"])
    return combine(decide(effects, np.array([SHIFT_TOL, SCALE_TOL]), alpha=0.01))


def test_diamond_prices_false_alarm_rate_and_a_10_percent_price_change() -> None:
    # unshifted resamples of 12,000 rows: no false alarm in 500; prices x1.10 or /1.10: always flagged
    assert (_diamond_outcomes(1.0, 12000, 500, seed=0) == 1).mean() <= 0.01
    assert (_diamond_outcomes(1.10, 12000, 100, seed=1) == 1).all()
    assert (_diamond_outcomes(1 / 1.10, 12000, 100, seed=2) == 1).all()


def test_diamond_prices_through_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = diamonds()
    card = regression_card(d.price).save(tmp_path)[0]
    d.to_csv(tmp_path / "same.csv", index=False)
    code, text = _run(capsys, str(card), str(tmp_path / "same.csv"), "--target", "price")
    assert code == 0 and "stable" in text
    d.assign(price=d.price * 1.10).to_csv(tmp_path / "up.csv", index=False)
    code, out = _run(capsys, str(card), str(tmp_path / "up.csv"), "--target", "price", "--json")
    report = json.loads(out)
    assert code == 1 and report["outcome"] == "shift"
    iqr = next(s for s in report["statistics"] if s["name"] == "IQR ratio")
    assert iqr["estimate"] == pytest.approx(1.10, abs=0.01) and iqr["outcome"] == "shift"
    code, _ = _run(capsys, str(card), str(tmp_path / "up.csv"), "--target", "price", "--scale-ratio", "1.2")
    assert code != 1  # a 10% change is within a 20% tolerance


def test_robust_effects_match_numpy_on_a_planted_normal() -> None:
    # N(0, 1) reference of 10^6 rows, a sample moved by 0.3 sd and scaled by 1.2:
    # median shift = 0.3 / 1.349 IQR, log IQR ratio = log 1.2; the standard errors match the
    # asymptotic values 1.2533 sd / sqrt(n) (median) and 1.167 / sqrt(n) (log IQR) of a normal
    from scipy import stats

    ref_q = stats.norm.ppf(_PROBS)
    n = 40000
    sample = np.random.default_rng(3).normal(0.3, 1.2, n)
    e = robust_effects(np.quantile(sample, _PROBS)[None], n, ref_q, 1e6)
    assert e["estimate"][0, 0] == pytest.approx(0.3 / 1.349, abs=0.02)
    assert e["estimate"][0, 1] == pytest.approx(np.log(1.2), abs=0.02)
    se = np.sqrt(e["a_null"][0] / n)
    assert se[0] * 1.349 == pytest.approx(1.2533 / np.sqrt(n), rel=0.05)
    assert se[1] == pytest.approx(1.167 / np.sqrt(n), rel=0.05)


def test_class_effects_match_woolfs_log_odds_ratio() -> None:
    # 2x2 table: new 40 of 1000, reference 30 of 1500: log OR = log((40.5/960.5) / (30/1470)) etc.
    e = class_effects(np.array([[960, 40]]), np.array([1470, 30]))
    assert e["estimate"][0, 1] == pytest.approx(np.log((40.5 / 960.5) / (30 / 1470)))
    var = e["a_obs"][0, 1] / 1000 + e["b"][0, 1]
    assert var == pytest.approx(1 / 40.5 + 1 / 960.5 + 1 / 30 + 1 / 1470, rel=2e-3)


def test_multiclass_words_name_class_weights_only_when_the_card_has_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = pd.Series(np.repeat(["a", "b", "c"], [5000, 3000, 2000]), name="y")
    plain = class_card(labels).save(tmp_path / "plain")[0]
    weighted = class_card(labels, loss={"name": "cross_entropy", "options": {"weight": [0.7, 1.1, 1.7]}})
    weighted_path = weighted.save(tmp_path / "w")[0]
    pd.DataFrame({"y": np.repeat(["a", "b", "c"], [1600, 800, 1600])}).to_csv(tmp_path / "new.csv", index=False)
    code, text = _run(capsys, str(plain), str(tmp_path / "new.csv"), "--target", "y")
    assert code == 1 and "weight" not in text
    code, text = _run(capsys, str(weighted_path), str(tmp_path / "new.csv"), "--target", "y")
    assert code == 1 and "class weights in the card ([0.7, 1.1, 1.7])" in text


def test_adjusted_threshold_inverts_the_prior_shift_correction() -> None:
    # the old score at t' becomes exactly t after losskit.evaluate's Bayes correction to the new prior
    for t, old, new in [(0.4, 0.05, 0.15), (0.7, 0.3, 0.1), (0.5, 0.5, 0.5)]:
        t_new = adjusted_threshold(t, old, new)
        assert float(adjust_for_prior_shift(np.array([t_new]), old, new)[0]) == pytest.approx(t, rel=1e-9)
    # by hand: t = 0.5, odds x (0.25/0.75)/(0.1/0.9) = 3, so t' = 0.5 / (0.5 + 0.5 * 3) = 0.25
    assert adjusted_threshold(0.5, 0.1, 0.25) == pytest.approx(0.25)


def test_psi_by_hand() -> None:
    # 50/50 -> 60/40: (0.1 ln 1.2) + (-0.1 ln 0.8) = 0.0405
    assert psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(0.1 * np.log(1.2) - 0.1 * np.log(0.8))
    assert psi(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--target", "income"], "the card's target column 'default'"),
        (["--target", "nope"], "no column 'nope'"),
        (["--scores", "student"], "numeric"),
        (["--scores", "default"], "the card's target goes to --target"),
        (["--target", "default", "--alpha", "nan"], "`--alpha`"),
        (["--target", "default", "--alpha", "-1"], "`--alpha`"),
        (["--target", "default", "--alpha", "0.7"], "`--alpha`"),
        (["--target", "default", "--rate-ratio", "1"], "`--rate-ratio`"),
        (["--target", "default", "--rate-ratio", "inf"], "`--rate-ratio`"),
        (["--target", "default", "--rate-ratio", "nan"], "`--rate-ratio`"),
        (["--target", "default", "--shift", "0"], "`--shift`"),
        (["--target", "default", "--shift", "-0.1"], "`--shift`"),
        (["--target", "default", "--scale-ratio", "0.9"], "`--scale-ratio`"),
        (["--target", "default", "--scale-ratio", "nan"], "`--scale-ratio`"),
    ],
)
def test_bad_drift_input_is_one_line_exit_2(
    tmp_path: Path, default_card: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    credit_default().head(50).to_csv(tmp_path / "d.csv", index=False)
    assert main(["drift", str(default_card), str(tmp_path / "d.csv"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


def test_psi_threshold_is_gone(tmp_path: Path, default_card: Path) -> None:
    # PSI no longer decides, so its option no longer exists (an unknown option: exit 2)
    credit_default().head(50).to_csv(tmp_path / "d.csv", index=False)
    assert (
        main(["drift", str(default_card), str(tmp_path / "d.csv"), "--target", "default", "--psi-threshold", "0.1"])
        == 2
    )


def test_a_card_of_another_task_or_labels_of_another_table(tmp_path: Path) -> None:
    card = class_card(credit_default().default)
    balances = pd.DataFrame({"default": credit_default().balance})  # numbers, none of them "Yes" / "No"
    with pytest.raises(LossInputError, match="labels of the card's classes"):
        check_drift(card, balances, target="default")
    reg = regression_card(diamonds().price)
    with pytest.raises(LossInputError, match="numeric"):
        check_drift(reg, pd.DataFrame({"price": ["cheap", "dear"]}), target="price")
    multi = class_card(pd.Series(np.repeat(["a", "b", "c"], 10), name="y"))
    with pytest.raises(LossInputError, match="binary or regression"):
        check_drift(multi, pd.DataFrame({"s": [0.1, 0.2]}), scores="s")
    with pytest.raises(LossInputError, match=r"\[0, 1\]"):
        check_drift(card, pd.DataFrame({"s": [0.1, 1.2]}), scores="s")
