"""Model-card schema: a corrupted or foreign card is one error naming the field (exit 2 in ``drift``),
never a crash and never exit 1 (which ``drift`` reserves for a shift)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lab_tables import class_card, credit_default, diamonds, regression_card
from losskit import LossInputError
from losskit.cli import main
from losskit.lab.card import SCHEMA, ModelCard, validate_card


def _binary() -> dict[str, Any]:
    return class_card(credit_default().default, threshold=0.3).to_dict()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(card: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = card
        for key in parents:
            node = node[key]
        node[last] = value

    return apply


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(card: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = card
        for key in parents:
            node = node[key]
        del node[last]

    return apply


def _deep(card: dict[str, Any]) -> None:
    nested: Any = 1
    for _ in range(20):
        nested = {"x": nested}
    card["test_metrics"] = nested


CORRUPTIONS = [
    ("missing reference", _drop("reference"), "reference"),
    ("string prior", _set("reference.prior", "0.97,0.03"), "reference.prior"),
    ("string in prior", _set("reference.prior", [0.97, "0.03"]), "reference.prior[1]"),
    ("prior of the wrong length", _set("reference.prior", [0.5, 0.3, 0.2]), "reference.prior"),
    ("a zero class", _set("reference.class_counts", [7000, 0]), "reference.class_counts[1]"),
    ("a zero prior", _set("reference.prior", [1.0, 0.0]), "reference.prior[0]"),
    ("prior not summing to one", _set("reference.prior", [0.5, 0.4]), "reference.prior"),
    ("classes null", _set("classes", None), "classes"),
    ("three classes on a binary card", _set("classes", ["a", "b", "c"]), "classes"),
    ("string threshold", _set("threshold", "0.3"), "threshold"),
    ("threshold above one", _set("threshold", 3.0), "threshold"),
    ("empty score quantiles", _set("reference.score_quantiles", []), "reference.score_quantiles"),
    ("null score quantiles", _set("reference.score_quantiles", None), "reference.score_quantiles"),
    ("unsorted quantiles", _set("reference.score_quantiles", [0.9, 0.1, 0.5]), "reference.score_quantiles"),
    ("score mean of zero", _set("reference.score_mean", 0.0), "reference.score_mean"),
    ("NaN literal", _set("reference.score_mean", float("nan")), "reference.score_mean"),
    ("Infinity literal", _set("metric.value", float("inf")), "metric.value"),
    ("deep nesting", _deep, "test_metrics"),
    ("missing schema version", _drop("schema"), "schema"),
    ("future schema version", _set("schema", SCHEMA + 1), "schema"),
    ("string schema version", _set("schema", "1"), "schema"),
    ("unknown task", _set("task", "poetry"), "task"),
    ("empty target", _set("target", ""), "target"),
    ("loss without options", _drop("loss.options"), "loss.options"),
    ("splits with a negative count", _set("splits.train", -5), "splits.train"),
    ("positive class not a class", _set("data.positive_class", "Maybe"), "data.positive_class"),
    ("positive class not second", _set("data.positive_class", "No"), "data.positive_class"),
    ("unknown target transform", _set("loss.target_transform", "sqrt"), "loss.target_transform"),
    ("unknown resampling", _set("loss.resample", "smote"), "loss.resample"),
]


@pytest.mark.parametrize(("name", "corrupt", "field"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_each_corruption_names_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, corrupt: Callable, field: str
) -> None:
    card = _binary()
    corrupt(card)
    with pytest.raises(LossInputError) as exc:
        validate_card(card)
    argument = exc.value.argument
    assert argument == field or (name == "deep nesting" and argument.startswith(f"{field}."))
    # through the command: NaN / Infinity written as the literals Python's json emits
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card))
    credit_default().head(100).to_csv(tmp_path / "d.csv", index=False)
    assert main(["drift", str(path), str(tmp_path / "d.csv"), "--target", "default"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"argument `CARD.json` ({field}" in err


def test_a_thousand_levels_of_nesting_and_a_non_object(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(LossInputError, match="nested at most"):
        ModelCard.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(LossInputError, match="JSON object"):
        ModelCard.load(path)


def test_regression_and_multiclass_cards_validate_their_own_reference() -> None:
    reg = regression_card(diamonds().price).to_dict()
    validate_card(reg)
    reg["reference"]["target_quantiles"] = [3.0, 2.0, 1.0]
    with pytest.raises(LossInputError, match=r"reference\.target_quantiles"):
        validate_card(reg)
    reg = regression_card(diamonds().price).to_dict()
    reg["classes"] = ["a", "b"]
    with pytest.raises(LossInputError, match="`classes`"):
        validate_card(reg)
    multi = class_card(pd.Series(["a", "b", "c"] * 10, name="y")).to_dict()
    validate_card(multi)
    multi["threshold"] = 0.5  # a threshold only means something for a binary model
    with pytest.raises(LossInputError, match="`threshold`"):
        validate_card(multi)


def test_a_valid_card_round_trips_with_its_positive_class(tmp_path: Path) -> None:
    card = class_card(credit_default().default, threshold=0.3)
    card.data["positive_class"] = "Yes"
    loaded = ModelCard.load(card.save(tmp_path)[0])
    assert loaded == card and loaded.data["positive_class"] == "Yes" and loaded.schema == SCHEMA
