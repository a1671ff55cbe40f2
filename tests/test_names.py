"""One word per concept (docs/validation.md "Names"): public losses, modules, miners and helpers take
``input`` for predictions and ``target`` for what they are compared with, never a retired spelling."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

import losskit
import losskit.embedding
import losskit.embedding.miners
from losskit import nn as lnn

# Spellings replaced by ``input`` / ``target`` (evaluate keeps scikit-learn's ``y_true`` / ``y_score``).
RETIRED = {"embeddings", "labels", "scores", "relevance", "logits", "pred", "preds", "y_pred", "y"}
# Public functions whose first argument is not a prediction: the advisor reads a target column.
NOT_PREDICTIONS = {"losskit.advise"}


def _public() -> Iterator[tuple[str, Callable]]:
    for mod in (losskit, losskit.embedding, losskit.embedding.miners, lnn):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                obj = getattr(obj, "forward", None)
            if callable(obj):
                yield f"{mod.__name__}.{name}", obj


def test_public_callables_use_input_and_target() -> None:
    found = []
    for where, fn in _public():
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # builtins without a signature
            continue
        if where in NOT_PREDICTIONS:
            continue
        found += [f"{where}({p})" for p in params if p in RETIRED]
    assert found == []


def test_miners_take_input_and_target() -> None:
    for fn in (losskit.embedding.batch_hard_triplets, losskit.embedding.semi_hard_triplets):
        assert list(inspect.signature(fn).parameters)[:2] == ["input", "target"]
    assert list(inspect.signature(losskit.pad_lists).parameters) == ["input", "target", "group"]


def test_the_lab_and_evaluate_use_one_metric_name_per_concept() -> None:
    """Every lab metric that ``losskit.evaluate.metrics`` also reports has its name; the lab's own
    extras are the ones evaluate does not compute (``pr_auc`` / ``median_ae`` were retired)."""
    import numpy as np

    from losskit.lab import scoring

    rng = np.random.default_rng(0)
    data = {
        "binary": (rng.integers(0, 2, 50), rng.random(50), 0.5),
        "multiclass": (rng.integers(0, 3, 60), rng.dirichlet([1, 1, 1], 60), None),
        "regression": (rng.normal(size=50), rng.normal(size=50), None),
    }
    own = {
        "binary": {"mcc", "recall_at_precision", "precision_at_recall"},
        "multiclass": {"balanced_accuracy"},
        "regression": set(),
    }
    for task, (y, scores, threshold) in data.items():
        reported = set(scoring.metrics_of(task, y, scores, threshold))
        assert set(scoring._TABLES[task]) - reported == own[task], task
        assert scoring.DEFAULT_METRIC[task] in reported
