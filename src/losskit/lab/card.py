"""The model card: what was trained, on what, how it scored, and the reference for drift checks.

Written as ``model_card.json`` (machine-readable, strict JSON: undefined numbers are ``null``)
and ``model_card.md`` (for people). ``ModelCard.load(path) == card`` for a saved card.
The ``reference`` block freezes the training class counts and quantiles of the validation scores
and of the training target, which ``losskit drift`` compares new data against.

Loading validates the card against its schema (:func:`validate_card`) before anything reads it:
a missing or mistyped field, a prior of the wrong length or with a zero class, unsorted or
empty quantiles, a NaN / Infinity literal, a foreign ``schema`` version or nesting deeper than a
card has each raise one :class:`~losskit.LossInputError` naming the field. A card is plain JSON:
loading it never executes code.
"""

from __future__ import annotations

import itertools
import json
import math
import platform
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from losskit._errors import LossInputError
from losskit._format import number, option_value

__all__ = ["SCHEMA", "ModelCard", "clean", "library_versions", "validate_card"]

SCHEMA = 1
_TASKS = ("binary", "multiclass", "regression", "ordinal", "ranking")
_MAX_DEPTH = 8
_LIBRARIES = ("losskit", "torch", "numpy", "scikit-learn", "scipy", "pandas", "xgboost", "lightgbm")


def clean(value: Any) -> Any:
    """JSON-ready copy: NaN / inf -> ``None``, tuples and arrays -> lists, NumPy scalars -> Python numbers."""
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the libraries that shape the model (absent ones left out)."""
    out = {"python": platform.python_version()}
    for name in (*_LIBRARIES, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "losskit" not in out:
        import losskit

        out["losskit"] = losskit.__version__
    return out


@dataclass
class ModelCard:
    """Everything needed to ship, reproduce and monitor the winning model.

    Attributes:
        task, target, classes: the problem (``classes`` in index order; empty for regression; the
            relevance levels seen in training for ranking).
        loss: ``{"name", "options", "origin", "reasons"}``; ``options`` are the frozen values used
            (class weights and ``pos_weight`` as numbers, not ``"balanced"``).
        threshold: decision threshold tuned on validation (binary), else ``None``.
        metric: ``{"name", "value", "low", "high", "level", "win_rate"}`` on the test set.
        test_metrics: all standard metrics of the task on the test set, at ``threshold``.
        model: ``{"kind", "file", ...}`` architecture and training facts.
        data: ``{"source", "fingerprint", "rows", "columns", "dropped_rows", "imputed", "positive_class"}``,
            and for ranking ``"group"`` (the query column) and ``"groups"`` (queries per split).
        splits: ``{"train", "val", "test", "folds", "seed"}`` row counts.
        reference: frozen distributions for drift (``class_counts``, ``prior``, ``score_quantiles``,
            ``target_quantiles``).
        comparison: one ``{"loss", "value", "low", "high", "win_rate"}`` per candidate.
        versions: library versions.
        created: UTC time stamp (ISO 8601).
    """

    task: str
    target: str
    classes: list[Any]
    loss: dict[str, Any]
    threshold: float | None
    metric: dict[str, Any]
    test_metrics: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    splits: dict[str, Any]
    reference: dict[str, Any]
    comparison: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=library_versions)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, clean(getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """The card of a parsed ``model_card.json``, validated first (:func:`validate_card`)."""
        validate_card(data)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        p = Path(path)
        if not p.is_file():
            raise LossInputError("path", "an existing model_card.json", repr(str(path)))
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LossInputError("path", "a JSON model card", f"{str(path)!r} ({exc})") from exc
        except RecursionError:
            raise LossInputError("path", f"a model card nested at most {_MAX_DEPTH} levels", "deeper nesting") from None
        if not isinstance(data, dict):
            raise LossInputError("path", "a JSON object", type(data).__name__)
        return cls.from_dict(data)

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``model_card.json`` and ``model_card.md`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "model_card.json").write_text(self.to_json() + "\n")
        (d / "model_card.md").write_text(self.to_markdown())
        return d / "model_card.json", d / "model_card.md"

    def to_markdown(self) -> str:
        m = self.metric
        options = _md_text(", ".join(f"{k}={option_value(v)}" for k, v in self.loss["options"].items()) or "defaults")
        lines = [
            f"# Model card: {self.task} model of {_code(self.target)}",
            "",
            f"- **Loss:** {_code(self.loss['name'])} ({options}); chosen from {len(self.comparison)} candidate(s), "
            f"origin: {_md_text(self.loss.get('origin', 'user'))}",
            f"- **Decision threshold:** {number(self.threshold)}"
            + (" (tuned on validation)" if self.threshold else ""),
            f"- **Test {m['name']}:** {number(m['value'])} ({int(m['level'] * 100)}% bootstrap interval "
            f"{number(m['low'])} to {number(m['high'])}; best in {number(m['win_rate'])} of paired resamples)",
            f"- **Model:** {self.model.get('kind')} "
            + ", ".join(f"{k}={v}" for k, v in self.model.items() if k != "kind"),
            "",
            "## Data",
            "",
            f"- Source: {_code(self.data.get('source') or 'in memory')}; "
            f"fingerprint {_code(self.data['fingerprint'][:16])}...",
            f"- Rows: {self.data['rows']} ({self.data['dropped_rows']} dropped for a missing target); "
            f"columns: {_codes(self.data['columns'])}",
            "- Imputed values (training rows): "
            + (", ".join(f"{_code(k)}: {_md_text(v)}" for k, v in self.data["imputed"].items()) or "none"),
            f"- Splits: train {self.splits['train']}, validation {self.splits['val']}, test {self.splits['test']}"
            + (f", {self.splits['folds']} folds" if self.splits.get("folds", 1) > 1 else "")
            + f" (seed {self.splits.get('seed')})",
        ]
        groups = self.data.get("groups")
        if groups:
            lines.append(
                f"- Query groups ({_code(self.data.get('group'))}): train {groups.get('train')}, validation "
                f"{groups.get('val')}, test {groups.get('test')}; whole groups per split"
            )
        if self.classes:
            kind = "Relevance levels" if self.task == "ranking" else "Classes (index order)"
            lines.append(
                f"- {kind}: {_codes(self.classes)}; training prior: "
                f"{[round(p, 4) for p in self.reference.get('prior', [])]}"
            )
        lines += ["", "## Test metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {number(v)} |" for k, v in self.test_metrics.items()]
        lines += ["", "## Candidates", "", f"| loss | {m['name']} | interval | best in |", "|---|---|---|---|"]
        lines += [
            f"| {_code(c['loss'], cell=True)} | {number(c['value'])} | {number(c['low'])} to {number(c['high'])} "
            f"| {number(c['win_rate'])} |"
            for c in self.comparison
        ]
        if self.loss.get("reasons"):
            lines += ["", "## Why this loss", ""] + [f"- {_no_html(r)}" for r in self.loss["reasons"]]
        lines += ["", "## Library versions", ""] + [f"- {k} {v}" for k, v in self.versions.items()]
        lines += ["", f"Created {self.created}. Check new data with `losskit drift model_card.json DATA`.", ""]
        return "\n".join(lines)


def _code(value: Any, *, cell: bool = False) -> str:
    """``value`` as a Markdown code span that nothing in it can end (HTML inside is shown, not run).

    The fence is one backtick longer than the longest run of backticks in the text (CommonMark);
    in a table ``cell`` a pipe is escaped so that it cannot split the row.
    """
    text = " ".join(str(value).splitlines())
    if cell:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _codes(values: list[Any]) -> str:
    return ", ".join(_code(v) for v in values) or "none"


def _no_html(text: Any) -> str:
    """Untrusted text in prose: ``&``, ``<`` and ``>`` as entities (no raw HTML), one line."""
    return " ".join(str(text).splitlines()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_text(text: Any) -> str:
    """Untrusted text as plain Markdown: no raw HTML, and emphasis, link, code and table marks escaped."""
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", _no_html(text))


def _bad(path: str, expected: str, actual: Any) -> LossInputError:
    shown = repr(actual) if not isinstance(actual, (dict, list)) else type(actual).__name__
    return LossInputError(path, expected, shown if len(shown) <= 60 else shown[:57] + "...")


def _walk(value: Any, path: str, depth: int) -> None:
    """Reject non-finite numbers (NaN / Infinity literals) and nesting deeper than a card has."""
    if depth > _MAX_DEPTH:
        raise _bad(path, f"a value nested at most {_MAX_DEPTH} levels deep", "deeper nesting")
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(path, "a finite number or null", value)
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, f"{path}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", depth + 1)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], expected: str, path: str = "") -> Any:
    where = f"{path}.{key}" if path else key
    if key not in data:
        raise _bad(where, expected, "nothing (missing)")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(where, expected, value)
    return value


def _numbers(data: dict[str, Any], key: str, path: str, length: int | None = None, *, sorted_: bool = False) -> list:
    where = f"{path}.{key}"
    values = _need(data, key, list, "a list of numbers", path)
    if len(values) < (length or 3) or (length is not None and len(values) != length):
        size = "at least 3" if length is None else str(length)
        raise _bad(where, f"a list of {size} numbers", f"{len(values)} values")
    for i, v in enumerate(values):
        if not _is_number(v):
            raise _bad(f"{where}[{i}]", "a number", v)
    if sorted_ and any(b < a for a, b in itertools.pairwise(values)):
        raise _bad(where, "non-decreasing quantiles", "unsorted values")
    return values


def _reference(ref: dict[str, Any], task: str, n_classes: int) -> None:
    if task != "regression":
        counts = _numbers(ref, "class_counts", "reference", n_classes)
        for i, c in enumerate(counts):
            if not isinstance(c, int) or c <= 0:
                raise _bad(f"reference.class_counts[{i}]", "a positive whole count (every class seen in training)", c)
        prior = _numbers(ref, "prior", "reference", n_classes)
        for i, p in enumerate(prior):
            if not 0.0 < p < 1.0:
                raise _bad(f"reference.prior[{i}]", "a class share in (0, 1)", p)
        if abs(sum(prior) - 1.0) > 1e-6:
            raise _bad("reference.prior", "shares summing to 1", f"a sum of {sum(prior):.6g}")
    if task == "regression":
        _numbers(ref, "target_quantiles", "reference", sorted_=True)
    if task not in ("multiclass", "ordinal"):
        q = _numbers(ref, "score_quantiles", "reference", sorted_=True)
        if task == "binary":
            if not 0.0 <= q[0] and q[-1] <= 1.0:
                raise _bad("reference.score_quantiles", "probabilities in [0, 1]", f"{q[0]:.4g} to {q[-1]:.4g}")
            mean = _need(ref, "score_mean", (int, float), "a mean score in (0, 1)", "reference")
            if not 0.0 < mean < 1.0:
                raise _bad("reference.score_mean", "a mean score in (0, 1)", mean)


def validate_card(data: Any) -> None:
    """Check a parsed ``model_card.json`` against the card's schema.

    Checks every field that :class:`ModelCard`, its Markdown and ``losskit drift`` read: types,
    the ``schema`` version (``1 <= schema <= SCHEMA``), the task, the classes (2 for binary, at
    least 3 for multi-class and ordinal, none for regression, at least 2 relevance levels for
    ranking), a binary threshold in [0, 1], the reference block of the task (class counts and
    prior of the classes' length, every class present;
    sorted quantiles; a mean score in (0, 1)), finite numbers only and at most 8 levels of nesting.

    Raises:
        LossInputError: naming the first field that fails by its path in the card, e.g. ``reference.prior``
            (``card`` when the whole value is not a JSON object).

    Example:
        >>> validate_card({"schema": 1, "task": "poetry"})
        Traceback (most recent call last):
        ...
        losskit._errors.LossInputError: Expected argument `task` to be one of ('binary', \
'multiclass', 'regression', 'ordinal', 'ranking'), but got 'poetry'.
    """
    if not isinstance(data, dict):
        raise LossInputError("card", "a JSON object (a losskit model card)", type(data).__name__)
    version = _need(data, "schema", int, f"a schema version from 1 to {SCHEMA}")
    if not 1 <= version <= SCHEMA:
        raise _bad("schema", f"a schema version from 1 to {SCHEMA}", version)
    task = _need(data, "task", str, f"one of {_TASKS}")
    if task not in _TASKS:
        raise _bad("task", f"one of {_TASKS}", task)
    for key, value in data.items():
        _walk(value, key, 1)
    target = _need(data, "target", str, "the target column's name")
    if not target:
        raise _bad("target", "the target column's name", target)
    classes = _need(data, "classes", list, "a list of class labels")
    want = {
        "binary": "2 class labels",
        "multiclass": "at least 3 class labels",
        "ordinal": "at least 3 levels, lowest first",
        "regression": "an empty list",
        "ranking": "at least 2 relevance levels, lowest first",
    }[task]
    if (
        (task == "binary" and len(classes) != 2)
        or (task in ("multiclass", "ordinal") and len(classes) < 3)
        or (task == "regression" and classes)
        or (task == "ranking" and len(classes) < 2)
    ):
        raise _bad("classes", want, f"{len(classes)} labels")
    for i, c in enumerate(classes):
        if not isinstance(c, (str, int, float)) or c is None:
            raise _bad(f"classes[{i}]", "a class label (text or number)", c)
    if len({str(c) for c in classes}) != len(classes):
        raise _bad("classes", "distinct class labels", "repeated labels")
    loss = _need(data, "loss", dict, "an object with the loss")
    _need(loss, "name", str, "the loss's name", "loss")
    _need(loss, "options", dict, "an object of loss options", "loss")
    from losskit.catalog import TARGET_TRANSFORMS

    if loss.get("target_transform") not in (None, *TARGET_TRANSFORMS):
        raise _bad("loss.target_transform", f"one of {tuple(TARGET_TRANSFORMS)} or null", loss["target_transform"])
    if loss.get("resample") not in (None, "under", "over"):
        raise _bad("loss.resample", "'under', 'over' or null", loss["resample"])
    threshold = data.get("threshold")
    if threshold is not None:
        if not _is_number(threshold) or not 0.0 <= threshold <= 1.0 or task != "binary":
            raise _bad("threshold", "a probability in [0, 1] (binary) or null", threshold)
    metric = _need(data, "metric", dict, "an object with the headline metric")
    _need(metric, "name", str, "the metric's name", "metric")
    for key in ("value", "low", "high", "level", "win_rate"):
        if metric.get(key) is not None and not _is_number(metric[key]):
            raise _bad(f"metric.{key}", "a number or null", metric[key])
    _need(data, "test_metrics", dict, "an object of metrics")
    model = _need(data, "model", dict, "an object describing the model")
    _need(model, "kind", str, "the model kind", "model")
    card_data = _need(data, "data", dict, "an object describing the data")
    _need(card_data, "fingerprint", str, "the data's fingerprint", "data")
    for key in ("rows", "dropped_rows"):
        _need(card_data, key, int, "a row count", "data")
    splits = _need(data, "splits", dict, "an object of split sizes")
    for key in ("train", "val", "test"):
        if not isinstance(_need(splits, key, int, "a row count", "splits"), int) or splits[key] < 0:
            raise _bad(f"splits.{key}", "a row count", splits[key])
    reference = _need(data, "reference", dict, "an object with the drift reference")
    _reference(reference, task, len(classes))
    optional = (("comparison", list, "a list"), ("versions", dict, "an object"), ("created", str, "a time stamp"))
    for key, kind, expected in optional:
        if key in data:
            _need(data, key, kind, expected)
    positive = card_data.get("positive_class")
    if positive is not None and (task != "binary" or str(positive) != str(classes[1])):
        raise _bad("data.positive_class", f"the binary card's second class ({classes[1:]}) or null", positive)
