"""``drift``: compare new labels (or scores) with the distribution frozen in a model card.

A check decides on *effect sizes that mean something for the task*, each with a confidence
interval that carries the uncertainty of both the new sample (``n`` rows) and the card's
reference (``n0`` rows):

* Classes: the odds ratio of each class's rate, new against training,
  ``OR_c = odds(p1_c) / odds(p0_c)`` with ``Var(log OR_c) = 1 / (n p1 (1 - p1)) + 1 / (n0 p0 (1 - p0))``
  (Woolf's variance; ``p1`` from counts + 0.5). A binary card tests its positive class
  (``classes[1]``, which ``compare`` also records as ``data.positive_class``), a multi-class card
  every class, a ranking card every relevance level (its classes). For a binary model the odds
  ratio is exactly the factor ``k`` that moves the decision threshold: a posterior ``p`` becomes ``p k / (p k + 1 - p)``
  (:func:`losskit.evaluate.adjust_for_prior_shift`), so the old score equivalent to the card's
  threshold ``t`` is ``t' = t / (t + (1 - t) k)``.
* Continuous values (a regression target, or a regression or ranking model's scores): a location and a scale change in
  robust units of the reference: the median shift divided by the reference's interquartile range
  ``(m1 - m0) / IQR0``, and the log IQR ratio ``log(IQR1 / IQR0)``. Their standard errors are the
  asymptotic ones of sample quantiles, ``Var(Q_p) = p (1 - p) / (n f(Q_p)^2)`` and
  ``Cov(Q_.25, Q_.75) = .0625 / (n f(Q_.25) f(Q_.75))``, with the density ``f`` read off the
  quantiles (over ``p +- 0.025``).
* Scores of a binary model: the odds ratio of the positive rate, estimated with the EM of
  Saerens et al. (2002) (:func:`losskit.evaluate.estimate_prior_shift`, relative to the model's
  mean validation score), its variance from the mixture likelihood's Fisher information plus the
  delta-method variance of the card's mean score. It is held to the labels' tolerance.

Each statistic's interval is at level ``1 - alpha / m`` for ``m`` statistics (Bonferroni), so an
unshifted sample is flagged with probability at most ``alpha`` (default 0.01). The outcome is

* ``"shift"`` (exit status 1): some statistic is *material* (``|estimate| >= tolerance``) and its
  interval excludes no change;
* ``"too_few_rows"`` (exit status 3): no material shift was found, but some statistic's interval
  around "no change" is wider than its tolerance, so the sample could not have told a material
  shift from none (the report says about how many rows would);
* ``"stable"`` (exit status 0) otherwise.

Tolerances (defaults): class odds ratio beyond ``rate_ratio = 1.4`` either way, median shift of
``shift = 0.1`` IQR, IQR ratio beyond ``scale_ratio = 1.05`` either way. The chi-square or
Kolmogorov-Smirnov p-value and the population stability index are reported for reference;
neither decides.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from losskit import catalog
from losskit._errors import LossInputError
from losskit._format import number as _fmt
from losskit.lab.card import ModelCard, clean
from losskit.lab.data import shown_columns

__all__ = [
    "EXIT_STATUS",
    "DriftReport",
    "Statistic",
    "adjusted_threshold",
    "check_drift",
    "class_effects",
    "combine",
    "decide",
    "psi",
    "robust_effects",
]

_FLOOR = 1e-4
_H = 0.025  # half-width (in probability) of the window the quantile density is read over
_PROBS = np.array([0.25 - _H, 0.25, 0.25 + _H, 0.5 - _H, 0.5, 0.5 + _H, 0.75 - _H, 0.75, 0.75 + _H])
EXIT_STATUS = {"stable": 0, "shift": 1, "too_few_rows": 3}
_CODES = {v: k for k, v in EXIT_STATUS.items()}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors (each summing to 1)."""
    e = np.clip(np.asarray(expected, dtype=np.float64), _FLOOR, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), _FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def adjusted_threshold(threshold: float, old_rate: float, new_rate: float) -> float:
    """The score on the old model equivalent to ``threshold`` after the prior moves from ``old_rate`` to ``new_rate``.

    The inverse of :func:`losskit.evaluate.adjust_for_prior_shift`: the old score ``t'`` whose
    prior-corrected value is ``threshold``, i.e. ``threshold`` corrected from the new prior back
    to the old one.

    Example:
        >>> round(adjusted_threshold(0.5, 0.1, 0.2), 4)   # more positives: a lower bar on old scores
        0.3077
    """
    from losskit.evaluate import adjust_for_prior_shift

    return float(adjust_for_prior_shift(np.array([threshold]), new_rate, old_rate)[0])


# --------------------------------------------------------------------------------------------
# Vectorised statistics: every function takes a leading axis of R samples (R = 1 for one check,
# many for the false-alarm measurement in the tests).


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def class_effects(counts: np.ndarray, ref_counts: np.ndarray) -> dict[str, np.ndarray]:
    """Log odds ratio of each class's rate, new ``counts (R, C)`` against ``ref_counts (C,)``.

    Returns ``estimate``, ``a_obs``, ``a_null`` and ``b`` (``R x C``): the variance of the
    estimate is ``a / n + b`` (``a_obs`` at the new rate, ``a_null`` at the reference rate, ``b``
    the reference's share).
    """
    counts = np.asarray(counts, dtype=np.float64)
    ref = np.asarray(ref_counts, dtype=np.float64)
    n = counts.sum(-1, keepdims=True)
    n0 = ref.sum()
    p0 = ref / n0
    p1 = (counts + 0.5) / (n + 1.0)
    est = _logit(p1) - _logit(p0)
    b = np.broadcast_to(1.0 / (n0 * p0 * (1 - p0)), est.shape)
    return {
        "estimate": est,
        "a_obs": n / ((counts + 0.5) * (n - counts + 0.5) / (n + 1.0)),
        "a_null": np.broadcast_to(1.0 / (p0 * (1 - p0)), est.shape),
        "b": b,
        "n": np.broadcast_to(n, est.shape),
    }


def _density_terms(q: np.ndarray) -> tuple[np.ndarray, ...]:
    """From quantiles at ``_PROBS`` (``..., 9``): median, IQR and the per-row variance factors."""
    span = np.maximum(q[..., 8] - q[..., 0], 0.0)
    floor = 0.1 * span * 2 * _H / (0.5 + 2 * _H) + 1e-12  # ties (a discrete target): a tenth of uniform

    def inv_density(lo: int, hi: int) -> np.ndarray:  # 1 / f(Q_p)
        return np.maximum(q[..., hi] - q[..., lo], floor) / (2 * _H)

    g25, g50, g75 = inv_density(0, 2), inv_density(3, 5), inv_density(6, 8)
    median, iqr = q[..., 4], q[..., 7] - q[..., 1]
    v_med = 0.25 * g50**2
    v_iqr = 0.1875 * g25**2 + 0.1875 * g75**2 - 2 * 0.0625 * g25 * g75
    return median, iqr, v_med, v_iqr


def robust_effects(sample_q: np.ndarray, n: np.ndarray | int, ref_q: np.ndarray, n0: float) -> dict[str, np.ndarray]:
    """Median shift in reference IQRs and log IQR ratio (``R x 2``), from quantiles at ``_PROBS``.

    ``sample_q (R, 9)``: the new samples' quantiles; ``ref_q (9,)``: the reference's. Returns the
    same keys as :func:`class_effects`.
    """
    sample_q, ref_q = np.asarray(sample_q, dtype=np.float64), np.asarray(ref_q, dtype=np.float64)
    m0, iqr0, v_med0, v_iqr0 = _density_terms(ref_q)
    m1, iqr1, v_med1, v_iqr1 = _density_terms(sample_q)
    iqr1 = np.maximum(iqr1, iqr0 * 1e-6)
    est = np.stack([(m1 - m0) / iqr0, np.log(iqr1 / iqr0)], axis=-1)
    a_obs = np.stack([v_med1 / iqr0**2, v_iqr1 / iqr1**2], axis=-1)
    a_null = np.broadcast_to(np.array([v_med0 / iqr0**2, v_iqr0 / iqr0**2]), est.shape)
    b = a_null / n0
    n_arr = np.broadcast_to(np.asarray(n, dtype=np.float64).reshape(-1, 1) if np.ndim(n) else float(n), est.shape)
    return {"estimate": est, "a_obs": a_obs, "a_null": a_null, "b": b, "n": n_arr}


def decide(effects: dict[str, np.ndarray], tolerance: np.ndarray | float, alpha: float) -> np.ndarray:
    """Outcome code (the exit status: 0 stable, 1 shift, 3 too few rows) of each statistic.

    ``tolerance`` broadcasts against the statistics (the last axis); the interval level is
    Bonferroni-corrected over that axis.

    Example:
        >>> import numpy as np
        >>> # 3% positives in training (7,000 rows); new samples of 4,000 rows at 3%, 6% and 1.5%
        >>> counts = np.array([[3880, 120], [3760, 240], [3940, 60]])
        >>> e = class_effects(counts, np.array([6790, 210]))
        >>> decide({k: v[:, 1:] for k, v in e.items()}, np.log(1.4), alpha=0.01)[:, 0].tolist()
        [0, 1, 1]
    """
    est, n = effects["estimate"], effects["n"]
    z = _z(alpha, est.shape[-1])
    se = np.sqrt(effects["a_obs"] / n + effects["b"])
    se_null = np.sqrt(effects["a_null"] / n + effects["b"])
    material = np.abs(est) >= tolerance
    shift = material & (np.abs(est) >= z * se)
    few = ~shift & (z * se_null > tolerance)
    return np.where(shift, 1, np.where(few, 3, 0))


def combine(codes: np.ndarray) -> np.ndarray:
    """One outcome code per sample: any shift wins, then any "too few rows", else stable."""
    return np.where((codes == 1).any(-1), 1, np.where((codes == 3).any(-1), 3, 0))


def _z(alpha: float, m: int) -> float:
    return float(stats.norm.ppf(1.0 - alpha / (2 * m)))


# --------------------------------------------------------------------------------------------


@dataclass
class Statistic:
    """One decision statistic: ``estimate`` with its interval ``[low, high]`` on the reported scale."""

    name: str
    scale: str  # "ratio" (estimate, interval and tolerance are ratios) or "iqr" (IQR units)
    estimate: float
    low: float
    high: float
    tolerance: float
    outcome: str
    rows_needed: int | None = None

    def words(self) -> str:
        if self.scale == "ratio":
            band = f"material below {1 / self.tolerance:.3g} or above {self.tolerance:.3g}"
        else:
            band = f"material beyond +-{self.tolerance:.3g} IQR"
        return (
            f"{self.name} {self.estimate:.3g} (CI {self.low:.3g} to {self.high:.3g}; {band}): "
            + self.outcome.replace("_", " ")
        )


@dataclass
class DriftReport:
    """The outcome of a drift check: ``outcome`` is ``"stable"``, ``"shift"`` or ``"too_few_rows"``."""

    column: str
    kind: str  # "labels" or "scores"
    n: int
    outcome: str
    level: float
    statistics: list[Statistic]
    tests: dict[str, Any] = field(default_factory=dict)
    prior: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        return self.outcome == "shift"

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.outcome]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(significant=self.significant, exit_status=self.exit_status)
        return clean(out)

    def to_text(self) -> str:
        verdict = {"shift": "SHIFT", "stable": "stable", "too_few_rows": "TOO FEW ROWS TO DECIDE"}[self.outcome]
        lines = [f"drift of {self.kind} `{self.column}` ({self.n} rows): {verdict}"]
        lines.append(f"  intervals at {self.level:.4g}% (Bonferroni over {len(self.statistics)} statistic(s)):")
        lines += [f"    {s.words()}" for s in self.statistics]
        for name, value in self.tests.items():
            lines.append(f"  {name} (for reference): " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
        lines += [f"  - {a}" for a in self.advice]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _column(frame: pd.DataFrame, name: str, option: str) -> pd.Series:
    if name not in frame.columns:
        raise LossInputError(option, f"a column of the table ({shown_columns(frame)})", repr(name))
    col = frame[name].dropna()
    if len(col) == 0:
        raise LossInputError(option, "a column with at least one value", f"{name!r} is empty")
    return col


def _numeric(col: pd.Series, option: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise LossInputError(option, "a numeric column", f"{col.name!r} of dtype {col.dtype}")
    values = col.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise LossInputError(option, "finite numbers", f"{int((~np.isfinite(values)).sum())} infinite value(s)")
    return values


def _check_options(alpha: float, rate_ratio: float, shift: float, scale_ratio: float) -> None:
    checks = [
        ("alpha", alpha, "a level in (0, 0.5)", lambda v: 0.0 < v < 0.5),
        ("rate_ratio", rate_ratio, "a finite odds ratio > 1", lambda v: 1.0 < v < math.inf),
        ("shift", shift, "a finite median shift > 0 (in IQR units)", lambda v: 0.0 < v < math.inf),
        ("scale_ratio", scale_ratio, "a finite IQR ratio > 1", lambda v: 1.0 < v < math.inf),
    ]
    for name, value, expected, ok in checks:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(float(value)):
            raise LossInputError(name, expected, repr(value))


def check_drift(
    card: ModelCard,
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    scores: str | None = None,
    alpha: float = 0.01,
    rate_ratio: float = 1.4,
    shift: float = 0.1,
    scale_ratio: float = 1.05,
) -> DriftReport:
    """Compare ``frame[target]`` (labels) or ``frame[scores]`` (model scores) with ``card``'s reference.

    Args:
        card: the model card (:meth:`ModelCard.load`).
        frame: the new data.
        target: the column with new labels; must be the card's target.
        scores: the column with the model's scores on new data (binary or regression cards).
        alpha: family-wise false-alarm level of the intervals.
        rate_ratio: class odds ratio (either way) that counts as a material prior shift.
        shift: median shift, in reference IQRs, that counts as a material location change.
        scale_ratio: IQR ratio (either way) that counts as a material scale change.

    Returns:
        :class:`DriftReport`; see the module docstring for the decision rule.

    Raises:
        LossInputError: an option out of range, a column that is not the card's target, labels
            none of which are the card's classes, scores outside [0, 1] for a binary card.
    """
    _check_options(alpha, rate_ratio, shift, scale_ratio)
    if (target is None) == (scores is None):
        raise LossInputError("target/scores", "exactly one of them", "both" if target else "neither")
    tol = {"rate": math.log(rate_ratio), "shift": float(shift), "scale": math.log(scale_ratio)}
    if target is not None:
        if target != card.target:
            raise LossInputError("target", f"the card's target column {card.target!r}", repr(target))
        col = _column(frame, target, "target")
        if card.task == "regression":
            values = _numeric(col, "target")
            return _continuous(card, values, target, "labels", "target_quantiles", "train", tol, alpha)
        return _classes(card, col, target, tol, alpha)
    if scores == card.target:
        raise LossInputError(
            "scores", "a column of model scores (the card's target is checked as target)", repr(scores)
        )
    col = _column(frame, scores, "scores")
    values = _numeric(col, "scores")
    if card.task in ("multiclass", "ordinal"):
        raise LossInputError(
            "scores", "used with a binary or regression model card (check labels as target)", f"a {card.task} card"
        )
    if card.task == "binary" and ((values < 0) | (values > 1)).any():
        raise LossInputError("scores", "positive-class probabilities in [0, 1]", "values outside [0, 1]")
    return _continuous(card, values, scores, "scores", "score_quantiles", "val", tol, alpha)


def _ci(effects: dict[str, np.ndarray], z: float) -> tuple[np.ndarray, np.ndarray]:
    se = np.sqrt(effects["a_obs"] / effects["n"] + effects["b"])
    return effects["estimate"] - z * se, effects["estimate"] + z * se


def _rows_needed(effects: dict[str, np.ndarray], tolerance: np.ndarray, z: float) -> list[int | None]:
    room = (np.asarray(tolerance) / z) ** 2 - effects["b"]
    need = np.where(room > 0, np.ceil(effects["a_null"] / np.where(room > 0, room, 1.0)), np.inf)
    return [None if not math.isfinite(v) else int(v) for v in need.ravel()]


def _statistics(
    names: list[str], scales: list[str], effects: dict[str, np.ndarray], tolerance: np.ndarray, alpha: float
) -> tuple[list[Statistic], int]:
    codes = decide(effects, tolerance, alpha)[0]
    z = _z(alpha, len(names))
    low, high = _ci(effects, z)
    needed = _rows_needed(effects, tolerance, z)
    out = []
    for i, (name, scale) in enumerate(zip(names, scales, strict=True)):
        ratio = scale == "ratio"
        conv = math.exp if ratio else float
        out.append(
            Statistic(
                name=name,
                scale=scale,
                estimate=conv(float(effects["estimate"][0, i])),
                low=conv(float(low[0, i])),
                high=conv(float(high[0, i])),
                tolerance=conv(float(np.broadcast_to(tolerance, codes.shape)[i])),
                outcome=_CODES[int(codes[i])],
                rows_needed=needed[i] if codes[i] == 3 else None,
            )
        )
    return out, int(combine(codes[None])[0])


def _labels_as_text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(col) and np.all(col == np.round(col)):
        return col.astype(np.int64).astype(str)
    return col.astype(str)


def _classes(card: ModelCard, col: pd.Series, name: str, tol: dict[str, float], alpha: float) -> DriftReport:
    names = [str(c) for c in card.classes]
    labels = _labels_as_text(col)
    known = labels.isin(names)
    if not known.any():
        shown = ", ".join(sorted(set(labels))[:5])
        raise LossInputError("target", f"labels of the card's classes {names}", f"only other values ({shown})")
    unknown = sorted(set(labels[~known]))
    counts = np.array([(labels == c).sum() for c in names], dtype=np.float64)
    ref_counts = np.asarray(card.reference["class_counts"], dtype=np.float64)
    old = ref_counts / ref_counts.sum()
    new = counts / counts.sum()
    effects = class_effects(counts[None], ref_counts)
    tested = [1] if card.task == "binary" else list(range(len(names)))  # binary: the positive class
    effects = {k: v[:, tested] for k, v in effects.items()}
    noun = _noun(card)
    statistics, code = _statistics(
        [f"odds ratio of {noun} {names[i]!r}" for i in tested], ["ratio"] * len(tested), effects, tol["rate"], alpha
    )
    chi = stats.chisquare(counts, f_exp=old * counts.sum())
    outcome = "shift" if unknown else _CODES[code]
    report = DriftReport(
        column=name,
        kind="labels",
        n=len(labels),
        outcome=outcome,
        level=100 * (1 - alpha / len(tested)),
        statistics=statistics,
        tests={"chi_square": {"p_value": float(chi.pvalue)}, "psi": {"value": psi(old, new)}},
        prior={"classes": card.classes, "train": old.tolist(), "new": new.tolist()},
    )
    if unknown:
        report.advice.append(
            f"{int((~known).sum())} label(s) never seen in training: {unknown[:10]}; the model cannot predict "
            "them: retrain"
        )
    if card.task == "binary":
        _binary_advice(card, float(old[1]), float(new[1]), report, "observed")
    else:
        _multiclass_advice(card, names, old, new, report)
    return report


def _weights_words(card: ModelCard) -> str | None:
    w = card.loss.get("options", {}).get("weight")
    return None if w is None else f"the class weights in the card ({_fmt([float(x) for x in w])})"


def _multiclass_advice(
    card: ModelCard, names: list[str], old: np.ndarray, new: np.ndarray, report: DriftReport
) -> None:
    moved = ", ".join(f"{c}: {o:.2%} -> {w:.2%}" for c, o, w in zip(names, old, new, strict=True))
    shares = f"{_noun(card)} shares"
    if report.outcome == "shift":
        text = f"{shares} moved ({moved}): re-tune on recent data"
        weights = _weights_words(card)
        if weights:
            balanced = [round(1 / (len(names) * p), 3) if p > 0 else None for p in new]
            text += f"; {weights} were computed for the old shares (balanced for the new shares: {balanced})"
        report.advice.append(text)
    elif report.outcome == "too_few_rows":
        report.advice.append(f"{shares} {moved}: {_too_few(report)}")
    else:
        report.advice.append(f"{shares} {moved}: every change within the tolerance; nothing to re-tune")


def _noun(card: ModelCard) -> str:
    """What the card's classes are: relevance levels of a ranking card, else classes."""
    return "relevance level" if card.task == "ranking" else "class"


def _too_few(report: DriftReport) -> str:
    need = [s.rows_needed for s in report.statistics if s.outcome == "too_few_rows"]
    known = [n for n in need if n is not None]
    more = f"about {max(known):,} rows are needed" if len(known) == len(need) else "the card's reference is too small"
    return f"cannot tell a material shift from none with {report.n} rows ({more}); this is not a verdict of stable"


def _binary_advice(card: ModelCard, old_rate: float, new_rate: float, report: DriftReport, how: str) -> None:
    """Words and threshold for a binary card; the rates are those of the positive class ``classes[1]``."""
    t = card.threshold
    report.prior.update({"old_positive_rate": old_rate, "new_positive_rate": new_rate, "estimated_by": how})
    rates = f"positive rate ({card.classes[1]!r}) {old_rate:.2%} (training) -> {new_rate:.2%} ({how})"
    if t is not None and 0.0 < new_rate < 1.0:
        report.threshold = {"card": t, "adjusted": adjusted_threshold(t, old_rate, new_rate)}
    adjusted = report.threshold.get("adjusted")
    if report.outcome == "stable":
        text = f"{rates}: within the tolerance; keep the threshold {_fmt(t)}"
        if adjusted is not None:
            text += f" (the prior-shift adjusted value, {adjusted:.4g}, is within noise of it)"
        report.advice.append(text)
    elif report.outcome == "too_few_rows":
        text = f"{rates}: {_too_few(report)}"
        if adjusted is not None:
            text += f"; the threshold {_fmt(t)} would become {adjusted:.4g} if the estimate held"
        report.advice.append(text)
    else:
        report.advice.append(rates)
        if adjusted is not None:
            report.advice.append(
                f"re-tune the threshold: the card's {t:.4g} corresponds to {adjusted:.4g} on the current scores "
                "under the new prior (or re-tune it on fresh labelled validation data)"
            )
    pw = card.loss.get("options", {}).get("pos_weight")
    if pw is not None and report.outcome == "shift" and 0.0 < new_rate < 1.0:
        report.advice.append(
            f"pos_weight={_fmt(pw)} in the card was set for the old prior; the balanced value for the new prior is "
            f"{(1 - new_rate) / new_rate:.4g}: re-fit it when you retrain"
        )


def _continuous(
    card: ModelCard,
    values: np.ndarray,
    name: str,
    kind: str,
    key: str,
    split: str,
    tol: dict[str, float],
    alpha: float,
) -> DriftReport:
    q = np.asarray(card.reference[key], dtype=np.float64)
    levels = np.linspace(0.0, 1.0, len(q))
    ref_q = np.interp(_PROBS, levels, q)
    n0 = float(card.splits.get(split) or math.inf)
    binary_scores = card.task == "binary" and kind == "scores"
    if binary_scores:
        effects = _em_effect(card, values, n0)
        names, scales, tolerance = ["odds ratio of the positive rate (EM)"], ["ratio"], [tol["rate"]]
    else:
        if not ref_q[7] > ref_q[1]:
            raise LossInputError(
                f"CARD field reference.{key}",
                "a reference whose 25% and 75% quantiles differ (the robust unit, the IQR, is 0 here)",
                f"{ref_q[1]:.4g} for both",
            )
        effects = robust_effects(np.quantile(values, _PROBS)[None], len(values), ref_q, n0)
        names, scales = ["median shift (reference IQRs)", "IQR ratio"], ["iqr", "ratio"]
        tolerance = [tol["shift"], tol["scale"]]
    statistics, code = _statistics(names, scales, effects, np.array(tolerance), alpha)
    ks = stats.kstest(values, lambda x: np.interp(x, q, levels, left=0.0, right=1.0))
    report = DriftReport(
        column=name,
        kind=kind,
        n=len(values),
        outcome=_CODES[code],
        level=100 * (1 - alpha / len(names)),
        statistics=statistics,
        tests={"ks": {"p_value": float(ks.pvalue)}},
    )
    if binary_scores:
        _score_prior(card, report)
    else:
        new_q = np.quantile(values, [0.25, 0.5, 0.75])
        moved = f"median {ref_q[4]:.4g} -> {new_q[1]:.4g}, IQR {ref_q[7] - ref_q[1]:.4g} -> {new_q[2] - new_q[0]:.4g}"
        what = "target" if kind == "labels" else "predictions"
        if report.outcome == "shift":
            report.advice.append(f"the {what} moved ({moved}): retrain on recent data")
            delta = card.loss.get("options", {}).get("delta")
            if delta is not None and kind == "labels":
                mad = float(stats.median_abs_deviation(values, scale="normal"))
                report.advice.append(
                    f"delta={_fmt(delta)} in the card was set from the old spread; "
                    f"1.345 x robust SD now = {1.345 * mad:.4g}"
                )
        elif report.outcome == "too_few_rows":
            report.advice.append(f"the {what} ({moved}): {_too_few(report)}")
        else:
            report.advice.append(f"the {what} distribution is stable ({moved}; changes within the tolerance)")
    return report


def _em_effect(card: ModelCard, values: np.ndarray, n0: float) -> dict[str, np.ndarray]:
    """Log odds ratio of the positive rate estimated by EM, with its asymptotic variance.

    EM maximises the mixture log-likelihood ``sum log(pi r_i + 1 - pi)`` with likelihood ratios
    ``r_i = odds(s_i) / odds(m0)``. Its Fisher information
    ``I(pi) = sum (r_i - 1)^2 / (pi r_i + 1 - pi)^2`` gives
    ``Var(logit pi) = 1 / (I(pi) pi^2 (1 - pi)^2)``, taken at the estimate or at ``m0`` ("no
    change"), whichever is larger (at the estimate alone the interval is too narrow near 0).
    The card's share is the delta-method variance of its validation mean score ``m0``,
    ``Var(s) / (n0 m0^2 (1 - m0)^2)`` with ``Var(s)`` from the stored quantiles.
    """
    import warnings

    from losskit.evaluate import estimate_prior_shift

    m0 = float(card.reference["score_mean"])
    p = np.clip(values, 1e-6, 1 - 1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rate = float(estimate_prior_shift(p, m0).prior)
    rate = min(max(rate, 1e-6), 1 - 1e-6)
    r = (p / (1 - p)) * ((1 - m0) / m0)

    def var_logit_times_n(pi: float) -> float:
        info = float(np.sum((r - 1) ** 2 / (pi * r + 1 - pi) ** 2))
        return len(p) / max(info * (pi * (1 - pi)) ** 2, 1e-300)

    var0 = float(np.var(np.asarray(card.reference["score_quantiles"], dtype=np.float64)))
    return {
        "estimate": np.array([[math.log(rate / (1 - rate)) - math.log(m0 / (1 - m0))]]),
        "a_obs": np.array([[max(var_logit_times_n(rate), var_logit_times_n(m0))]]),
        "a_null": np.array([[var_logit_times_n(m0)]]),
        "b": np.array([[var0 / (m0 * (1 - m0)) ** 2 / n0]]),
        "n": np.array([[float(len(p))]]),
    }


def _focusing(name: Any) -> bool:
    """Whether the card's loss has a focusing exponent (``gamma``, ``gamma_neg`` ... in the catalog)."""
    if name not in catalog.names():
        return False
    return any(o.name.startswith("gamma") for o in catalog.lookup(name).options)


def _score_prior(card: ModelCard, report: DriftReport) -> None:
    """Binary scores: the positive rate and threshold implied by EM's odds ratio (the decision statistic)."""
    old_rate = float(card.reference["prior"][1])
    odds = report.statistics[0].estimate * old_rate / (1 - old_rate)
    _binary_advice(card, old_rate, odds / (1 + odds), report, "estimated from the scores by EM")
    if card.loss.get("options", {}).get("pos_weight") is not None or _focusing(card.loss.get("name")):
        report.notes.append(
            "the model's scores are not calibrated probabilities (weighted or focal loss): EM assumes they are, "
            "so read the estimated rate as approximate"
        )
