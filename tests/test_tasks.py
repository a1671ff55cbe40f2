"""One task rule and one positive-class rule, checked against scikit-learn's ``type_of_target``."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.multiclass import type_of_target

import losskit
from losskit import catalog, tasks
from losskit.tasks import infer_task, positive_class


def test_doctests_of_the_catalog_the_task_rule_and_advise_run() -> None:
    from losskit.advisor import recommend

    for module in (catalog, tasks, recommend):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.arange(1000) % 30, "regression"),  # 30 integer levels: more than 20
        (np.arange(40) % 15, "regression"),  # 15 levels over 40 rows: 2.7 rows per level
        (np.arange(1000) % 5, "multiclass"),
        (np.arange(75) % 15, "multiclass"),  # exactly 5 rows per level
        (np.arange(74) % 15, "regression"),
        (np.r_[np.zeros(60), np.ones(25), np.full(10, 2), np.full(4, 3), [7]], "regression"),  # rare top count
        (np.r_[np.zeros(60), np.ones(25), np.full(10, 2), np.full(5, 3)], "multiclass"),  # 5 rows at the top
        (np.r_[np.ones(60), np.full(25, 2), np.full(10, 3), [4]], "multiclass"),  # no zero: not read as counts
        (np.r_[np.zeros(30), np.ones(3)], "binary"),
        (np.array([3.0, 7.0, 3.0]), "binary"),
        (np.array(["a", "b", "c", "a"], dtype=object), "multiclass"),
        (pd.Series(["x", None, "y", "x"]), "binary"),
        (np.array([True, False, True]), "binary"),
        (np.linspace(0, 1, 50), "regression"),
        (np.array([[0, 1], [1, 1], [0, 0]]), "multilabel"),
        (np.array([[0.5, 1.0], [2.0, 1.5]]), "multitask"),
    ],
)
def test_infer_task(y: np.ndarray, task: str) -> None:
    assert infer_task(y) == task


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_type_of_target_except_for_integer_quantities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for y in (rng.normal(size=200), rng.integers(0, 2, 200), rng.integers(0, 4, 200), rng.choice(["a", "b", "c"], 200)):
        ours = infer_task(y)
        reference = {"continuous": "regression"}.get(type_of_target(y), type_of_target(y))
        assert ours == reference
    counts = rng.poisson(40, 200)  # many integer levels: sklearn says multiclass, the rule a quantity
    assert type_of_target(counts) == "multiclass" and infer_task(counts) == "regression"


def test_the_advisor_the_lab_and_evaluate_use_the_same_rule() -> None:
    from losskit.evaluate import infer_task as evaluate_infer_task
    from losskit.lab.data import prepare

    for y in (np.arange(1000) % 30, np.arange(40) % 15, np.arange(1000) % 5):
        frame = pd.DataFrame({"x": np.arange(len(y)), "y": y})
        expected = infer_task(y)
        assert losskit.advise(y).task == expected
        assert prepare(frame, "y").task == expected
        if expected == "regression":
            assert evaluate_infer_task(y, y.astype(float)) == "regression"


@pytest.mark.parametrize(
    ("y", "positive"),
    [
        ([0, 1, 1, 1], 1),
        ([True, False, False], True),
        (["1", "0", "0"], "1"),
        (["paid"] * 9 + ["defaulted"], "defaulted"),
        (["yes", "no", "no", "yes"], "yes"),  # a tie: the label sorting last
        ([2.0, 5.0, 5.0], 2.0),
    ],
)
def test_positive_class(y: list, positive: object) -> None:
    got = positive_class(y)
    assert got == positive and type(got) is type(positive)


def test_pos_label_overrides_and_is_checked() -> None:
    assert positive_class(["a", "b", "b"], pos_label="b") == "b"
    assert positive_class([0, 1, 1], pos_label="0") == 0
    with pytest.raises(losskit.LossInputError, match="pos_label"):
        positive_class(["a", "b"], pos_label="c")
    with pytest.raises(losskit.LossInputError, match="two classes"):
        positive_class(["a", "b", "c"])


def test_every_tool_speaks_the_one_task_vocabulary() -> None:
    from losskit.advisor.profile import TASKS as ADVISOR
    from losskit.auditor.checks import AUDIT_TASKS
    from losskit.evaluate.metrics import TASKS as METRICS
    from losskit.evaluate.streaming import STREAMING_TASKS
    from losskit.lab.data import TASKS as LAB

    for tools in (ADVISOR, AUDIT_TASKS, METRICS, STREAMING_TASKS, LAB, tasks.LAB_TASKS):
        assert set(tools) <= set(tasks.TASKS), set(tools) - set(tasks.TASKS)
    for entry in catalog.ENTRIES:
        assert set(entry.tasks) <= set(tasks.TASKS)
