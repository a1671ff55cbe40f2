"""``drift``: compare new labels (or scores) with the distribution frozen in a model card.

* Classes: Pearson's chi-square goodness-of-fit test of the new class counts against the
  training prior (:func:`scipy.stats.chisquare`) and the population stability index
  ``PSI = sum_c (a_c - e_c) ln(a_c / e_c)`` (shares floored at 1e-4).
* Continuous values (a regression target, or model scores): the one-sample Kolmogorov-Smirnov
  test against the card's reference CDF (linear between its stored quantiles,
  :func:`scipy.stats.kstest`), the Wasserstein-1 distance (:func:`scipy.stats.wasserstein_distance`,
  also divided by the reference's robust spread) and the PSI over the reference deciles.

A shift is *significant* when the test's p-value is below ``alpha`` **and** the PSI reaches
``psi_threshold`` (0.1 is the usual "moderate shift" mark; 0.25 "major"): with many rows, a
p-value alone flags shifts too small to matter.

For a binary model the new positive rate comes from the labels, or, with scores only, from
the EM of Saerens et al. (2002) (:func:`losskit.evaluate.estimate_prior_shift`) started from the
model's own mean score on validation. A prior shift multiplies the odds by
``k = odds(new) / odds(old)``; a posterior ``p`` then becomes ``p k / (p k + 1 - p)``
(:func:`losskit.evaluate.adjust_for_prior_shift`), so the old scores that match the tuned
threshold ``t`` on the adjusted scale lie at ``t' = t / (t + (1 - t) k)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from losskit._errors import LossInputError
from losskit.lab.card import ModelCard, clean

__all__ = ["DriftReport", "adjusted_threshold", "check_drift", "psi"]

_FLOOR = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors (each summing to 1)."""
    e = np.clip(np.asarray(expected, dtype=np.float64), _FLOOR, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), _FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _odds(p: float) -> float:
    return p / (1.0 - p)


def adjusted_threshold(threshold: float, old_rate: float, new_rate: float) -> float:
    """The threshold on the old scores equivalent to ``threshold`` after a prior shift (module docstring)."""
    k = _odds(new_rate) / _odds(old_rate)
    return threshold / (threshold + (1.0 - threshold) * k)


@dataclass
class DriftReport:
    """The outcome of a drift check; ``significant`` decides the exit status."""

    column: str
    kind: str  # "labels" or "scores"
    n: int
    tests: dict[str, Any]
    significant: bool
    prior: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return clean(asdict(self))

    def to_text(self) -> str:
        verdict = "SIGNIFICANT SHIFT" if self.significant else "stable"
        lines = [f"drift of {self.kind} `{self.column}` ({self.n} rows): {verdict}"]
        for name, value in self.tests.items():
            lines.append(f"  {name}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
        lines += [f"  - {a}" for a in self.advice]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _column(frame: pd.DataFrame, name: str, option: str) -> pd.Series:
    if name not in frame.columns:
        raise LossInputError(option, "a column of the table", repr(name))
    col = frame[name].dropna()
    if len(col) == 0:
        raise LossInputError(option, "a column with at least one value", f"{name!r} is empty")
    return col


def _numeric(col: pd.Series, option: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise LossInputError(option, "a numeric column", f"{col.name!r} of dtype {col.dtype}")
    return col.to_numpy(dtype=np.float64)


def check_drift(
    card: ModelCard,
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    scores: str | None = None,
    alpha: float = 0.01,
    psi_threshold: float = 0.1,
) -> DriftReport:
    """Compare ``frame[target]`` (labels) or ``frame[scores]`` (model scores) with ``card``'s reference."""
    if (target is None) == (scores is None):
        raise LossInputError("target/scores", "exactly one of them", "both" if target else "neither")
    if not 0.0 < alpha < 1.0:
        raise LossInputError("alpha", "a p-value level in (0, 1)", alpha)
    if target is not None:
        col = _column(frame, target, "target")
        if card.task == "regression":
            return _continuous(
                card,
                _numeric(col, "target"),
                target,
                "labels",
                card.reference["target_quantiles"],
                alpha,
                psi_threshold,
            )
        return _classes(card, col, target, alpha, psi_threshold)
    col = _column(frame, scores, "scores")
    values = _numeric(col, "scores")
    if card.task == "multiclass":
        raise LossInputError("scores", "used with a binary or regression model card (pass target= here)", "multiclass")
    if card.task == "binary" and ((values < 0) | (values > 1)).any():
        raise LossInputError("scores", "positive-class probabilities in [0, 1]", "values outside [0, 1]")
    report = _continuous(card, values, scores, "scores", card.reference["score_quantiles"], alpha, psi_threshold)
    if card.task == "binary":
        _score_prior(card, values, report)
    return report


def _classes(card: ModelCard, col: pd.Series, name: str, alpha: float, psi_threshold: float) -> DriftReport:
    names = [str(c) for c in card.classes]
    labels = col.astype(str)
    if pd.api.types.is_float_dtype(col) and np.all(col == np.round(col)):
        labels = col.astype(np.int64).astype(str)
    unknown = sorted(set(labels) - set(names))
    counts = np.array([(labels == c).sum() for c in names], dtype=np.float64)
    n = len(labels)
    old = np.asarray(card.reference["prior"], dtype=np.float64)
    new = counts / max(counts.sum(), 1.0)
    chi = stats.chisquare(counts, f_exp=old * counts.sum()) if counts.sum() > 0 else None
    p_value = float(chi.pvalue) if chi is not None else 0.0
    index = psi(old, new)
    significant = bool(unknown) or (p_value < alpha and index >= psi_threshold)
    report = DriftReport(
        column=name,
        kind="labels",
        n=n,
        significant=significant,
        tests={
            "chi_square": {"statistic": float(chi.statistic) if chi else None, "p_value": p_value},
            "psi": {"value": index, "threshold": psi_threshold},
        },
        prior={"classes": card.classes, "train": old.tolist(), "new": new.tolist()},
    )
    if unknown:
        report.advice.append(f"labels never seen in training: {unknown[:10]}; the model cannot predict them: retrain")
    if card.task == "binary":
        _binary_advice(card, old[1], float(new[1]), report, "observed")
    elif significant:
        weights = [len(labels) / (len(names) * c) if c > 0 else None for c in counts]
        report.advice.append(
            "class shares moved ("
            + ", ".join(f"{c}: {o:.2%} -> {w:.2%}" for c, o, w in zip(names, old, new, strict=True))
            + "); class weights frozen in the card were computed for the old shares: re-fit them and retrain "
            f"(balanced weights for the new shares: {[None if w is None else round(w, 3) for w in weights]})"
        )
    else:
        report.advice.append(
            f"class shares are stable (PSI {index:.3g}, chi-square p = {p_value:.3g}): nothing to re-tune"
        )
    return report


def _binary_advice(card: ModelCard, old_rate: float, new_rate: float, report: DriftReport, how: str) -> None:
    t = card.threshold
    report.prior.update({"old_positive_rate": old_rate, "new_positive_rate": new_rate, "estimated_by": how})
    if t is not None and 0.0 < new_rate < 1.0:
        report.threshold = {"card": t, "adjusted": adjusted_threshold(t, old_rate, new_rate)}
    if not report.significant:
        report.advice.append(
            f"positive rate {old_rate:.2%} (training) vs {new_rate:.2%} ({how}): stable, keep the threshold "
            f"{_fmt(t)} and the class weights"
        )
        return
    report.advice.append(f"positive rate moved from {old_rate:.2%} (training) to {new_rate:.2%} ({how})")
    if report.threshold:
        report.advice.append(
            f"re-tune the threshold: {t:.4g} in the card corresponds to {report.threshold['adjusted']:.4g} on the "
            "current scores under the new prior (or re-tune it on fresh labelled validation data)"
        )
    pw = card.loss.get("options", {}).get("pos_weight")
    if pw is not None and 0.0 < new_rate < 1.0:
        report.advice.append(
            f"pos_weight={_fmt(pw)} was frozen for the old prior; the balanced value for the new prior is "
            f"{(1 - new_rate) / new_rate:.4g}: re-fit it when you retrain"
        )


def _continuous(
    card: ModelCard,
    values: np.ndarray,
    name: str,
    kind: str,
    quantiles: list[float],
    alpha: float,
    psi_threshold: float,
) -> DriftReport:
    q = np.asarray(quantiles, dtype=np.float64)
    levels = np.linspace(0.0, 1.0, len(q))
    ks = stats.kstest(values, lambda x: np.interp(x, q, levels, left=0.0, right=1.0))
    wd = float(stats.wasserstein_distance(q, values))
    spread = (np.interp(0.75, levels, q) - np.interp(0.25, levels, q)) / 1.349 or float(np.std(q)) or 1.0
    edges = np.unique(np.interp(np.linspace(0.1, 0.9, 9), levels, q))
    expected = np.diff(np.interp(np.r_[-np.inf, edges, np.inf], q, levels, left=0.0, right=1.0))
    actual = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1) / len(values)
    index = psi(expected, actual)
    significant = bool(ks.pvalue < alpha and index >= psi_threshold)
    report = DriftReport(
        column=name,
        kind=kind,
        n=len(values),
        significant=significant,
        tests={
            "ks": {"statistic": float(ks.statistic), "p_value": float(ks.pvalue)},
            "wasserstein": {"distance": wd, "in_robust_sds": wd / spread},
            "psi": {"value": index, "threshold": psi_threshold},
        },
    )
    new_median, old_median = float(np.median(values)), float(np.interp(0.5, levels, q))
    if card.task == "regression":
        what = "target" if kind == "labels" else "predictions"
        if significant:
            report.advice.append(
                f"the {what} moved (median {old_median:.4g} -> {new_median:.4g}, Wasserstein {wd:.4g} = "
                f"{wd / spread:.2f} robust SDs): retrain on recent data"
            )
            delta = card.loss.get("options", {}).get("delta")
            if delta is not None and kind == "labels":
                mad = float(stats.median_abs_deviation(values, scale="normal"))
                report.advice.append(
                    f"delta={_fmt(delta)} was set from the old spread; 1.345 x robust SD now = {1.345 * mad:.4g}"
                )
        else:
            report.advice.append(f"the {what} distribution is stable (KS p = {ks.pvalue:.3g}, PSI {index:.3g})")
    return report


def _score_prior(card: ModelCard, values: np.ndarray, report: DriftReport) -> None:
    from losskit.evaluate import estimate_prior_shift

    score_mean = float(card.reference["score_mean"])
    old_rate = float(card.reference["prior"][1])
    if not 0.0 < score_mean < 1.0:
        return
    est = estimate_prior_shift(np.clip(values, 1e-6, 1 - 1e-6), score_mean)
    k = _odds(float(est.prior)) / _odds(score_mean)  # odds ratio of the shift, on the model's own score scale
    new_rate = k * _odds(old_rate) / (1.0 + k * _odds(old_rate))
    report.tests["prior_em"] = {
        "score_mean_ref": score_mean,
        "score_mean_new": float(values.mean()),
        "estimated_odds_ratio": k,
        "iterations": est.n_iter,
    }
    if not math.isfinite(new_rate):
        return
    _binary_advice(card, old_rate, new_rate, report, "estimated from scores by EM")  # same odds ratio k
    if card.loss.get("options", {}).get("pos_weight") is not None or card.loss["name"] == "binary_focal_loss":
        report.notes.append(
            "the model's scores are not calibrated probabilities (weighted or focal loss): the EM "
            "estimate assumes they are, so read the new prior as approximate"
        )
