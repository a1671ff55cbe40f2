"""The loss audit: planted bugs are caught, each by its own check; every losskit loss passes."""

from __future__ import annotations

import functools
import json

import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import nn as lnn
from losskit.auditor import AuditReport


def _status(report: AuditReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


# ---------------------------------------------------------------------------------------
# Planted bugs
# ---------------------------------------------------------------------------------------


def sum_then_divide_twice(input, target):
    """BCE summed over the batch, then divided by the batch size twice."""
    n = input.shape[0]
    return TF.binary_cross_entropy_with_logits(input, target, reduction="sum") / n / n


def naive_focal(input, target, gamma=0.5):
    """The textbook focal loss through probabilities: (1 - p_t)^gamma has an infinite slope at p_t = 1."""
    p = torch.sigmoid(input)
    p_t = torch.where(target == 1, p, 1 - p)
    ce = TF.binary_cross_entropy_with_logits(input, target, reduction="none")
    return (ce * (1 - p_t) ** gamma).mean()


def bce_on_probabilities(input, target):
    """Binary cross-entropy on probabilities with no clamp: log(0) at saturated probabilities."""
    return -(target * torch.log(input) + (1 - target) * torch.log(1 - input)).mean()


def ce_nan_when_all_ignored(input, target, ignore_index=-100):
    """Cross-entropy divided by the count of valid targets: 0 / 0 when none is valid."""
    total = TF.cross_entropy(input, target, ignore_index=ignore_index, reduction="sum")
    return total / (target != ignore_index).sum()


def test_double_averaging_fails_batch_split():
    report = losskit.audit(sum_then_divide_twice, task="binary")
    status = _status(report)
    assert status["batch_split"] == "fail"
    assert "averaged twice" in report["batch_split"].detail
    assert status["standard"] == "pass" and status["gradcheck"] == "pass"  # the bug hides from value checks
    assert not report.passed


def test_naive_focal_gamma_half_fails_on_confident_logits():
    report = losskit.audit(naive_focal, task="binary")
    status = _status(report)
    assert status["extreme_logits"] == "fail"
    assert "NaN or inf" in report["extreme_logits"].detail
    assert status["standard"] == "pass"
    # The same check passes losskit's log-space focal loss at the same gamma.
    fixed = losskit.audit(functools.partial(losskit.binary_focal_loss, gamma=0.5), task="binary")
    assert fixed["extreme_logits"].status == "pass"


def test_bce_on_probabilities_takes_log_of_zero():
    report = losskit.audit(bce_on_probabilities, task="binary", input_kind="probabilities")
    assert report["extreme_logits"].status == "fail"
    assert "loss is nan" in report["extreme_logits"].detail or "inf" in report["extreme_logits"].detail
    assert report["input_kind"].status == "pass"  # it does take probabilities, as declared


def test_bce_on_probabilities_is_detected_when_logits_are_expected():
    report = losskit.audit(bce_on_probabilities, task="binary")
    assert report["input_kind"].status == "fail"
    assert report.input_kind == "probabilities"
    assert "takes probabilities" in report["input_kind"].detail


def test_cross_entropy_nan_when_every_target_is_ignored():
    report = losskit.audit(ce_nan_when_all_ignored, task="multiclass")
    status = _status(report)
    assert status["all_ignored"] == "fail"
    assert "nan" in report["all_ignored"].detail
    assert status["standard"] == "pass" and status["batch_split"] == "pass"


def test_torch_cross_entropy_is_nan_on_an_all_ignored_batch():
    # Documented PyTorch behaviour (pytorch #70348); the audit reports it.
    assert losskit.audit(TF.cross_entropy, task="multiclass")["all_ignored"].status == "fail"


def test_reduction_mean_that_is_not_sum_over_count_fails():
    def bad_mean(input, target, reduction="mean"):
        per = (input - target) ** 2
        if reduction == "none":
            return per
        return per.sum() if reduction == "sum" else per.sum() / (per.numel() + 1)

    report = losskit.audit(bad_mean, task="regression")
    assert report["reduction"].status == "fail"
    assert "not / 9" in report["reduction"].detail


def test_loss_that_detaches_fails_standard():
    report = losskit.audit(lambda x, y: TF.mse_loss(x.detach(), y), task="regression")
    assert report["standard"].status == "fail"
    assert "not connected" in report["standard"].detail


# ---------------------------------------------------------------------------------------
# Every losskit loss passes
# ---------------------------------------------------------------------------------------

CORE = [
    (losskit.mse_loss, "regression"),
    (losskit.mae_loss, "regression"),
    (losskit.huber_loss, "regression"),
    (losskit.smooth_l1_loss, "regression"),
    (losskit.log_cosh_loss, "regression"),
    (functools.partial(losskit.pinball_loss, quantiles=[0.1, 0.5, 0.9]), "quantile"),
    (losskit.binary_cross_entropy_with_logits, "binary"),
    (losskit.binary_cross_entropy_with_logits, "multilabel"),
    (functools.partial(losskit.binary_cross_entropy_with_logits, label_smoothing=0.1), "binary"),
    (losskit.binary_focal_loss, "binary"),
    (functools.partial(losskit.binary_focal_loss, gamma=0.5, alpha=0.25), "multilabel"),
    (losskit.cross_entropy, "multiclass"),
    (functools.partial(losskit.cross_entropy, label_smoothing=0.1), "multiclass"),
    (losskit.focal_loss, "multiclass"),
    (functools.partial(losskit.focal_loss, gamma=0.5), "multiclass"),
    (lnn.MSELoss(), "regression"),
    (lnn.HuberLoss(delta=0.5), "regression"),
    (lnn.PinballLoss([0.2, 0.8]), "quantile"),
    (lnn.BCEWithLogitsLoss(), "binary"),
    (lnn.CrossEntropyLoss(), "multiclass"),
    (lnn.FocalLoss(gamma=1.0), "multiclass"),
    (lnn.BinaryFocalLoss(), "multilabel"),
]


@pytest.mark.parametrize(("loss", "task"), CORE, ids=[f"{losskit.auditor.checks._name(f)}-{t}" for f, t in CORE])
def test_losskit_losses_pass_every_check(loss, task):
    num = 2 if isinstance(loss, lnn.PinballLoss) else None
    report = losskit.audit(loss, task=task, num_classes=num)
    assert report.passed, str(report)
    ran = [c for c in report.checks if c.status != "skipped"]
    assert len(ran) >= 9  # the edge batches, gradcheck, reduction and batch split all ran


# ---------------------------------------------------------------------------------------
# The report and the arguments
# ---------------------------------------------------------------------------------------


def test_report_serialises_and_prints():
    from rich.console import Console

    report = losskit.audit(naive_focal, task="binary")
    data = json.loads(report.to_json())
    assert data["passed"] is False and data["task"] == "binary"
    assert {c["name"] for c in data["checks"]} >= {"empty_batch", "float16", "bfloat16", "gradcheck", "batch_split"}
    assert all(c["status"] in ("pass", "fail", "skipped") and c["detail"] for c in data["checks"])
    console = Console(record=True, width=160)
    console.print(report)
    text = console.export_text()
    assert "extreme_logits" in text and "fail" in text
    assert str(report).splitlines()[0].endswith("FAILED")


def test_module_reduction_is_set_on_a_copy():
    module = torch.nn.MSELoss()
    report = losskit.audit(module, task="regression")
    assert report["reduction"].status == "pass"
    assert module.reduction == "mean"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"task": "segmentation"}, "task"),
        ({"task": "regression", "input_kind": "probabilities"}, "input_kind"),
        ({"task": "binary", "input_kind": "probs"}, "input_kind"),
        ({"task": "multiclass", "num_classes": 1}, "num_classes"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(losskit.LossInputError, match=f"`{argument}`"):
        losskit.audit(losskit.mse_loss, **kwargs)
