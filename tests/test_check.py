"""The runtime lint ``losskit.check``: each classic mistake is flagged, clean calls are not."""

from __future__ import annotations

import functools

import pytest
import torch

import losskit
from losskit import nn as lnn


def _codes(findings) -> list[str]:
    return [f.code for f in findings]


@pytest.fixture
def g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_clean_calls_give_no_findings(g):
    logits = torch.randn(64, 5, generator=g)
    target = torch.arange(64) % 5
    assert losskit.check(logits, target, loss=losskit.cross_entropy) == []
    x = torch.randn(64, 3, generator=g)
    y = (torch.rand(64, 3, generator=g) < 0.5).float()
    assert losskit.check(x, y, loss=lnn.BCEWithLogitsLoss()) == []
    r = torch.randn(200, generator=g)
    assert losskit.check(r, torch.randn(200, generator=g), loss="mse_loss") == []


def test_multi_hot_targets_to_softmax(g):
    y = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    found = losskit.check(torch.randn(3, 3, generator=g), y, loss=torch.nn.CrossEntropyLoss())
    assert _codes(found) == ["multi_hot_target"]
    assert "2 of 3 target rows" in found[0].message and found[0].argument == "target"
    # Soft targets that are distributions are legitimate.
    soft = torch.softmax(torch.randn(3, 3, generator=g), dim=1)
    assert losskit.check(torch.randn(3, 3, generator=g), soft) == []


def test_probabilities_where_logits_are_expected(g):
    probs = torch.softmax(torch.randn(16, 4, generator=g), dim=1)
    found = losskit.check(probs, torch.arange(16) % 4, loss="cross_entropy")
    assert _codes(found) == ["probabilities_as_logits"]
    assert "sums to 1" in found[0].message
    sig = torch.sigmoid(torch.randn(32, generator=g))
    found = losskit.check(
        sig, (torch.rand(32, generator=g) < 0.5).float(), loss=losskit.binary_cross_entropy_with_logits
    )
    assert _codes(found) == ["probabilities_as_logits"]


def test_class_indices_out_of_range(g):
    target = torch.tensor([0, 1, 2, 3, -100, 7])
    found = losskit.check(torch.randn(6, 4, generator=g), target, loss=lnn.CrossEntropyLoss())
    assert _codes(found) == ["class_index_out_of_range"]
    assert "1 class indices" in found[0].message and "e.g. 7" in found[0].message  # -100 is ignore_index
    found = losskit.check(torch.randn(6, 4, generator=g), target, loss=lnn.CrossEntropyLoss(ignore_index=0))
    assert "2 class indices" in found[0].message  # now -100 is out of range too


def test_heavy_tailed_regression_target_under_mse(g):
    y = torch.randn(1000, generator=g)
    y[:50] *= 40.0
    found = losskit.check(torch.zeros(1000), y, loss=torch.nn.MSELoss())
    assert _codes(found) == ["heavy_tailed_target"]
    assert "huber_loss(delta=" in found[0].message and "robust SDs" in found[0].message
    # The same target under a robust loss is fine.
    assert losskit.check(torch.zeros(1000), y, loss="huber_loss") == []


def test_strong_imbalance_without_weights(g):
    target = torch.zeros(500, dtype=torch.long)
    target[:10] = 1
    logits = torch.randn(500, 2, generator=g)
    found = losskit.check(logits, target, loss=losskit.cross_entropy)
    assert _codes(found) == ["imbalance_without_weights"]
    assert "49.0 to 1" in found[0].message
    weighted = functools.partial(losskit.cross_entropy, weight=torch.tensor([1.0, 49.0]))
    assert losskit.check(logits, target, loss=weighted) == []
    y = (torch.arange(500) < 5).float()
    found = losskit.check(torch.randn(500, generator=g), y, loss=lnn.BCEWithLogitsLoss())
    assert _codes(found) == ["imbalance_without_weights"] and "1.00%" in found[0].message
    assert "tune_threshold" in found[0].message  # the advisor's answer for one rare class
    labels = torch.stack([y, 1 - y, (torch.arange(500) % 2).float()], dim=1)
    found = losskit.check(torch.randn(500, 3, generator=g), labels, loss=lnn.BCEWithLogitsLoss())
    assert "has 1.00%" in found[0].message and "pos_weight=losskit.imbalance.pos_weight" in found[0].message
    assert (
        losskit.check(torch.randn(500, generator=g), y, loss=lnn.BCEWithLogitsLoss(pos_weight=torch.tensor(99.0))) == []
    )


def test_label_smoothing_on_one_side_only(g):
    logits, target = torch.randn(8, 3, generator=g), torch.arange(8) % 3
    found = losskit.check(
        logits, target, loss=lnn.CrossEntropyLoss(label_smoothing=0.1), eval_loss=torch.nn.CrossEntropyLoss()
    )
    assert _codes(found) == ["train_eval_mismatch"]
    assert "label_smoothing is 0.1 in the training loss but 0.0" in found[0].message
    assert found[0].argument == "eval_loss"


def test_same_configuration_in_other_forms_is_not_a_mismatch(g):
    logits, target = torch.randn(8, 3, generator=g), torch.arange(8) % 3
    w = torch.tensor([1.0, 2.0, 3.0])
    train = lnn.CrossEntropyLoss(weight=w, label_smoothing=0.05)
    evaluation = functools.partial(losskit.cross_entropy, weight=w.clone(), label_smoothing=0.05)
    assert losskit.check(logits, target, loss=train, eval_loss=evaluation) == []
    found = losskit.check(logits, target, loss=train, eval_loss=lnn.FocalLoss())
    assert _codes(found) == ["train_eval_mismatch"] and "focal_loss" in found[0].message


def test_nonfinite_values(g):
    x = torch.randn(4, 3, generator=g)
    x[0, 0] = float("nan")
    assert _codes(losskit.check(x, torch.tensor([0, 1, 2, 0]))) == ["nonfinite"]


def test_strict_mode_raises_naming_the_argument(g):
    with pytest.raises(losskit.LossInputError, match=r"`target`.*class_index_out_of_range"):
        losskit.check(torch.randn(2, 3, generator=g), torch.tensor([0, 5]), strict=True)
    assert losskit.check(torch.randn(2, 3, generator=g), torch.tensor([0, 2]), strict=True) == []


def test_bad_loss_argument():
    with pytest.raises(losskit.LossInputError, match="`loss`"):
        losskit.check(torch.zeros(2), torch.zeros(2), loss=3)


# ----------------------------------------------------------------------- audit and process-wide state


def _globals():
    import random
    import warnings

    return {
        "threads": torch.get_num_threads(),
        "dtype": torch.get_default_dtype(),
        "rng": torch.get_rng_state(),
        "grad": torch.is_grad_enabled(),
        "validation": losskit.validation_enabled(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "anomaly": torch.is_anomaly_enabled(),
        "warnings": list(warnings.filters),
        "random": random.getstate(),
    }


def test_audit_restores_every_global_it_touches():
    from losskit.auditor import audit

    audit(losskit.mse_loss, task="regression")  # first use may import lazily (warning filters)
    before = _globals()
    threads = before["threads"]
    torch.set_num_threads(max(2, threads))
    try:
        before = _globals()
        for loss, task in ((losskit.cross_entropy, "multiclass"), (losskit.binary_focal_loss, "binary")):
            audit(loss, task=task)
        after = _globals()
    finally:
        torch.set_num_threads(threads)
    rng_before, rng_after = before.pop("rng"), after.pop("rng")
    assert after == before and torch.equal(rng_before, rng_after)


def test_loss_names_come_from_the_catalog():
    with pytest.raises(losskit.LossInputError, match="did you mean 'cross_entropy'"):
        losskit.check(torch.zeros(2, 3), torch.tensor([0, 1]), loss="cross_entropyy")
    from losskit.auditor.lint import loss_spec

    assert loss_spec("sigmoid_focal_loss").name == "binary_focal_loss"
    assert loss_spec(torch.nn.L1Loss()).family == "robust"
    assert loss_spec(losskit.nn.PinballLoss([0.5])).family == "quantile"
    assert loss_spec(lambda x, y: x).family == "unknown"  # a custom function is allowed
    assert loss_spec("nll_loss").family == "log_probability"
