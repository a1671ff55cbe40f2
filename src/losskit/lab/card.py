"""The model card: what was trained, on what, how it scored, and the reference for drift checks.

Written as ``model_card.json`` (machine-readable, strict JSON: undefined numbers are ``null``)
and ``model_card.md`` (for people). ``ModelCard.load(path) == card`` for a saved card.
The ``reference`` block freezes the training class counts and quantiles of the validation scores
and of the training target, which ``losskit drift`` compares new data against.
"""

from __future__ import annotations

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

__all__ = ["SCHEMA", "ModelCard", "clean", "library_versions"]

SCHEMA = 1
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
        task, target, classes: the problem (``classes`` in index order; empty for regression).
        loss: ``{"name", "options", "origin", "reasons"}``; ``options`` are the frozen values used
            (class weights and ``pos_weight`` as numbers, not ``"balanced"``).
        threshold: decision threshold tuned on validation (binary), else ``None``.
        metric: ``{"name", "value", "low", "high", "level", "win_rate"}`` on the test set.
        test_metrics: all standard metrics of the task on the test set, at ``threshold``.
        model: ``{"kind", "file", ...}`` architecture and training facts.
        data: ``{"source", "fingerprint", "rows", "columns", "dropped_rows", "imputed"}``.
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
        names = {f.name for f in fields(cls)}
        missing = sorted(n for n in names if n not in data and n not in ("comparison", "versions", "created", "schema"))
        if missing:
            raise LossInputError("CARD", f"a losskit model card (missing fields: {', '.join(missing)})", "another JSON")
        if data.get("schema", SCHEMA) > SCHEMA:
            raise LossInputError("CARD", f"a model card of schema <= {SCHEMA}", f"schema {data['schema']}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        p = Path(path)
        if not p.is_file():
            raise LossInputError("CARD", "an existing model_card.json", repr(str(path)))
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LossInputError("CARD", "a JSON model card", f"{str(path)!r} ({exc})") from exc
        if not isinstance(data, dict):
            raise LossInputError("CARD", "a JSON object", type(data).__name__)
        return cls.from_dict(data)

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``model_card.json`` and ``model_card.md`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "model_card.json").write_text(self.to_json() + "\n")
        (d / "model_card.md").write_text(self.to_markdown())
        return d / "model_card.json", d / "model_card.md"

    def to_markdown(self) -> str:
        def num(v: Any) -> str:
            return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

        m = self.metric
        options = _md_text(", ".join(f"{k}={_short(v)}" for k, v in self.loss["options"].items()) or "defaults")
        lines = [
            f"# Model card: {self.task} model of {_code(self.target)}",
            "",
            f"- **Loss:** {_code(self.loss['name'])} ({options}); chosen from {len(self.comparison)} candidate(s), "
            f"origin: {_md_text(self.loss.get('origin', 'user'))}",
            f"- **Decision threshold:** {num(self.threshold)}" + (" (tuned on validation)" if self.threshold else ""),
            f"- **Test {m['name']}:** {num(m['value'])} ({int(m['level'] * 100)}% bootstrap interval "
            f"{num(m['low'])} to {num(m['high'])}; best in {num(m['win_rate'])} of paired resamples)",
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
        if self.classes:
            lines.append(
                f"- Classes (index order): {_codes(self.classes)}; training prior: "
                f"{[round(p, 4) for p in self.reference.get('prior', [])]}"
            )
        lines += ["", "## Test metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {num(v)} |" for k, v in self.test_metrics.items()]
        lines += ["", "## Candidates", "", f"| loss | {m['name']} | interval | best in |", "|---|---|---|---|"]
        lines += [
            f"| {_code(c['loss'], cell=True)} | {num(c['value'])} | {num(c['low'])} to {num(c['high'])} "
            f"| {num(c['win_rate'])} |"
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


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 6:
        return f"[{len(value)} values]"
    return str(value)
