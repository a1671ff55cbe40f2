"""Shared machinery: validation switch, reduction rule, item counts, imbalance helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

import losskit
from losskit import LossInputError
from losskit.imbalance import class_weights, pos_weight


def test_error_message_names_argument_expectation_and_value():
    with pytest.raises(LossInputError) as info:
        losskit.cross_entropy(torch.randn(3, 4), torch.tensor([0, 1, 9]))
    msg = str(info.value)
    assert "`target`" in msg and "[0, 3]" in msg and "9" in msg
    assert info.value.argument == "target"
    with pytest.raises(ValueError):  # a ValueError subclass
        losskit.mse_loss(torch.randn(3), torch.randn(4))


def test_value_checks_can_be_switched_off_but_cheap_checks_stay():
    x, bad = torch.randn(3, 4), torch.tensor([0, 1, 2])
    soft = torch.full((3, 4), 2.0)
    with pytest.raises(LossInputError):
        losskit.cross_entropy(x, soft)
    with losskit.validation(False):
        assert not losskit.validation_enabled()
        losskit.cross_entropy(x, soft)  # value check skipped
        with pytest.raises(LossInputError):  # metadata checks always run
            losskit.cross_entropy(x, bad[:2])
    assert losskit.validation_enabled()
    losskit.set_validation(False)
    try:
        losskit.binary_cross_entropy_with_logits(x, soft)
    finally:
        losskit.set_validation(True)


def test_unknown_reduction_and_non_tensor_target():
    with pytest.raises(LossInputError, match="`reduction`"):
        losskit.mse_loss(torch.randn(2), torch.randn(2), reduction="Mean")
    with pytest.raises(LossInputError, match="`target`"):
        losskit.cross_entropy(torch.randn(2, 3), [0, 1])
    with pytest.raises(LossInputError, match="`num_items`"):
        losskit.mse_loss(torch.randn(2), torch.randn(2), num_items=-1)


def test_target_requiring_grad_gets_its_gradient_rather_than_being_detached():
    # gamma = 0 is BCE: the target's gradient must be PyTorch's, not silently None
    x = torch.randn(3, dtype=torch.float64)
    y = torch.rand(3, dtype=torch.float64, requires_grad=True)
    losskit.binary_focal_loss(x, y, gamma=0.0).backward()
    y_ref = y.detach().clone().requires_grad_(True)
    torch.nn.functional.binary_cross_entropy_with_logits(x, y_ref).backward()
    torch.testing.assert_close(y.grad, y_ref.grad)


def test_count_items_rules():
    t = torch.tensor([0, 2, -100, 1, 2])
    assert losskit.count_items(t).item() == 4
    w = torch.tensor([1.0, 2.0, 0.5])
    assert losskit.count_items(t, weight=w).item() == pytest.approx(1 + 0.5 + 2 + 0.5)
    sw = torch.tensor([1.0, 1.0, 5.0, 2.0, 1.0])
    assert losskit.count_items(t, sample_weight=sw).item() == pytest.approx(5.0)
    assert losskit.count_items(torch.rand(4, 3)).item() == 12
    # count_items is exactly what "mean" divides by
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(
        losskit.cross_entropy(x, t, weight=w.double()) * losskit.count_items(t, weight=w).double(),
        losskit.cross_entropy(x, t, weight=w.double(), reduction="sum"),
    )


def test_all_reduce_num_items_without_process_group_is_identity():
    assert losskit.all_reduce_num_items(7).item() == 7.0
    assert losskit.all_reduce_num_items(torch.tensor(3.0), ddp_mean=False).item() == 3.0


def test_empty_regression_and_binary_batches_give_zero():
    for fn in (losskit.mse_loss, losskit.binary_cross_entropy_with_logits, losskit.binary_focal_loss):
        x = torch.zeros(0, 3, requires_grad=True)
        out = fn(x, torch.zeros(0, 3))
        assert out.item() == 0.0 and out.requires_grad


def test_class_weights_balanced_matches_sklearn():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 0, 1, 2, 2, 2, 2, 2])
    ref = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(class_weights(y).numpy(), ref, rtol=1e-6)


def test_class_weights_inverse_and_effective_number():
    y = [0] * 90 + [1] * 10
    inv = class_weights(y, method="inverse")
    assert inv.sum().item() == pytest.approx(2.0) and inv[1] / inv[0] == pytest.approx(9.0)
    beta = 0.99
    en = class_weights(y, method="effective_number", beta=beta)
    raw = np.array([(1 - beta) / (1 - beta**90), (1 - beta) / (1 - beta**10)])
    np.testing.assert_allclose(en.numpy(), raw * 2 / raw.sum(), rtol=1e-6)
    assert en.sum().item() == pytest.approx(2.0)


def test_class_weights_refuses_empty_class_and_bad_input():
    with pytest.raises(LossInputError, match="class"):
        class_weights([0, 0, 2], num_classes=3)
    with pytest.raises(LossInputError, match="`method`"):
        class_weights([0, 1], method="sqrt")
    with pytest.raises(LossInputError, match="`y`"):
        class_weights([0.5, 1.0])
    with pytest.raises(LossInputError, match="`y`"):
        class_weights([])


def test_pos_weight_binary_and_multilabel():
    assert pos_weight([0, 0, 0, 1]).item() == pytest.approx(3.0)
    y = torch.tensor([[1, 0], [0, 0], [0, 1], [1, 1], [0, 1]])
    torch.testing.assert_close(pos_weight(y), torch.tensor([1.5, 2 / 3]))
    with pytest.raises(LossInputError, match="only one"):
        pos_weight([[1, 0], [1, 1]])
    with pytest.raises(LossInputError, match="`y`"):
        pos_weight([0, 2])


def test_modules_move_buffers_and_save_state():
    m = losskit.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]), label_smoothing=0.1)
    assert "weight" in m.state_dict()
    assert "label_smoothing=0.1" in repr(m)
    m = m.double()
    x, t = torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(
        m(x, t), losskit.cross_entropy(x, t, weight=torch.tensor([1.0, 2.0]).double(), label_smoothing=0.1)
    )
    torch.testing.assert_close(
        m(x, t, num_items=8),
        losskit.cross_entropy(x, t, weight=torch.tensor([1.0, 2.0]).double(), label_smoothing=0.1, num_items=8),
    )
