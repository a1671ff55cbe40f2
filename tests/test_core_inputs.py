"""The shared input rules, each with the reproducer that broke it.

One rule each, in ``_validation`` / ``_reduction``: integer targets (every integer dtype, read as
int64), sample and class weights (non-negative), ``num_items`` (finite, >= 0; numpy scalars
accepted), ``label_smoothing`` in [0, 1), ``ignore_index`` an integer or None, tensors on the
input's device, meta tensors shape-checked without reading values, and the validation switch
per thread.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit
from losskit import LossInputError

f64 = torch.float64


def _raises(argument, fn, *args, **kwargs):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        fn(*args, **kwargs)


# ----------------------------------------------------------------------- item 1: smoothing


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.float32])
def test_binary_focal_smoothing_applies_to_integer_and_bool_targets(dtype):
    x, y = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 0, 1]).to(dtype)
    expected = losskit.binary_cross_entropy_with_logits(x, y.float(), label_smoothing=0.1)
    assert expected.item() == pytest.approx(0.3631, abs=1e-4)  # the number (0.3291 was the bug)
    torch.testing.assert_close(losskit.binary_focal_loss(x, y, gamma=0.0, label_smoothing=0.1), expected)
    module = losskit.nn.BinaryFocalLoss(gamma=0.0, label_smoothing=0.1)
    torch.testing.assert_close(module(x, y), expected)
    # and with gamma > 0: the soft-target formula on the smoothed targets
    smoothed = y.float() * 0.9 + 0.05
    torch.testing.assert_close(
        losskit.binary_focal_loss(x, y, gamma=2.0, label_smoothing=0.1), losskit.binary_focal_loss(x, smoothed)
    )


def test_binary_focal_reads_no_target_values_with_validation_off(monkeypatch):
    x, y = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])
    expected = losskit.binary_focal_loss(x, y)

    def no_read(*args, **kwargs):
        raise AssertionError("a target value was read")

    with losskit.validation(False):
        monkeypatch.setattr(torch.Tensor, "all", no_read)
        monkeypatch.setattr(torch.Tensor, "__bool__", no_read)
        out = losskit.binary_focal_loss(x, y)
    monkeypatch.undo()
    torch.testing.assert_close(out, expected)


# ----------------------------------------------------------------------- item 3: integer targets


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_every_integer_target_dtype_is_read_as_class_indices(dtype):
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(6, 4, generator=g, dtype=f64), torch.tensor([0, 3, 1, 2, 1, 0])
    for fn in (losskit.cross_entropy, losskit.focal_loss):
        torch.testing.assert_close(fn(x, t.to(dtype)), fn(x, t))
    torch.testing.assert_close(losskit.cross_entropy(x, t.to(dtype)), F.cross_entropy(x, t))
    emb, centers = torch.randn(6, 5, generator=g, dtype=f64), torch.randn(4, 5, generator=g, dtype=f64)
    for fn in (losskit.arcface_loss, losskit.cosface_loss):  # uint8 was read as a boolean mask (34.87 vs 57.19)
        torch.testing.assert_close(fn(emb, centers, t.to(dtype), scale=8.0), fn(emb, centers, t, scale=8.0))
    torch.testing.assert_close(losskit.triplet_loss(emb, t.to(dtype)), losskit.triplet_loss(emb, t))


@pytest.mark.parametrize("bad", [torch.tensor([0.0, 1.0]), torch.tensor([True, False])])
def test_non_integer_class_targets_are_refused(bad):
    _raises("target", losskit.arcface_loss, torch.randn(2, 3), torch.randn(2, 3), bad)
    _raises("target", losskit.triplet_loss, torch.randn(2, 3), bad)


# ----------------------------------------------------------------------- item 4: weights, num_items


@pytest.mark.parametrize(
    "call",
    [
        lambda w: losskit.mse_loss(torch.zeros(2), torch.tensor([2.0, 2.0]), weight=w),
        lambda w: losskit.log_cosh_loss(torch.zeros(2), torch.ones(2), weight=w),
        lambda w: losskit.pinball_loss(torch.zeros(2, 1), torch.ones(2), [0.5], weight=w),
        lambda w: losskit.binary_cross_entropy_with_logits(torch.zeros(2), torch.ones(2), weight=w),
        lambda w: losskit.binary_focal_loss(torch.zeros(2), torch.ones(2), weight=w),
        lambda w: losskit.binary_focal_loss(torch.zeros(2), torch.ones(2), pos_weight=w),
        lambda w: losskit.cross_entropy(torch.zeros(2, 2), torch.tensor([0, 1]), sample_weight=w),
        lambda w: losskit.cross_entropy(torch.zeros(2, 2), torch.tensor([0, 1]), weight=w),
        lambda w: losskit.focal_loss(torch.zeros(2, 2), torch.tensor([0, 1]), weight=w),
    ],
)
def test_negative_or_nan_weights_are_refused_everywhere(call):
    with pytest.raises(LossInputError, match="weight"):  # mse_loss(weight=[1, -1]) returned -8
        call(torch.tensor([1.0, -1.0]))
    with pytest.raises(LossInputError, match="weight"):
        call(torch.tensor([1.0, float("nan")]))
    with losskit.validation(False):  # a value check: off means not read
        call(torch.tensor([1.0, -1.0]))


def test_count_items_follows_the_weight_rule():
    t = torch.tensor([0, 1])
    _raises("sample_weight", losskit.count_items, t, sample_weight=torch.tensor([1.0, -3.0]))  # counted -2
    _raises("weight", losskit.count_items, t, weight=torch.tensor([1.0, float("nan")]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, -0.5, torch.tensor(-5.0), torch.tensor(float("nan"))])
def test_num_items_nan_negative_infinite_refused(bad):
    _raises("num_items", losskit.mse_loss, torch.zeros(2), torch.ones(2), num_items=bad)


def test_num_items_zero_only_when_nothing_counts():
    _raises("num_items", losskit.mse_loss, torch.zeros(2), torch.ones(2), num_items=0)  # returned the sum
    x = torch.zeros(2, 3, requires_grad=True)
    out = losskit.cross_entropy(x, torch.tensor([-100, -100]), num_items=0)  # every micro-batch ignored
    assert out.item() == 0.0
    out.backward()
    assert bool((x.grad == 0).all())


@pytest.mark.parametrize("count", [np.int64(4), np.int32(4), np.float32(4.0), 4, 4.0, torch.tensor(4)])
def test_num_items_accepts_numpy_scalars(count):
    out = losskit.mse_loss(torch.zeros(2), torch.ones(2), num_items=count)
    assert out.item() == pytest.approx(0.5)


# ----------------------------------------------------------------------- label smoothing, ignore_index


@pytest.mark.parametrize("eps", [1.0, -0.1, 1.5, float("nan"), "0.1"])
def test_one_label_smoothing_range(eps):
    x, t = torch.zeros(2, 3), torch.tensor([0, 1])
    for fn in (losskit.cross_entropy, losskit.focal_loss):
        _raises("label_smoothing", fn, x, t, label_smoothing=eps)
    for fn in (losskit.binary_cross_entropy_with_logits, losskit.binary_focal_loss):
        _raises("label_smoothing", fn, x, torch.ones(2, 3), label_smoothing=eps)
    _raises("label_smoothing", losskit._validation.check_label_smoothing, eps)


def test_ignore_index_none_ignores_nothing_and_bad_values_are_refused():
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(5, 3, generator=g, dtype=f64), torch.tensor([0, 2, 1, 1, 0])
    torch.testing.assert_close(losskit.cross_entropy(x, t, ignore_index=None), F.cross_entropy(x, t))
    torch.testing.assert_close(losskit.focal_loss(x, t, gamma=0.0, ignore_index=None), F.cross_entropy(x, t))
    _raises("target", losskit.cross_entropy, x, torch.tensor([0, 2, 1, 1, -100]), ignore_index=None)
    torch.testing.assert_close(
        losskit.cross_entropy(x, t, ignore_index=np.int64(2)), F.cross_entropy(x, t, ignore_index=2)
    )
    for bad in ("x", 1.5, True):
        _raises("ignore_index", losskit.cross_entropy, x, t, ignore_index=bad)


# ----------------------------------------------------------------------- item 10: raw exceptions


def test_string_options_are_refused_by_name():
    x, t = torch.zeros(2, 3), torch.tensor([0, 1])
    _raises("alpha", losskit.focal_loss, x, t, alpha="abc")
    _raises("alpha", losskit.binary_focal_loss, x, torch.ones(2, 3), alpha="abc")
    _raises("quantiles", losskit.pinball_loss, torch.zeros(2, 1), torch.zeros(2), "0.5")
    _raises("quantiles", losskit.pinball_loss, torch.zeros(2, 2), torch.zeros(2), ["0.1", "0.5"])


def test_tensors_on_another_device_are_refused():
    # The meta device stands in for a second device (no GPU needed).
    cpu, meta = torch.zeros(2, 3), torch.zeros(2, 3, device="meta")
    _raises("target", losskit.mse_loss, cpu, meta)
    _raises("target", losskit.binary_cross_entropy_with_logits, cpu, meta)
    _raises("target", losskit.cross_entropy, cpu, torch.tensor([0, 1], device="meta"))
    _raises("weight", losskit.mse_loss, cpu, cpu, weight=meta)
    _raises("sample_weight", losskit.cross_entropy, cpu, torch.tensor([0, 1]), sample_weight=meta[:, 0])
    _raises("weight", losskit.cross_entropy, cpu, torch.tensor([0, 1]), weight=meta[0])
    _raises("pos_weight", losskit.binary_focal_loss, cpu, cpu, pos_weight=meta[0])
    _raises("centers", losskit.arcface_loss, cpu, meta, torch.tensor([0, 1]))
    _raises("target", losskit.triplet_loss, cpu, torch.tensor([0, 1], device="meta"))


@pytest.mark.parametrize(
    "call",
    [
        lambda d: losskit.mse_loss(
            torch.zeros(4, 3, device=d), torch.ones(4, 3, device=d), weight=torch.ones(3, device=d)
        ),
        lambda d: losskit.pinball_loss(
            torch.zeros(4, 2, device=d), torch.zeros(4, device=d), torch.tensor([0.2, 0.7], device=d)
        ),
        lambda d: losskit.cross_entropy(torch.zeros(4, 3, device=d), torch.zeros(4, dtype=torch.long, device=d)),
        lambda d: losskit.focal_loss(torch.zeros(4, 3, device=d), torch.zeros(4, dtype=torch.long, device=d)),
        lambda d: losskit.binary_focal_loss(torch.zeros(4, device=d), torch.ones(4, device=d)),
        lambda d: losskit.binary_cross_entropy_with_logits(torch.zeros(4, device=d), torch.ones(4, device=d)),
        lambda d: losskit.mse_loss(
            torch.zeros(4, device=d), torch.ones(4, device=d), num_items=torch.tensor(3.0, device=d)
        ),
    ],
)
def test_meta_tensors_give_meta_results(call):
    """Shape inference on the meta device: value checks step aside (there are no values)."""
    out = call("meta")
    assert out.is_meta and out.shape == call("cpu").shape


def test_fp16_results_keep_the_input_dtype_like_pytorch():
    """Decision: results come back in the input's dtype (PyTorch's rule), so a float16 result above
    65504 is inf, exactly as torch's own loss gives; pass float32 input to avoid it. The
    computation itself runs in float32: only the final cast overflows."""
    x, y = torch.full((4,), 300.0, dtype=torch.float16), torch.zeros(4, dtype=torch.float16)
    for reduction in ("sum", "mean"):
        ours, theirs = losskit.mse_loss(x, y, reduction=reduction), F.mse_loss(x, y, reduction=reduction)
        assert ours.dtype == theirs.dtype == torch.float16
        assert torch.isinf(ours) and torch.isinf(theirs)
    assert losskit.mse_loss(x.float(), y.float(), reduction="sum").item() == 360000.0
    small = torch.full((4,), 200.0, dtype=torch.float16)  # 40000 per element: finite in float16
    assert losskit.mse_loss(small, y).item() == 40000.0


# ----------------------------------------------------------------------- validation per thread


def test_validation_switch_is_per_thread():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def switched_off():
        with losskit.validation(False):
            inside.set()
            release.wait(10)
            seen["own"] = losskit.validation_enabled()

    def other():
        inside.wait(10)
        seen["other"] = losskit.validation_enabled()
        try:
            losskit.mse_loss(torch.zeros(2), torch.ones(2), weight=torch.tensor([1.0, -1.0]))
            seen["checked"] = False
        except LossInputError:
            seen["checked"] = True
        release.set()

    threads = [threading.Thread(target=switched_off), threading.Thread(target=other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"own": False, "other": True, "checked": True}
    assert losskit.validation_enabled()


def test_set_validation_affects_only_the_calling_thread():
    seen = []
    losskit.set_validation(False)
    try:
        thread = threading.Thread(target=lambda: seen.append(losskit.validation_enabled()))
        thread.start()
        thread.join(10)
        assert seen == [True] and not losskit.validation_enabled()
    finally:
        losskit.set_validation(True)
