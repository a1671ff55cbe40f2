"""Read a table, clean its target, infer the task and build the feature preprocessing.

The preprocessing is what a practitioner would write with scikit-learn: numeric columns are
median-imputed and standardised, categorical columns are imputed with their most frequent value
and one-hot encoded (unknown categories at prediction time are ignored). It is *fitted on the
training split only*; :func:`missing_counts` reports how many values each column had imputed.
Rows whose target is missing are dropped (with a warning), never imputed.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from losskit._errors import LossInputError
from losskit.tasks import LAB_TASKS, infer_task, positive_class

__all__ = [
    "TASKS",
    "Table",
    "build_preprocessor",
    "fingerprint",
    "load_frame",
    "missing_counts",
    "prepare",
    "shown_columns",
]

TASKS = LAB_TASKS


@dataclass
class Table:
    """A cleaned table: features, encoded target and what was done to get there.

    Attributes:
        features: the feature columns (the target removed), rows with a missing target dropped.
        y: ``(N,)`` target; class indices ``0..C-1`` (int64) for classification, float64 otherwise.
        task: ``"binary"``, ``"multiclass"``, ``"regression"``, ``"ordinal"`` (only when asked for) or
            ``"ranking"`` (a table with a query-group column; ``y`` is the graded relevance).
        target: the target column's name.
        classes: the original class labels in index order (empty for regression); for a binary
            task ``[negative, positive]``, so that index 1 is the positive class.
        positive_class: the positive class of a binary task (:func:`losskit.tasks.positive_class`
            or the user's ``pos_label``), else None.
        dropped_rows: rows removed because their target was missing.
        fingerprint: SHA-256 of the table's content (see :func:`fingerprint`).
        source: where the table came from (a path or a description).
        group: the query-group column of a ranking table (removed from the features), else None.
        groups: ``(N,)`` int64 group codes ``0..G-1`` of a ranking table, else None.
    """

    features: pd.DataFrame
    y: np.ndarray
    task: str
    target: str
    classes: list = field(default_factory=list)
    dropped_rows: int = 0
    fingerprint: str = ""
    source: str = ""
    positive_class: Any = None
    group: str | None = None
    groups: np.ndarray | None = None


def load_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``, ``.tsv``) or Parquet (``.parquet``, ``.pq``) file."""
    p = Path(path)
    if not p.is_file():
        raise LossInputError("path", "an existing CSV or Parquet file", repr(str(path)))
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(p)
        if name.endswith((".tsv", ".tsv.gz")):
            return pd.read_csv(p, sep="\t")
        if name.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(p)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise LossInputError(
            "path", "a readable CSV or Parquet file", f"{str(path)!r} ({exc})".replace("\n", " ")
        ) from exc
    raise LossInputError("path", "a file ending in .csv, .tsv or .parquet", repr(str(path)))


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over the column names and pandas' per-row content hashes (independent of file format)."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def prepare(
    frame: pd.DataFrame,
    target: str,
    *,
    task: str | None = None,
    pos_label: Any = None,
    source: str = "",
    group: str | None = None,
) -> Table:
    """Split off ``target``, drop rows where it is missing, infer (:func:`losskit.tasks.infer_task`)
    or check the task, encode it; a binary target is encoded 1 for its positive class
    (:func:`losskit.tasks.positive_class`, or ``pos_label``).

    With ``group`` (a query-id column) the table is a ranking table: the task is ``"ranking"``, the
    group column is split off like the target (:attr:`Table.groups`), and the target is graded
    relevance, non-negative whole numbers (0 = not relevant).

    Raises:
        LossInputError: the column is absent, fewer than two classes remain, a regression target is
            not numeric, no feature columns are left, or a ranking table lacks its group column or
            graded relevance.
    """
    if target not in frame.columns:
        raise LossInputError("target", f"a column of the table ({shown_columns(frame)})", repr(target))
    if task is not None and task not in TASKS:
        raise LossInputError("task", f"one of {TASKS}", repr(task))
    if group is not None:
        if group not in frame.columns or group == target:
            raise LossInputError(
                "group", f"a column of the table other than the target ({shown_columns(frame)})", repr(group)
            )
        if task not in (None, "ranking"):
            raise LossInputError("task", "'ranking' (or none) for a table with a group column", repr(task))
        task = "ranking"
    elif task == "ranking":
        raise LossInputError("group", "the query-group column of a ranking table", "none")
    missing = frame[target].isna()
    dropped = int(missing.sum())
    if dropped:
        warnings.warn(f"dropped {dropped} row(s) whose target {target!r} is missing", UserWarning, stacklevel=2)
        frame = frame.loc[~missing]
    if len(frame) == 0:
        raise LossInputError("frame", "a table with at least one labelled row", "no rows with a target")
    if group is not None and frame[group].isna().any():
        raise LossInputError("group", "a group id on every row", f"{int(frame[group].isna().sum())} missing")
    features = frame.drop(columns=[target] if group is None else [target, group]).reset_index(drop=True)
    if features.shape[1] == 0:
        raise LossInputError("frame", "a table with at least one feature column besides the target", "none")
    series = frame[target].reset_index(drop=True)
    if series.nunique() < 2:
        raise LossInputError("target", "a column with at least two classes", f"only {list(series.unique())!r}")
    task = task or infer_task(series)
    groups = None
    if task == "ranking":
        y = _relevance(series, target)
        groups = pd.factorize(frame[group].reset_index(drop=True), sort=True)[0].astype(np.int64)
        classes: list = []
    elif task == "regression":
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            raise LossInputError(
                "target", "a numeric column for regression", f"column {target!r} of dtype {series.dtype}"
            )
        y = series.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise LossInputError("target", "finite numbers", f"{int((~np.isfinite(y)).sum())} infinite value(s)")
        classes: list = []
    else:
        if task == "ordinal":
            _check_levels(series, target)
        codes, uniques = pd.factorize(series, sort=True)
        if len(uniques) < 2:
            raise LossInputError("target", "a column with at least two classes", f"only {list(uniques)!r}")
        if task == "binary" and len(uniques) != 2:
            raise LossInputError("task", f"'multiclass' for a target with {len(uniques)} classes", "'binary'")
        y = codes.astype(np.int64)
        classes = [v.item() if isinstance(v, np.generic) else v for v in uniques]
    positive = None
    if task == "binary":
        positive = positive_class(series, pos_label=pos_label)
        if classes[1] != positive:
            y, classes = 1 - y, classes[::-1]
    elif pos_label is not None:
        raise LossInputError("pos_label", "given only for a binary target", f"a {task} target")
    return Table(
        features=features,
        y=y,
        task=task,
        target=target,
        classes=classes,
        dropped_rows=dropped,
        fingerprint=fingerprint(frame),
        source=source,
        positive_class=positive,
        group=group,
        groups=groups,
    )


def shown_columns(frame: pd.DataFrame) -> str:
    """The first 12 column names, for an error naming the columns a table has."""
    return ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")


def _relevance(series: pd.Series, target: str) -> np.ndarray:
    """Graded relevance as float64: non-negative whole numbers (0 = not relevant)."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise LossInputError(
            "target", "graded relevance (non-negative whole numbers)", f"column {target!r} of dtype {series.dtype}"
        )
    y = series.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y) | (y < 0) | (y != np.round(y))
    if bad.any():
        raise LossInputError(
            "target",
            "graded relevance (non-negative whole numbers, 0 = not relevant)",
            f"{int(bad.sum())} other value(s)",
        )
    return y


def _check_levels(series: pd.Series, target: str) -> None:
    """Ordinal levels are ordered by value: numbers, or a pandas ordered categorical (its own order);
    at least three of them (two levels are a binary target)."""
    ordered = isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.ordered
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if not (ordered or numeric):
        raise LossInputError(
            "target",
            "ordinal levels as numbers (or an ordered categorical), lowest first",
            f"column {target!r} of dtype {series.dtype}",
        )
    if series.nunique() < 3:
        raise LossInputError("task", f"'binary' for a target with {series.nunique()} levels", "'ordinal'")


def _categorical_columns(features: pd.DataFrame) -> list[str]:
    return [
        c
        for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
    ]


def build_preprocessor(features: pd.DataFrame) -> ColumnTransformer:
    """Median-impute + standardise numeric columns; mode-impute + one-hot encode the others."""
    categorical = _categorical_columns(features)
    numeric = [c for c in features.columns if c not in categorical]
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, max_categories=50)
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0, verbose_feature_names_out=False)


def missing_counts(features: pd.DataFrame) -> dict[str, int]:
    """Number of missing values per column (only columns that have any): what imputation fills in."""
    counts = features.isna().sum()
    return {str(k): int(v) for k, v in counts.items() if v}
