"""The loss advisor: one generated data set per decision-table row, profiles, options, build()."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import losskit
from losskit import catalog
from losskit.advisor import DECISION_TABLE, decision_table_markdown, profile_target
from losskit.advisor import table as table_module

RNG_SEED = 0


def _rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


# Each builder returns (y, advise kwargs, numbers the reasons must quote, computed here independently).
def _regression_mse():
    y = _rng().normal(10.0, 2.0, 3000)
    return y, {}, [f"{stats.skew(y):.2f}"]


def _regression_outliers():
    rng = _rng()
    y = rng.normal(0.0, 1.0, 2000)
    y[:100] = rng.choice([-1, 1], 100) * rng.uniform(15, 40, 100)  # 5% gross errors, symmetric
    med = np.median(y)
    z = 0.6745 * np.abs(y - med) / np.median(np.abs(y - med))
    share = np.mean(z > 3.5)
    return y, {}, [f"{share:.1%}"]


def _regression_log1p():
    y = _rng().lognormal(3.0, 1.0, 3000)  # prices: positive, right-skewed
    return y, {}, [f"{stats.skew(y):.2f}", f"{stats.skew(np.log1p(y)):.2f}"]


def _binary_bce():
    y = _rng().integers(0, 2, 1000)
    share = np.mean(y == 1)
    major = max(share, 1 - share)
    return y, {}, [f"{major:.1%}"]


def _binary_rare():
    y = np.zeros(2000, dtype=int)
    y[:10] = 1  # 0.5% positives
    return y, {}, ["0.50%", "199"]


def _multiclass_ce():
    y = _rng().choice(["cat", "dog", "bird", "fish"], 1200)
    counts = pd.Series(y).value_counts()
    return y, {}, [f"{counts.max() / counts.min():.2f}"]


def _multiclass_imbalanced():
    y = np.repeat([0, 1, 2, 3], [2000, 600, 200, 40])
    return y, {}, ["50.0 to 1", "40 rows"]


def _multiclass_overconfident():
    rng = _rng()
    y = rng.integers(0, 5, 1000)
    # A model that is 95% sure of every prediction but right only about 60% of the time.
    pred = np.where(rng.random(1000) < 0.6, y, (y + 1) % 5)
    scores = np.full((1000, 5), 0.0125)
    scores[np.arange(1000), pred] = 0.95
    accuracy = np.mean(pred == y)
    return y, {"scores": scores}, ["95.0%", f"{accuracy:.1%}", f"{0.95 - accuracy:.1%}"]


def _multilabel_bce():
    rng = _rng()
    y = (rng.random((1500, 4)) < [0.4, 0.2, 0.05, 0.6]).astype(int)
    rates = y.mean(axis=0)
    pw = (1 - rates) / rates
    return y, {}, [f"{y.sum(axis=1).mean():.2f}", f"{rates.min():.2%}", f"{pw.max():.3g}"]


def _embedding_triplet():
    y = np.repeat(np.arange(60), 6)
    return y, {"task": "embedding"}, ["60 identities", "median of 6"]


def _sequence_ctc():
    words = ["hello", "book", "abba", "loop", "cab"]
    y = [words[i % 5] for i in range(50)]
    # "hello" and "book" each have one repeated label, "abba" one, "loop" one: needs length + 1
    return y, {"task": "sequence"}, ["alphabet of 9 symbols", "needs 6 input frames"]


def _quantile_pinball():
    y = _rng().gamma(2.0, 3.0, 1000)
    return (
        y,
        {"task": "quantile", "quantiles": [0.05, 0.5, 0.95]},
        [
            "0.05, 0.5, 0.95",
            f"{np.quantile(y, 0.9):.4g}",
        ],
    )


def _multitask_uncertainty():
    rng = _rng()
    price = rng.normal(5000, 800, 600)
    churn = rng.integers(0, 2, 600)
    var = price.var()
    p = churn.mean()
    entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    return pd.DataFrame({"price": price, "churn": churn}), {}, [f"{var / entropy:.3g}"]


def _ordinal_corn():
    y = _rng().integers(1, 6, 800)
    return y, {"task": "ordinal"}, ["5 ordered levels", "4 conditional"]


def _regression_counts():
    rng = _rng()
    y = rng.poisson(rng.gamma(1.0, 6.0, 3000))  # over-dispersed counts (negative binomial)
    return y, {}, [f"{np.mean(y == 0):.1%} zeros", f"variance / mean = {y.var() / y.mean():.2f}: over-dispersed"]


def _regression_tweedie():
    rng = _rng()
    y = np.where(rng.random(2000) < 0.3, 0.0, rng.gamma(2.0, 50.0, 2000))  # claim amounts
    return y, {}, [f"{np.mean(y == 0):.1%} of the targets are exactly 0"]


def _ranking_pairwise():
    y = _rng().integers(0, 4, 800)
    return y, {"task": "ranking"}, ["4 levels"]


def _ranking_choice():
    """200 choice situations of 4 alternatives, one chosen in each but 10 (nothing chosen)."""
    group = np.repeat(np.arange(200), 4)
    y = np.zeros(800)
    y[np.arange(190) * 4 + _rng().integers(0, 4, 190)] = 1
    return y, {"task": "ranking", "group": group}, ["95% of the 200 queries"]


def _segmentation_dice_ce():
    masks = _rng().integers(0, 4, (6, 16, 16))
    masks[masks == 3] = 2  # class 3 never appears; class 0..2 do
    masks[0, :2] = 7  # a rare class in one image only: absent from the other five
    masks[1, 0, 0] = -1  # a void pixel
    rare = 32 / (6 * 256 - 1)
    return masks, {"task": "segmentation"}, ["6 masks of 256 pixels over 4 classes", f"{rare:.2%}"]


DATASETS = {
    "segmentation_dice_ce": _segmentation_dice_ce,
    "regression_mse": _regression_mse,
    "regression_outliers": _regression_outliers,
    "regression_log1p": _regression_log1p,
    "regression_counts": _regression_counts,
    "regression_tweedie": _regression_tweedie,
    "binary_bce": _binary_bce,
    "binary_rare": _binary_rare,
    "multiclass_ce": _multiclass_ce,
    "multiclass_imbalanced": _multiclass_imbalanced,
    "multiclass_overconfident": _multiclass_overconfident,
    "multilabel_bce": _multilabel_bce,
    "embedding_triplet": _embedding_triplet,
    "sequence_ctc": _sequence_ctc,
    "quantile_pinball": _quantile_pinball,
    "multitask_uncertainty": _multitask_uncertainty,
    "ordinal_corn": _ordinal_corn,
    "ranking_pairwise": _ranking_pairwise,
    "ranking_choice": _ranking_choice,
}


def test_query_groups_are_measured_and_graded_relevance_stays_pairwise():
    y, kwargs, _ = _ranking_choice()
    profile = losskit.advise(y, **kwargs).profile
    assert (profile.n_queries, profile.single_relevant_share) == (200, 0.95)
    assert profile.relevant_per_query == pytest.approx(0.95)
    graded = losskit.advise(_rng().integers(0, 4, 800), task="ranking", group=np.repeat(np.arange(200), 4))
    assert graded.row == "ranking_pairwise" and graded.profile.single_relevant_share < 0.9


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"group": np.zeros(800)}, "task"), ({"task": "ranking", "group": np.zeros(799)}, "group")],
    ids=["group without ranking", "one id per row"],
)
def test_bad_query_groups_are_refused(kwargs, argument):
    with pytest.raises(losskit.LossInputError) as exc:
        losskit.advise(_rng().integers(0, 4, 800), **kwargs)
    assert exc.value.argument == argument


def test_ordered_categorical_is_ordinal_in_its_own_level_order():
    levels = ["low", "medium", "high"]  # not the alphabetical order
    values = _rng().choice(levels, 300)
    y = pd.Series(pd.Categorical(values, categories=levels, ordered=True))
    y[:3] = None
    advice = losskit.advise(y)
    assert advice.row == "ordinal_corn" and advice.loss == "corn_loss"
    assert advice.profile.classes == levels and advice.profile.n_missing == 3
    np.testing.assert_array_equal(advice.profile.encoded, [levels.index(v) for v in y[3:]])
    assert "['low', 'medium', 'high']" in " ".join(advice.reasons)
    # an unordered categorical stays multi-class
    assert losskit.advise(pd.Series(pd.Categorical(values))).task == "multiclass"


def test_every_table_row_has_a_data_set():
    assert {row.id for row in DECISION_TABLE} == set(DATASETS)


@pytest.mark.parametrize("row", [r.id for r in DECISION_TABLE])
def test_advisor_recommends_the_row_built_for(row):
    y, kwargs, numbers = DATASETS[row]()
    advice = losskit.advise(y, **kwargs)
    table_row = next(r for r in DECISION_TABLE if r.id == row)
    assert advice.row == row
    assert advice.loss == table_row.loss
    if row != "multitask_uncertainty":
        assert advice.choice.entry is catalog.lookup(table_row.loss)
        assert advice.module == f"nn.{advice.choice.entry.module}"
    text = " ".join(advice.reasons)
    for number in numbers:
        assert number in text, (number, text)
    assert advice.metrics == list(table_row.metrics)
    if row != "multitask_uncertainty":
        assert callable(advice.function())
    json.dumps(advice.to_dict())  # serialisable, tensors included


def test_huber_delta_is_1345_times_the_robust_scale():
    y, _, _ = _regression_outliers()
    advice = losskit.advise(y)
    mad = stats.median_abs_deviation(y, scale="normal")  # 1.4826 * MAD
    assert advice.options["delta"] == pytest.approx(1.345 * mad, rel=1e-3)
    module = advice.build()
    assert isinstance(module, losskit.nn.HuberLoss)
    assert module.delta == pytest.approx(advice.options["delta"])
    x, t = torch.zeros(4), torch.tensor([0.0, 1.0, 5.0, -20.0])
    assert torch.allclose(module(x, t), losskit.huber_loss(x, t, delta=advice.options["delta"]))


def test_rare_positives_get_an_unweighted_loss_a_tuned_threshold_and_the_weighted_alternative():
    advice = losskit.advise(np.r_[np.zeros(1990), np.ones(10)])
    assert advice.row == "binary_rare" and advice.options == {}
    assert any("tune the decision threshold" in r for r in advice.reasons)
    assert any("pos_weight = n_neg / n_pos = 199" in r and "log(199)" in r for r in advice.reasons)
    got = [(a.name, a.options, a.resample) for a in advice.alternatives]
    assert ("binary_cross_entropy_with_logits", {"pos_weight": "balanced"}, None) in got
    assert ("binary_focal_loss", {"gamma": 2.0}, None) in got
    assert ("binary_cross_entropy_with_logits", {}, "under") in got
    assert any("accuracy will look high" in w and "99.5%" in w and "PR-AUC" in w for w in advice.warnings)
    module = advice.build()
    assert isinstance(module, losskit.nn.BCEWithLogitsLoss) and module.pos_weight is None


def test_rare_positive_reasons_hold_on_data():
    """Elkan's equivalence behind the row: weighting the positives by w adds log(w) to the best logit."""
    y = torch.tensor([0.0] * 90 + [1.0] * 10)
    z = torch.zeros((), requires_grad=True)  # one logit for every row: the minimiser is the log-odds
    opt = torch.optim.LBFGS([z], max_iter=100, line_search_fn="strong_wolfe")

    def fitted(pos_weight):
        with torch.no_grad():
            z.zero_()

        def closure():
            opt.zero_grad()
            loss = losskit.binary_cross_entropy_with_logits(z.expand(100), y, pos_weight=pos_weight)
            loss.backward()
            return loss

        opt.step(closure)
        return float(z.detach())

    w = float(losskit.imbalance.pos_weight(y))
    assert fitted(torch.tensor(w)) - fitted(None) == pytest.approx(np.log(w), abs=1e-4)


def test_string_labels_make_the_minority_the_positive_class():
    y = np.array(["churn"] * 30 + ["stay"] * 270)
    advice = losskit.advise(y)
    assert advice.profile.positive_class == "churn"
    assert any("pos_weight = n_neg / n_pos = 9" in r for r in advice.reasons)


def test_multiclass_class_weights_are_effective_number_weights():
    y, _, _ = _multiclass_imbalanced()
    advice = losskit.advise(y)
    counts = np.array([2000, 600, 200, 40])
    expected = (1 - 0.999) / (1 - 0.999**counts)  # Cui et al. 2019, normalised to sum to C
    expected = expected * 4 / expected.sum()
    assert np.allclose(advice.options["weight"].numpy(), expected, rtol=1e-5)
    module = advice.build()
    logits, target = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 3, 0])
    ref = torch.nn.functional.cross_entropy(logits, target, weight=torch.as_tensor(expected, dtype=torch.float32))
    assert torch.allclose(module(logits, target), ref, atol=1e-6)


def test_label_smoothing_advice_builds_a_smoothed_cross_entropy():
    y, kwargs, _ = _multiclass_overconfident()
    module = losskit.advise(y, **kwargs).build()
    assert isinstance(module, losskit.nn.CrossEntropyLoss) and module.label_smoothing == 0.1


def test_multilabel_pos_weight_per_label():
    y, _, _ = _multilabel_bce()
    advice = losskit.advise(y)
    rates = y.mean(axis=0)
    assert np.allclose(advice.options["pos_weight"].numpy(), (1 - rates) / rates, rtol=1e-5)
    module = advice.build()
    x = torch.randn(5, 4)
    assert module(x, torch.as_tensor(y[:5], dtype=torch.float32)).isfinite()


@pytest.mark.parametrize("row", ["sequence_ctc", "embedding_triplet", "quantile_pinball", "ranking_pairwise"])
def test_other_rows_build_their_modules(row):
    y, kwargs, _ = DATASETS[row]()
    advice = losskit.advise(y, **kwargs)
    module = advice.build()
    assert isinstance(module, torch.nn.Module)
    assert type(module) is advice.choice.entry.module_class()


@pytest.mark.parametrize("row", DECISION_TABLE, ids=lambda r: r.id)
def test_every_row_and_alternative_names_a_catalog_entry(row):
    """Advice is structure: each alternative is a catalog loss with options it accepts."""
    if row.id != "multitask_uncertainty":  # MultiTaskLoss combines losses; it is not one
        assert catalog.lookup(row.loss).name == row.loss
    for alt in row.alternatives:
        entry = catalog.lookup(alt.loss)
        assert entry.name == alt.loss
        for key, value in alt.options:
            if not isinstance(value, table_module.Field):
                entry.option(key).check(value, key)
    y, kwargs, _ = DATASETS[row.id]()
    advice = losskit.advise(y, **kwargs)
    for alt in advice.alternatives:
        assert alt.entry.check_options(alt.options) == alt.options
        assert alt.reason and "{" not in alt.reason


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("multiclass_ce", {("cross_entropy", "label_smoothing"), ("focal_loss", "gamma")}),
        ("multiclass_imbalanced", {("focal_loss", "gamma"), ("cross_entropy", "label_smoothing")}),
    ],
)
def test_multiclass_rows_offer_label_smoothing_and_focal(task, expected):
    row = next(r for r in DECISION_TABLE if r.id == task)
    offered = {(a.loss, k) for a in row.alternatives for k, _ in a.options}
    assert expected <= offered


def test_log_scale_targets_get_the_log_transform_and_no_outlier_wording():
    """Diamond-like prices: lognormal, skewness about 1.6, removed by log1p."""
    rng = np.random.default_rng(0)
    y = np.round(np.exp(rng.normal(7.8, 0.6, 5000)))
    advice = losskit.advise(y)
    assert advice.profile.skew < 2 and abs(advice.profile.log1p_skew) < 0.5
    assert advice.row == "regression_log1p" and advice.target_transform == "log1p"
    assert not any("outlier" in r for r in advice.reasons)
    assert [a.target_transform for a in advice.alternatives] == [None, None, None]


def test_multitask_has_per_task_parts():
    frame, _, _ = _multitask_uncertainty()
    advice = losskit.advise(frame)
    assert advice.options == {"tasks": {"price": "regression", "churn": "classification"}, "weighting": "uncertainty"}
    assert set(advice.parts) == {"price", "churn"}
    assert advice.parts["churn"].loss == "binary_cross_entropy_with_logits"
    assert advice.parts["price"].loss == "mse_loss"
    combined = advice.build()
    price = torch.tensor(frame["price"].to_numpy()[:8], dtype=torch.float32)
    churn = torch.tensor(frame["churn"].to_numpy()[:8], dtype=torch.float32)
    losses = {
        "price": advice.parts["price"].build()(torch.full((8,), 5000.0), price),
        "churn": advice.parts["churn"].build()(torch.zeros(8), churn),
    }
    # Uncertainty weighting starts at log-variance 0: 0.5 * L_regression + 1.0 * L_classification.
    expected = 0.5 * losses["price"] + losses["churn"]
    assert torch.allclose(combined(losses), expected)


def test_sequence_feasibility_counts_short_inputs():
    advice = losskit.advise(["abba", "cab", "aa"], task="sequence", input_lengths=[5, 2, 3])
    # abba needs 4 + 1 repeat = 5 frames (ok); cab needs 3 (2 given); aa needs 3 (ok)
    assert advice.profile.infeasible == 1
    assert any("1 sequences have fewer input frames" in w for w in advice.warnings)


# ---------------------------------------------------------------------------------------
# Target shapes and profiling
# ---------------------------------------------------------------------------------------


def test_one_hot_columns_are_one_multiclass_target():
    y = np.eye(3)[_rng().integers(0, 3, 300)]
    advice = losskit.advise(y)
    assert advice.task == "multiclass" and advice.row == "multiclass_ce"
    assert any("exactly one 1 per row" in w for w in advice.warnings)


@pytest.mark.parametrize(
    "y",
    [
        ["a|b", "b", "c|a", "a"] * 50,
        [{"a", "b"}, {"b"}, {"c", "a"}, {"a"}] * 50,
        pd.DataFrame({"a": [1, 0, 1, 1] * 50, "b": [1, 1, 0, 0] * 50, "c": [0, 0, 1, 0] * 50}),
    ],
    ids=["delimited", "sets", "columns"],
)
def test_multilabel_forms_agree(y):
    p = profile_target(y)
    assert p.task == "multilabel"
    assert p.labels == ["a", "b", "c"]
    assert p.label_cardinality == pytest.approx(1.5)
    assert p.rarest_label == "c" and p.rarest_label_rate == pytest.approx(0.25)


def test_profile_of_a_continuous_target_matches_scipy():
    y = _rng().lognormal(0, 0.7, 500)
    p = profile_target(torch.as_tensor(y))
    assert p.task == "regression"
    assert p.skew == pytest.approx(stats.skew(y)) and p.kurtosis == pytest.approx(stats.kurtosis(y))
    assert p.mad == pytest.approx(stats.median_abs_deviation(y))
    assert p.nonnegative is True


def test_missing_targets_are_dropped_and_reported():
    y = pd.Series([1.0, 2.0, np.nan, 4.0, 3.5, 2.2, np.nan] * 20)
    advice = losskit.advise(y)
    assert advice.profile.n_missing == 40 and advice.profile.n == 100
    assert any("40 rows have no target" in w for w in advice.warnings)


@pytest.mark.parametrize(
    "y",
    [pd.DataFrame({"y": [0, 1, 1, 0, 1] * 20}), np.array([[0], [1], [1], [0], [1]] * 20)],
    ids=["one-column-frame", "column-vector"],
)
def test_a_single_column_is_a_plain_target(y):
    assert losskit.advise(y).row == "binary_bce"


def test_nullable_integers_count_pandas_na_as_missing():
    p = profile_target(pd.Series([1, 2, None, 2, 1] * 20, dtype="Int64"))
    assert p.task == "binary" and p.n_missing == 20 and p.n == 80


def test_indicator_columns_with_missing_values_are_refused():
    with pytest.raises(losskit.LossInputError, match="missing values in 'a'"):
        losskit.advise(pd.DataFrame({"a": [0, 1, None, 1] * 10, "b": [1, 0, 1, 0] * 10}))


def test_features_add_warnings():
    y = _rng().normal(size=40)
    X = np.c_[_rng().normal(size=(40, 30)), np.ones(40)]
    advice = losskit.advise(y, X)
    assert advice.profile.features.n_features == 31
    assert any("features per row" in w for w in advice.warnings)
    assert any("1 feature columns are constant" in w for w in advice.warnings)


@pytest.mark.parametrize(
    ("y", "kwargs", "argument"),
    [
        ([3, 3, 3, 3], {}, "y"),
        (["1.5", "2.5", "x"] + ["1.0"] * 40, {}, "y"),
        ([1.0, 2.0, 3.0], {"task": "regresion"}, "task"),
        ([0, 1, 2, 0, 1, 2], {"task": "binary"}, "task"),
        (["a", "b", "a"], {"task": "regression"}, "y"),
        ([], {}, "y"),
        ([0, 1] * 10, {"task": "quantile", "quantiles": [0.5, 1.5]}, "quantiles"),
        ([0, 1] * 10, {"task": "multitask"}, "task"),
        ([0, 1, 2] * 10, {"scores": np.zeros((30, 2))}, "scores"),
    ],
    ids=[
        "one-class",
        "unparseable",
        "unknown-task",
        "binary-with-3",
        "labels-as-regression",
        "empty",
        "quantiles",
        "multitask-one-column",
        "scores-shape",
    ],
)
def test_bad_targets_raise_loss_input_error(y, kwargs, argument):
    with pytest.raises(losskit.LossInputError, match=f"`{argument}`"):
        losskit.advise(y, **kwargs)


def test_advice_prints_and_renders_with_rich():
    from rich.console import Console

    advice = losskit.advise(np.r_[np.zeros(95), np.ones(5)])
    console = Console(record=True, width=120)
    console.print(advice)
    text = console.export_text()
    assert "BCEWithLogitsLoss()" in text and "log(19)" in text
    assert "binary_rare" in str(advice)


# ---------------------------------------------------------------------------------------
# The table as documentation
# ---------------------------------------------------------------------------------------


def test_docs_contain_the_generated_decision_table():
    docs = Path(__file__).parents[1] / "docs" / "advise_audit.md"
    assert decision_table_markdown() in docs.read_text()


def test_markdown_has_one_line_per_row_in_order():
    lines = decision_table_markdown().strip().splitlines()[2:]
    assert len(lines) == len(DECISION_TABLE)
    for line, row in zip(lines, DECISION_TABLE, strict=True):
        assert f"`{row.id}`" in line and f"`{row.loss}`" in line


def test_row_templates_only_name_measured_fields():
    # Every placeholder of every template must be a profile field or an options-rule field:
    # rendering each row's data set above proves it for the rows; here the clauses.
    from losskit.advisor.profile import TargetProfile

    known = set(TargetProfile.__dataclass_fields__) | {
        "pos_weight_max",
        "loss_scale_ratio",
        "feature_ratio",
        "missing_feature_share",
        "constant_features",
    }
    for row in DECISION_TABLE:
        for name, op, _ in row.when:
            assert name in known and op in {"==", "!=", "<", "<=", ">", ">="}
