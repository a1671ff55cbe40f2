"""Profile a training target (and optionally its features) for the loss advisor.

:func:`profile_target` turns whatever the user holds (a NumPy array, a pandas Series or
DataFrame, a torch tensor, a list of tag sets, a dict of columns) into a flat
:class:`TargetProfile` of measured numbers. The decision table reads those numbers by
name, so every field here is something a row's condition or a reason can quote.

Measures:

* classification: class counts, the majority:minority ratio, the minority class and its
  share;
* continuous targets: median, MAD, robust z-scores ``0.6745 (y - median) / MAD``
  (Iglewicz and Hoaglin 1993) with the share beyond 3.5 counted as outliers, skewness,
  excess kurtosis, positivity, the skewness left after ``log1p`` and whether ``log1p``
  removes the skew (``log_scale``);
* multi-label: label cardinality (labels per row), density, the rarest label's rate and the
  most co-occurring pair (Jaccard index);
* sequences: alphabet size, target lengths and the frames CTC needs (length plus repeats);
* identities (embeddings): examples per identity.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from losskit._errors import LossInputError
from losskit._optional import requires_extra
from losskit.tasks import TASKS as ALL_TASKS
from losskit.tasks import infer_task, positive_class

__all__ = ["TASKS", "FeatureProfile", "TargetProfile", "profile_features", "profile_target"]

# The tasks the advisor handles: every task of :data:`losskit.tasks.TASKS` but box detection and
# token-level language modelling.
TASKS = tuple(t for t in ALL_TASKS if t not in ("detection", "language"))

# Robust z-score beyond which a value counts as an outlier (Iglewicz and Hoaglin 1993).
OUTLIER_Z = 3.5
# Robust z-score of an "extreme" value: far beyond anything a Gaussian produces.
EXTREME_Z = 10.0
# A non-negative target is on a log scale when it is right-skewed (skewness >= 1) and log1p
# leaves less than 0.5 of it (or skewness >= 2 and less than 1 left): the tail is the scale,
# not outliers. Diamond prices: 1.6 -> 0.12.
LOG_SCALE_SKEW = 1.0
LOG_SCALE_RESIDUAL = 0.5
_TAG_SEPARATORS = ("|", ";", ",")
_MISSING_STRINGS = frozenset({"", "na", "n/a", "nan", "null", "none"})


@dataclass
class FeatureProfile:
    """Shape and quality of the feature table ``X``."""

    n_rows: int
    n_features: int
    numeric_features: int
    missing_share: float
    constant_features: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class TargetProfile:
    """Measured facts about a target. Fields that do not apply to the task are ``None``."""

    task: str
    n: int
    n_missing: int = 0
    source: str = ""
    # classification, ordinal, embedding identities
    classes: list[Any] | None = None
    class_counts: dict[str, int] | None = None
    n_classes: int | None = None
    majority_class: Any = None
    majority_share: float | None = None
    minority_class: Any = None
    minority_count: int | None = None
    minority_share: float | None = None
    imbalance_ratio: float | None = None
    median_per_class: float | None = None
    singleton_classes: int | None = None
    positive_class: Any = None
    # predictions of a current model (multi-class overconfidence)
    confidence: float | None = None
    accuracy: float | None = None
    overconfidence_gap: float | None = None
    # continuous
    mean: float | None = None
    median: float | None = None
    std: float | None = None
    mad: float | None = None
    robust_scale: float | None = None
    skew: float | None = None
    kurtosis: float | None = None
    outlier_share: float | None = None
    extreme_share: float | None = None
    max_robust_z: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    nonnegative: bool | None = None
    log1p_skew: float | None = None
    log_scale: bool | None = None
    q10: float | None = None
    q90: float | None = None
    # counts and positive targets
    integer_valued: bool | None = None
    zero_share: float | None = None
    dispersion: float | None = None  # variance / mean (1 for Poisson counts)
    # multi-label
    labels: list[str] | None = None
    n_labels: int | None = None
    label_cardinality: float | None = None
    label_density: float | None = None
    rarest_label: str | None = None
    rarest_label_rate: float | None = None
    commonest_label_rate: float | None = None
    top_pair: str | None = None
    top_pair_jaccard: float | None = None
    one_hot: bool | None = None
    # ranking, with the query id of each row
    n_queries: int | None = None
    relevant_per_query: float | None = None  # mean number of rows with relevance > 0 per query
    single_relevant_share: float | None = None  # share of queries with exactly one relevant row
    # sequences
    alphabet_size: int | None = None
    mean_length: float | None = None
    max_length: int | None = None
    max_frames_needed: int | None = None
    repeat_share: float | None = None
    infeasible: int | None = None
    # segmentation masks
    pixels_per_image: int | None = None
    absent_class_share: float | None = None
    ignored_share: float | None = None
    # multi-task
    tasks: dict[str, TargetProfile] | None = None
    baseline_losses: dict[str, float] | None = None
    loss_scale_ratio: float | None = None
    # features
    features: FeatureProfile | None = None
    # encoded target for the option rules (class indices, 0/1 matrix, floats); not serialised
    encoded: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields that apply (``None`` fields are left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "encoded" or value is None:
                continue
            if isinstance(value, TargetProfile | FeatureProfile):
                value = value.to_dict()
            elif f.name == "tasks":
                value = {k: v.to_dict() for k, v in value.items()}
            out[f.name] = _plain(value)
        return out


def _plain(value: Any) -> Any:
    """NumPy scalars and containers to plain Python for JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------------------
# Normalising the many shapes a target arrives in
# --------------------------------------------------------------------------------------


def _to_numpy(y: Any) -> np.ndarray:
    if hasattr(y, "detach") and hasattr(y, "cpu"):  # torch.Tensor
        return y.detach().cpu().numpy()
    if hasattr(y, "to_numpy"):  # pandas
        out = y.to_numpy()
    else:
        out = np.asarray(y, dtype=object) if _ragged(y) else np.asarray(y)
    return out.astype(object) if out.dtype.kind in "US" else out


def _ragged(y: Any) -> bool:
    return isinstance(y, list | tuple) and any(isinstance(v, list | tuple | set | frozenset) for v in y)


def _is_missing(v: Any) -> bool:
    if v is None or type(v).__name__ in ("NAType", "NaTType"):  # pandas.NA, pandas.NaT
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip().lower() in _MISSING_STRINGS


def _numeric_or_none(values: np.ndarray) -> np.ndarray | None:
    """Float array when every value parses as a number; ``None`` when most do not.

    Raises ``LossInputError`` when most values are numbers but some cannot be parsed: that
    is a broken column, not a categorical one.
    """
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    parsed = np.empty(len(values), dtype=np.float64)
    bad: list[Any] = []
    for i, v in enumerate(values):
        if isinstance(v, bool | np.bool_):
            parsed[i] = float(v)
            continue
        try:
            parsed[i] = float(v)
        except (TypeError, ValueError):
            parsed[i] = np.nan
            bad.append(v)
    if not bad:
        return parsed
    if len(bad) <= 0.1 * len(values):
        raise LossInputError(
            "y", "numbers in every row (or labels in every row)", f"{len(bad)} unparseable values, e.g. {bad[0]!r}"
        )
    return None


def _split_tags(values: np.ndarray, sep: str | None) -> list[frozenset[str]] | None:
    """Rows of delimited tags (``"cat|dog"``) as sets, or ``None`` when the column is not tags."""
    strings = [v for v in values if isinstance(v, str)]
    if len(strings) != len(values) or not strings:
        return None
    if sep is None:
        for candidate in _TAG_SEPARATORS:
            if sum(candidate in s for s in strings) >= 0.2 * len(strings):
                sep = candidate
                break
        else:
            return None
    return [frozenset(t.strip() for t in s.split(sep) if t.strip()) for s in strings]


def _indicator(sets: Sequence[frozenset[Any]]) -> tuple[np.ndarray, list[str]]:
    labels = sorted({str(t) for s in sets for t in s})
    index = {name: j for j, name in enumerate(labels)}
    matrix = np.zeros((len(sets), len(labels)), dtype=np.float64)
    for i, s in enumerate(sets):
        for t in s:
            matrix[i, index[str(t)]] = 1.0
    return matrix, labels


def _columns(y: Any) -> dict[str, np.ndarray] | None:
    """Several target columns (a DataFrame with > 1 column or a mapping), else ``None``."""
    if isinstance(y, Mapping):
        return {str(k): _to_numpy(v) for k, v in y.items()}
    if hasattr(y, "columns") and hasattr(y, "iloc"):
        if len(y.columns) == 1:
            return None
        return {str(c): y[c].to_numpy() for c in y.columns}
    return None


# --------------------------------------------------------------------------------------
# Per-kind profiles
# --------------------------------------------------------------------------------------


def _single_value_error(values: np.ndarray, n: int) -> LossInputError:
    return LossInputError(
        "y", "a target with at least two distinct values", f"the single value {_plain(values[0])!r} in {n} rows"
    )


def _classes(values: np.ndarray, task: str, n_missing: int) -> TargetProfile:
    labels, counts = np.unique(values.astype(str) if values.dtype == object else values, return_counts=True)
    if len(labels) < 2:
        raise _single_value_error(labels, len(values))
    n = int(counts.sum())
    order = np.argsort(-counts, kind="stable")
    major, minor = order[0], order[-1]
    encoded = np.searchsorted(labels, values.astype(str) if values.dtype == object else values)
    return TargetProfile(
        task=task,
        n=n,
        n_missing=n_missing,
        classes=[_plain(v) for v in labels],
        class_counts={str(_plain(labels[i])): int(counts[i]) for i in order},
        n_classes=len(labels),
        majority_class=_plain(labels[major]),
        majority_share=float(counts[major] / n),
        minority_class=_plain(labels[minor]),
        minority_count=int(counts[minor]),
        minority_share=float(counts[minor] / n),
        imbalance_ratio=float(counts[major] / counts[minor]),
        median_per_class=float(np.median(counts)),
        singleton_classes=int((counts == 1).sum()),
        encoded=encoded.astype(np.int64),
    )


def _skew_kurtosis(x: np.ndarray) -> tuple[float, float]:
    with requires_extra("eval", "losskit.advise on a continuous target"):
        from scipy import stats

    if np.ptp(x) == 0:
        return 0.0, 0.0
    return float(stats.skew(x)), float(stats.kurtosis(x))


def _continuous(values: np.ndarray, task: str, n_missing: int) -> TargetProfile:
    x = values.astype(np.float64)
    if not np.isfinite(x).all():
        raise LossInputError("y", "finite numbers", f"{int((~np.isfinite(x)).sum())} infinite values")
    if len(x) < 2 or np.ptp(x) == 0:
        raise _single_value_error(x, len(x))
    median = float(np.median(x))
    mad = float(np.median(np.abs(x - median)))
    # Robust scale: 1.4826 MAD estimates sigma under a Gaussian; when over half the values are
    # equal the MAD is 0, and the mean absolute deviation (times sqrt(pi/2)) stands in.
    scale = 1.4826 * mad if mad > 0 else 1.2533 * float(np.mean(np.abs(x - median)))
    z = np.abs(x - median) / scale
    skew, kurt = _skew_kurtosis(x)
    nonnegative = bool(x.min() >= 0)
    log_skew = _skew_kurtosis(np.log1p(x))[0] if nonnegative else None
    log_scale = log_skew is not None and (
        (skew >= LOG_SCALE_SKEW and abs(log_skew) < LOG_SCALE_RESIDUAL)
        or (skew >= 2 * LOG_SCALE_SKEW and abs(log_skew) < 2 * LOG_SCALE_RESIDUAL)
    )
    return TargetProfile(
        task=task,
        n=len(x),
        n_missing=n_missing,
        mean=float(x.mean()),
        median=median,
        std=float(x.std()),
        mad=mad,
        robust_scale=scale,
        skew=skew,
        kurtosis=kurt,
        outlier_share=float((z > OUTLIER_Z).mean()),
        extreme_share=float((z > EXTREME_Z).mean()),
        max_robust_z=float(z.max()),
        minimum=float(x.min()),
        maximum=float(x.max()),
        nonnegative=nonnegative,
        log1p_skew=log_skew,
        log_scale=bool(log_scale),
        q10=float(np.quantile(x, 0.1)),
        q90=float(np.quantile(x, 0.9)),
        integer_valued=bool(np.array_equal(x, np.round(x))),
        zero_share=float((x == 0).mean()),
        dispersion=float(x.var() / x.mean()) if nonnegative and x.mean() > 0 else None,
        encoded=x,
    )


def _multilabel(matrix: np.ndarray, labels: list[str], n_missing: int) -> TargetProfile:
    n, k = matrix.shape
    if n == 0:
        raise LossInputError("y", "at least one row", "an empty target")
    rates = matrix.mean(axis=0)
    never = [labels[j] for j in range(k) if rates[j] == 0]
    always = [labels[j] for j in range(k) if rates[j] == 1]
    if never or always:
        which = never[0] if never else always[0]
        state = "never occurs" if never else "occurs in every row"
        raise LossInputError("y", "every label both present and absent in some rows", f"label {which!r} {state}")
    inter = matrix.T @ matrix
    counts = np.diag(inter)
    union = counts[:, None] + counts[None, :] - inter
    jaccard = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    np.fill_diagonal(jaccard, -1.0)
    top_pair, top_j = None, None
    if k > 1:
        a, b = np.unravel_index(int(np.argmax(jaccard)), jaccard.shape)
        top_pair, top_j = f"{labels[a]} & {labels[b]}", float(jaccard[a, b])
    per_row = matrix.sum(axis=1)
    return TargetProfile(
        task="multilabel",
        n=n,
        n_missing=n_missing,
        labels=labels,
        n_labels=k,
        label_cardinality=float(per_row.mean()),
        label_density=float(per_row.mean() / k),
        rarest_label=labels[int(np.argmin(rates))],
        rarest_label_rate=float(rates.min()),
        commonest_label_rate=float(rates.max()),
        top_pair=top_pair,
        top_pair_jaccard=top_j,
        one_hot=False,
        encoded=matrix,
    )


def _indicator_target(matrix: np.ndarray, labels: list[str], task: str | None, n_missing: int) -> TargetProfile:
    """A 0/1 matrix: multi-label, unless every row has exactly one 1 (a one-hot class)."""
    if task in (None, "multiclass") and matrix.size and bool((matrix.sum(axis=1) == 1).all()):
        names = np.asarray(labels, dtype=object)[matrix.argmax(axis=1)]
        out = _classes(names, "multiclass" if task is None and matrix.shape[1] > 2 else task or "binary", n_missing)
        out.one_hot = True
        if out.task == "binary":
            _binary_encoding(out)
        return out
    if task not in (None, "multilabel"):
        raise LossInputError("task", "'multilabel' for a matrix of 0/1 indicators", repr(task))
    return _multilabel(matrix, labels, n_missing)


def _sequences(values: Sequence[Any], input_lengths: Any, n_missing: int) -> TargetProfile:
    # Strings are words when any of them holds a space, characters otherwise.
    words = any(isinstance(v, str) and " " in v.strip() for v in values)
    seqs = [(v.split() if words else list(v)) if isinstance(v, str) else [str(t) for t in v] for v in values]
    if not seqs:
        raise LossInputError("y", "at least one target sequence", "none")
    lengths = np.array([len(s) for s in seqs])
    repeats = np.array([sum(a == b for a, b in itertools.pairwise(s)) for s in seqs])
    needed = lengths + repeats
    alphabet = sorted({t for s in seqs for t in s})
    infeasible = None
    if input_lengths is not None:
        frames = np.asarray(_to_numpy(input_lengths), dtype=np.int64).reshape(-1)
        if len(frames) != len(seqs):
            raise LossInputError("X", f"one input length per target sequence ({len(seqs)})", f"{len(frames)} lengths")
        infeasible = int((frames < needed).sum())
    return TargetProfile(
        task="sequence",
        n=len(seqs),
        n_missing=n_missing,
        alphabet_size=len(alphabet),
        mean_length=float(lengths.mean()),
        max_length=int(lengths.max()),
        max_frames_needed=int(needed.max()),
        repeat_share=float(repeats.sum() / max(1, lengths.sum())),
        infeasible=infeasible,
        encoded=seqs,
    )


def _masks(y: Any) -> TargetProfile:
    """Class-index masks ``(N, *spatial)``; negative values are void (ignored) pixels."""
    values = np.asarray(_to_numpy(y))
    if values.ndim < 3 or values.dtype.kind not in "biu":
        expected = "integer class-index masks of shape (N, H, W, ...)"
        raise LossInputError("y", expected, f"{values.ndim}-D {values.dtype}")
    n = values.shape[0]
    flat = values.reshape(n, -1).astype(np.int64)
    valid = flat >= 0
    if not valid.any():
        raise LossInputError("y", "at least one labelled pixel", "only negative (void) values")
    n_classes = int(flat[valid].max()) + 1
    counts = np.bincount(flat[valid], minlength=n_classes)
    present = counts > 0
    per_image = np.stack([np.bincount(row[row >= 0], minlength=n_classes) for row in flat]) > 0
    seen = counts[present]
    return TargetProfile(
        task="segmentation",
        n=n,
        classes=[int(c) for c in np.flatnonzero(present)],
        class_counts={str(c): int(k) for c, k in enumerate(counts) if k},
        n_classes=int(present.sum()),
        minority_class=int(np.argmin(np.where(present, counts, np.iinfo(np.int64).max))),
        minority_share=float(seen.min() / seen.sum()),
        majority_share=float(seen.max() / seen.sum()),
        imbalance_ratio=float(seen.max() / seen.min()),
        pixels_per_image=int(flat.shape[1]),
        absent_class_share=float(1.0 - per_image[:, present].mean()),
        ignored_share=float(1.0 - valid.mean()),
        encoded=values,
    )


def _overconfidence(profile: TargetProfile, scores: Any) -> None:
    """Mean top-class confidence minus accuracy of a current model's multi-class scores."""
    s = np.asarray(_to_numpy(scores), dtype=np.float64)
    if s.ndim != 2 or s.shape != (profile.n, profile.n_classes):
        raise LossInputError("scores", f"of shape ({profile.n}, {profile.n_classes})", f"shape {s.shape}")
    is_prob = bool((s >= 0).all() and (s <= 1).all() and np.allclose(s.sum(axis=1), 1.0, atol=1e-3))
    if not is_prob:  # logits: softmax
        e = np.exp(s - s.max(axis=1, keepdims=True))
        s = e / e.sum(axis=1, keepdims=True)
    profile.confidence = float(s.max(axis=1).mean())
    profile.accuracy = float((s.argmax(axis=1) == profile.encoded).mean())
    profile.overconfidence_gap = profile.confidence - profile.accuracy


def _baseline_loss(p: TargetProfile) -> float:
    """Loss of the best constant prediction: variance (regression) or prior entropy (classes)."""
    if p.std is not None:
        return float(p.std**2)
    if p.class_counts is not None:
        q = np.array(list(p.class_counts.values()), dtype=np.float64) / p.n
        return float(-(q * np.log(q)).sum())
    if p.label_density is not None:
        q = np.clip(p.encoded.mean(axis=0), 1e-12, 1 - 1e-12)
        return float(np.mean(-(q * np.log(q) + (1 - q) * np.log1p(-q))))
    return float("nan")


def _multitask(columns: dict[str, np.ndarray], task: str | None) -> TargetProfile:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise LossInputError("y", "target columns of equal length", f"lengths {sorted(lengths)}")
    tasks = {name: profile_target(col) for name, col in columns.items()}
    if task is None and all(p.task == "binary" for p in tasks.values()):
        missing = [name for name, p in tasks.items() if p.n_missing]
        if missing:
            raise LossInputError("y", "indicator columns without missing values", f"missing values in {missing[0]!r}")
        matrix = np.stack([p.encoded for p in tasks.values()], axis=1).astype(np.float64)
        return _indicator_target(matrix, list(tasks), None, 0)
    baselines = {name: _baseline_loss(p) for name, p in tasks.items()}
    finite = [b for b in baselines.values() if math.isfinite(b) and b > 0]
    ratio = max(finite) / min(finite) if finite else None
    return TargetProfile(
        task="multitask",
        n=next(iter(lengths)),
        tasks=tasks,
        baseline_losses=baselines,
        loss_scale_ratio=ratio,
    )


def profile_target(
    y: Any,
    *,
    task: str | None = None,
    scores: Any = None,
    input_lengths: Any = None,
    tag_separator: str | None = None,
    pos_label: Any = None,
    group: Any = None,
) -> TargetProfile:
    """Measure a target and infer its task (:func:`losskit.tasks.infer_task`).

    Args:
        y: the target. 1-D values (numbers, labels, strings of delimited tags), a 0/1
            indicator matrix (multi-label, or multi-class when every row is one-hot), a list of
            tag sets, a list of label sequences (``task="sequence"``), or several columns (a
            DataFrame or a mapping: multi-label when all are binary, multi-task otherwise).
        task: one of :data:`TASKS` to override the inference (ordinal, ranking, embedding,
            sequence, quantile, multitask and segmentation are only used when told; segmentation
            takes integer class-index masks ``(N, H, W, ...)``, negative values void).
        scores: ``(N, C)`` probabilities or logits of a current multi-class model, columns in
            sorted label order; measures overconfidence (mean confidence minus accuracy).
        input_lengths: frames per sequence (``task="sequence"``) to check CTC feasibility.
        tag_separator: separator of a delimited-tags column; detected among ``| ; ,`` if None.
        pos_label: the positive class of a binary target (default: :func:`losskit.tasks.positive_class`).
        group: the query id of each row of a ranking target (``task="ranking"``): measures the
            queries, their relevant rows and the share of queries with exactly one (a choice).

    Raises:
        LossInputError: an unknown task, an empty or single-valued target, unparseable values,
            a task that does not fit the values.
    """
    if task is not None and task not in TASKS:
        raise LossInputError("task", "one of " + ", ".join(map(repr, TASKS)), repr(task))
    columns = _columns(y)
    if columns is not None:
        if task not in (None, "multitask", "multilabel"):
            raise LossInputError("task", "'multitask' or 'multilabel' for several target columns", repr(task))
        if task == "multilabel":
            matrix = np.stack([np.asarray(v, dtype=np.float64) for v in columns.values()], axis=1)
            return _indicator_target(matrix, list(columns), "multilabel", 0)
        return _multitask(columns, task)

    if task == "multitask":
        raise LossInputError("task", "'multitask' only for several target columns (a DataFrame or a mapping)", "one")
    if group is not None:
        if task != "ranking":
            raise LossInputError("task", "'ranking' for a target with query groups", repr(task))
        profile = profile_target(y, task="ranking")
        _queries(profile, _to_numpy(y), _to_numpy(group))
        return profile
    if task == "segmentation":
        return _masks(y)
    if task == "sequence":
        values = list(y) if not hasattr(y, "to_numpy") else list(y.to_numpy())
        kept = [v for v in values if not (v is None or (isinstance(v, float) and math.isnan(v)))]
        return _sequences(kept, input_lengths, len(values) - len(kept))

    levels = _ordered_levels(y)
    if levels is not None and task in (None, "ordinal"):  # an ordered categorical: its own level order
        return _ordered_categorical(y, levels)

    values = _to_numpy(y)
    if values.ndim == 2 and values.shape[1] == 1:  # one column: a plain 1-D target
        values = values[:, 0]
    if values.ndim == 2:
        numeric = _numeric_or_none(values.reshape(-1))
        if numeric is None:
            raise LossInputError("y", "a numeric matrix", f"a matrix of {values.dtype}")
        matrix = numeric.reshape(values.shape)
        if np.isin(matrix, (0.0, 1.0)).all():
            return _indicator_target(matrix, [str(j) for j in range(matrix.shape[1])], task, 0)
        return _multitask({str(j): matrix[:, j] for j in range(matrix.shape[1])}, task)
    if values.ndim != 1:
        raise LossInputError("y", "a 1-D or 2-D target", f"{values.ndim} dimensions")

    if values.dtype == object and any(isinstance(v, set | frozenset | list | tuple) for v in values):
        sets = [frozenset(v) if not _is_missing(v) else frozenset() for v in values]
        matrix, labels = _indicator(sets)
        return _indicator_target(matrix, labels, task or "multilabel", 0)

    keep = np.array([not _is_missing(v) for v in values]) if values.dtype == object else ~_nan_mask(values)
    n_missing = int((~keep).sum())
    values = values[keep]
    if len(values) == 0:
        raise LossInputError("y", "at least one non-missing value", f"{n_missing} missing values")

    if values.dtype == object and task in (None, "multilabel"):
        sets = _split_tags(values, tag_separator)
        if sets is not None and (task == "multilabel" or any(len(s) > 1 for s in sets)):
            matrix, labels = _indicator(sets)
            return _indicator_target(matrix, labels, "multilabel", n_missing)
    if task == "multilabel":
        raise LossInputError("y", "tag sets, delimited tags or a 0/1 matrix for a multi-label task", "single labels")

    numeric = _numeric_or_none(values) if values.dtype.kind in "biufO" else None
    if task in ("regression", "quantile"):
        if numeric is None:
            raise LossInputError("y", f"numbers for a {task} target", f"labels such as {values[0]!r}")
        return _continuous(numeric, task, n_missing)
    if task is None:  # the one task rule (losskit.tasks), on the parsed numbers when there are some
        task = infer_task(values if numeric is None or values.dtype.kind == "b" else numeric)
        if task == "regression":
            return _continuous(numeric, "regression", n_missing)
    labels = values
    if numeric is not None and values.dtype.kind != "b":
        labels = numeric.astype(np.int64) if bool(np.all(numeric == np.round(numeric))) else numeric
    profile = _classes(labels, task, n_missing)
    if task == "binary" and profile.n_classes != 2:
        raise LossInputError("task", f"'multiclass' for a target with {profile.n_classes} classes", "'binary'")
    if task == "multiclass" and profile.n_classes == 2 and scores is None:
        profile.task = "binary"
    if scores is not None:
        if profile.task not in ("multiclass", "binary"):
            raise LossInputError("scores", "given only for a classification target", f"task {profile.task!r}")
        _overconfidence(profile, scores)  # columns in sorted label order, as profile.encoded
    if profile.task == "binary":
        _binary_encoding(profile, pos_label)
    return profile


def _queries(profile: TargetProfile, relevance: np.ndarray, group: np.ndarray) -> None:
    """Query counts of a ranking target: queries, relevant rows per query, single-choice share."""
    if group.shape != relevance.shape:
        raise LossInputError("group", f"one query id per row ({relevance.shape[0]} rows)", f"shape {group.shape}")
    numbers = _numeric_or_none(relevance)
    if numbers is None:
        raise LossInputError("y", "numeric relevance for a ranking target", f"labels such as {relevance[0]!r}")
    keep = ~np.isnan(numbers)
    ids, codes = np.unique(group[keep].astype(str), return_inverse=True)
    relevant = np.bincount(codes, weights=(numbers[keep] > 0).astype(np.float64), minlength=len(ids))
    profile.n_queries = len(ids)
    profile.relevant_per_query = float(relevant.mean())
    profile.single_relevant_share = float(np.mean(relevant == 1))


def _ordered_levels(y: Any) -> list[Any] | None:
    """The categories of a pandas ordered categorical (Series or Categorical), in order; else None."""
    dtype = getattr(y, "dtype", None)
    if getattr(dtype, "ordered", False) and hasattr(dtype, "categories"):
        return [_plain(c) for c in dtype.categories]
    return None


def _ordered_categorical(y: Any, levels: list[Any]) -> TargetProfile:
    """Profile an ordered categorical as an ordinal target, levels in the categories' order."""
    codes = np.asarray(y.cat.codes if hasattr(y, "cat") else y.codes, dtype=np.int64)
    kept = codes[codes >= 0]  # -1 marks a missing value
    if len(kept) == 0:
        raise LossInputError("y", "at least one non-missing value", f"{len(codes)} missing values")
    profile = _classes(kept, "ordinal", int((codes < 0).sum()))
    names = [levels[int(c)] for c in profile.classes]
    profile.classes = names
    profile.class_counts = {str(levels[int(k)]): v for k, v in profile.class_counts.items()}
    profile.majority_class = levels[int(profile.majority_class)]
    profile.minority_class = levels[int(profile.minority_class)]
    return profile


def _binary_encoding(profile: TargetProfile, pos_label: Any = None) -> None:
    """Encode a binary target as 0/1, 1 being :func:`losskit.tasks.positive_class`."""
    labels = np.asarray(profile.classes, dtype=object)[profile.encoded]
    positive = positive_class(labels, pos_label=pos_label)
    profile.positive_class = positive
    profile.encoded = (labels == positive).astype(np.float64)


def _nan_mask(values: np.ndarray) -> np.ndarray:
    return np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)


def profile_features(X: Any) -> FeatureProfile:
    """Shape, numeric share, missing share and constant columns of a feature table."""
    if hasattr(X, "columns") and hasattr(X, "isna"):
        n, p = X.shape
        numeric = int(sum(X[c].dtype.kind in "biuf" for c in X.columns))
        missing = float(X.isna().to_numpy().mean()) if X.size else 0.0
        constant = int((X.nunique(dropna=False) <= 1).sum())
        return FeatureProfile(n, p, numeric, missing, constant)
    a = np.asarray(_to_numpy(X))
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise LossInputError("X", "a 2-D feature table", f"{a.ndim} dimensions")
    numeric_kind = a.dtype.kind in "biuf"
    missing = float(np.isnan(a).mean()) if a.dtype.kind == "f" and a.size else 0.0
    constant = int(sum(len(np.unique(a[:, j])) <= 1 for j in range(a.shape[1]))) if a.shape[0] else a.shape[1]
    return FeatureProfile(a.shape[0], a.shape[1], a.shape[1] if numeric_kind else 0, missing, constant)
