"""One task vocabulary, one rule to infer a task from a target, one rule for the positive class.

The advisor, the lab, the metrics and drift all use :func:`infer_task` and
:func:`positive_class`; each takes a ``task=`` / ``pos_label=`` override.

**Task rule.** scikit-learn's :func:`sklearn.utils.multiclass.type_of_target` is the reference,
with one refinement for numbers:

* two distinct values (numbers, strings, booleans): ``"binary"``;
* labels that are not numbers (strings, categories), more than two: ``"multiclass"``;
* numbers with a fractional part: ``"regression"`` (``type_of_target``'s ``"continuous"``);
* integer-valued numbers with ``k > 2`` distinct values, which ``type_of_target`` always calls
  ``"multiclass"``: classes only when ``k <= MAX_CLASS_LEVELS`` (20) **and** every level could
  be learnt, i.e. at least ``MIN_ROWS_PER_LEVEL`` (5) rows per level on average (``n >= 5 k``);
  otherwise the integers are a quantity (counts, prices in whole units, ages) and the task is
  ``"regression"``. Integers 0..29 over 1,000 rows are a regression target (30 levels); 0..14 over
  40 rows too (2.7 rows per level); 0..4 over 1,000 rows are five classes;
* **counts with a long tail**: non-negative integers that include 0 and whose largest value has
  fewer than ``MIN_ROWS_PER_LEVEL`` rows (a right tail thinning out, as counts do, while a class
  label keeps enough rows to be learnt) are ``"regression"`` whatever their number of levels:
  doctor visits 0..9 over 5,190 people, with 1 person at 9, are counts, not ten classes. Pass
  ``task="multiclass"`` (``--task multiclass``) for classes that happen to look like that, or
  ``task="regression"`` for counts whose top level is common;
* a 2-D 0/1 indicator matrix: ``"multilabel"``; other 2-D targets: ``"multitask"``.

Missing values (None, NaN, pandas' NA) are left out before the rule is applied.

**Positive class** of a binary target: ``1`` for 0/1 labels and ``True`` for booleans (also
when written as the strings ``"0"/"1"`` or ``"false"/"true"``), otherwise the minority class
(ties: the label that sorts last); ``pos_label=`` overrides it.

Example:
    >>> import numpy as np
    >>> from losskit.tasks import infer_task, positive_class
    >>> infer_task(np.arange(1000) % 30), infer_task(np.arange(1000) % 5)
    ('regression', 'multiclass')
    >>> infer_task([0] * 60 + [1] * 25 + [2] * 10 + [3] * 4 + [7])  # counts: the top value is rare
    'regression'
    >>> positive_class(["paid"] * 9 + ["defaulted"])
    'defaulted'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losskit._errors import LossInputError

__all__ = [
    "LAB_TASKS",
    "MAX_CLASS_LEVELS",
    "MIN_ROWS_PER_LEVEL",
    "TASKS",
    "check_task",
    "infer_task",
    "positive_class",
]

#: Every task a losskit tool knows. Tools accept the subset they handle.
TASKS = (
    "regression",
    "binary",
    "multiclass",
    "multilabel",
    "ordinal",
    "ranking",
    "embedding",
    "sequence",
    "quantile",
    "multitask",
    "detection",
    "segmentation",
    "language",
)
#: The tasks ``losskit compare`` trains on a table (``ordinal`` only when asked for, ``ranking``
#: when the table has a query-group column).
LAB_TASKS = ("binary", "multiclass", "regression", "ordinal", "ranking")
#: Most distinct integer values still read as class labels.
MAX_CLASS_LEVELS = 20
#: Fewest rows per integer level, on average, for the levels to be read as classes.
MIN_ROWS_PER_LEVEL = 5


def check_task(task: str, allowed: tuple[str, ...] = TASKS, argument: str = "task") -> str:
    """``task`` when it is one of ``allowed``; :class:`LossInputError` otherwise."""
    if task not in allowed:
        raise LossInputError(argument, "one of " + ", ".join(map(repr, allowed)), repr(task))
    return task


def _array(y: Any) -> np.ndarray:
    if hasattr(y, "detach") and hasattr(y, "cpu"):  # torch.Tensor
        y = y.detach().cpu().numpy()
    out = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if out.dtype.kind in "US":
        out = out.astype(object)
    return out


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype == object:
        return np.array(
            [v is None or (isinstance(v, float) and v != v) or type(v).__name__ == "NAType" for v in values]
        )
    return np.zeros(len(values), dtype=bool)


def _numbers(values: np.ndarray) -> np.ndarray | None:
    """Float array when every value is a number (booleans excluded), else None."""
    if values.dtype.kind in "iuf":
        return values.astype(np.float64)
    if values.dtype == object and all(isinstance(v, int | float | np.integer | np.floating) for v in values):
        if not any(isinstance(v, bool | np.bool_) for v in values):
            return values.astype(np.float64)
    return None


def infer_task(y: Any) -> str:
    """The task of a target by the rule in the module docstring.

    Args:
        y: a 1-D target (array, list, Series, tensor) or a 2-D one (indicator matrix or several
            columns).

    Returns:
        ``"binary"``, ``"multiclass"``, ``"regression"``, ``"multilabel"`` or ``"multitask"``.

    Raises:
        LossInputError: an empty target, a single distinct value, or more than two dimensions.
    """
    values = _array(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 2:
        numbers = _numbers(values.reshape(-1))
        if numbers is not None and np.isin(numbers[~np.isnan(numbers)], (0.0, 1.0)).all():
            return "multilabel"
        return "multitask"
    if values.ndim != 1:
        raise LossInputError("y", "a 1-D or 2-D target", f"{values.ndim} dimensions")
    values = values[~_missing(values)]
    if len(values) == 0:
        raise LossInputError("y", "at least one non-missing value", "none")
    numbers = _numbers(values)
    if numbers is not None and not np.isfinite(numbers).all():
        raise LossInputError("y", "finite numbers", f"{int((~np.isfinite(numbers)).sum())} infinite values")
    distinct = np.unique(numbers) if numbers is not None else np.unique(values.astype(str))
    k = len(distinct)
    if k < 2:
        shown = distinct[0].item() if hasattr(distinct[0], "item") else distinct[0]
        if isinstance(shown, float) and shown == int(shown):
            shown = int(shown)
        raise LossInputError(
            "y", "a target with at least two distinct values", f"the single value {shown!r} in {len(values)} rows"
        )
    if numbers is None:
        return "binary" if k == 2 else "multiclass"
    if not np.all(distinct == np.round(distinct)):
        return "regression"
    if k == 2:
        return "binary"
    if distinct[0] == 0 and np.count_nonzero(numbers == distinct[-1]) < MIN_ROWS_PER_LEVEL:
        return "regression"  # counts: a long right tail
    if k <= MAX_CLASS_LEVELS and len(numbers) >= MIN_ROWS_PER_LEVEL * k:
        return "multiclass"
    return "regression"


def positive_class(y: Any, *, pos_label: Any = None) -> Any:
    """The positive class of a binary target by the rule in the module docstring.

    Args:
        y: the labels (two distinct values once missing ones are left out).
        pos_label: the positive class when the user names it; checked to be one of the labels
            (compared as text, so ``"1"`` names the label ``1``).

    Returns:
        The positive label, as it appears in ``y`` (a Python scalar, not a NumPy one).

    Raises:
        LossInputError: not exactly two distinct labels, or a ``pos_label`` that is not one of them.
    """
    values = _array(y).reshape(-1)
    values = values[~_missing(values)]
    labels, counts = np.unique(values.astype(str) if values.dtype == object else values, return_counts=True)
    originals = {str(v): v for v in values.tolist()} if values.dtype == object else None
    if len(labels) != 2:
        raise LossInputError("y", "exactly two classes for a positive class", f"{len(labels)} classes")
    plain = [originals[str(v)] if originals is not None else v.item() for v in labels]
    if pos_label is not None:
        for label in plain:
            if str(label) == str(pos_label) or label == pos_label:
                return label
        raise LossInputError("pos_label", f"one of the target's classes {plain}", repr(pos_label))
    if [str(v).lower() for v in plain] in (["0", "1"], ["false", "true"], ["0.0", "1.0"]):
        return plain[1]
    return plain[0] if counts[0] < counts[1] else plain[1]
