"""Segmentation losses against segmentation_models_pytorch, MONAI and float64 formulas."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit
from losskit.functional import crf, distillation, multilabel, segmentation
from segmentation_oracles import lovasz_reference, monai_losses, smp_losses

TOL = {"atol": 1e-6, "rtol": 1e-6}
IGNORE = -100


def _multiclass(gen, n=3, c=4, h=5, w=6, ignore=True):
    x = 2 * torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    t = torch.randint(0, c, (n, h, w), generator=gen)
    if ignore:
        t[:, 0, :3] = IGNORE
    return x, t


def _multilabel(gen, n=3, c=2, h=5, w=6):
    x = 2 * torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    y = (torch.rand(n, c, h, w, generator=gen) > 0.6).double()
    return x, y


def _one_hot(t, c):
    valid = t != IGNORE
    y = F.one_hot(torch.where(valid, t, 0), c).movedim(-1, 1).double()
    return y * valid.unsqueeze(1), valid.unsqueeze(1).double()


def _pair_counts(p, y, valid):
    """Float64 TP, FP, FN per (image, class), written out."""
    dims = tuple(range(2, p.dim()))
    p = p * valid
    return (p * y).sum(dims), (p * (1 - y)).sum(dims), ((1 - p) * y * valid).sum(dims)


# --------------------------------------------------------------------------- MONAI


def test_dice_matches_monai_per_pair_and_mean(gen):
    x, t = _multiclass(gen, ignore=False)
    monai = monai_losses()
    kwargs = dict(softmax=True, to_onehot_y=True, smooth_nr=1e-5, smooth_dr=1e-5)
    ref = monai.DiceLoss(reduction="none", **kwargs)(x, t.unsqueeze(1)).flatten(1)
    ours = losskit.dice_loss(x, t, classes="all", smooth=1e-5, reduction="none")
    torch.testing.assert_close(ours, ref, **TOL)
    torch.testing.assert_close(
        losskit.dice_loss(x, t, classes="all", smooth=1e-5), monai.DiceLoss(**kwargs)(x, t.unsqueeze(1)), **TOL
    )
    # the gradient too
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    losskit.dice_loss(xa, t, classes="all", smooth=1e-5).backward()
    monai.DiceLoss(**kwargs)(xb, t.unsqueeze(1)).backward()
    torch.testing.assert_close(xa.grad, xb.grad, **TOL)


def test_dice_whole_batch_matches_monai_batch(gen):
    x, t = _multiclass(gen, ignore=False)
    ref = monai_losses().DiceLoss(softmax=True, to_onehot_y=True, batch=True, smooth_nr=0.5, smooth_dr=0.5)
    ours = losskit.dice_loss(x, t, batch=True, classes="all", smooth=0.5)
    torch.testing.assert_close(ours, ref(x, t.unsqueeze(1)), **TOL)


def test_multilabel_dice_and_tversky_match_monai_sigmoid(gen):
    x, y = _multilabel(gen)
    monai = monai_losses()
    ref = monai.DiceLoss(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5, reduction="none")(x, y).flatten(1)
    torch.testing.assert_close(losskit.dice_loss(x, y, classes="all", smooth=1e-5, reduction="none"), ref, **TOL)
    ref = monai.TverskyLoss(sigmoid=True, alpha=0.2, beta=0.8, smooth_nr=1e-5, smooth_dr=1e-5, reduction="none")
    ours = losskit.tversky_loss(x, y, alpha=0.2, beta=0.8, classes="all", smooth=1e-5, reduction="none")
    torch.testing.assert_close(ours, ref(x, y).flatten(1), **TOL)


def test_tversky_matches_monai_multiclass(gen):
    x, t = _multiclass(gen, ignore=False)
    ref = monai_losses().TverskyLoss(
        softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7, smooth_nr=1e-5, smooth_dr=1e-5, reduction="none"
    )
    ours = losskit.tversky_loss(x, t, alpha=0.3, beta=0.7, classes="all", smooth=1e-5, reduction="none")
    torch.testing.assert_close(ours, ref(x, t.unsqueeze(1)).flatten(1), **TOL)


def test_dice_ce_matches_monai(gen):
    x, t = _multiclass(gen, ignore=False)
    monai = monai_losses()
    ref = monai.DiceCELoss(softmax=True, to_onehot_y=True, smooth_nr=1e-5, smooth_dr=1e-5, lambda_dice=0.7)
    ours = losskit.dice_ce_loss(x, t, classes="all", smooth=1e-5, lambda_dice=0.7)
    torch.testing.assert_close(ours, ref(x, t.unsqueeze(1)), **TOL)
    x, y = _multilabel(gen, c=1)  # MONAI takes BCE for one channel (softmax CE on soft targets above)
    ref = monai.DiceCELoss(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5, lambda_ce=2.0)
    torch.testing.assert_close(losskit.dice_ce_loss(x, y, classes="all", smooth=1e-5, lambda_ce=2.0), ref(x, y), **TOL)


# --------------------------------------------------------------------------- segmentation_models_pytorch


def test_dice_whole_batch_matches_smp_with_ignored_pixels_and_absent_class(gen):
    x, t = _multiclass(gen)
    t[t == 3] = 0  # class 3 absent from the whole batch
    smp = smp_losses()
    ref = smp.DiceLoss("multiclass", ignore_index=IGNORE, eps=1e-300)(x, t)
    # smp counts the absent class as 0 and still divides by it: its mean is our sum / C
    ours = losskit.dice_loss(x, t, batch=True, reduction="sum") / 4
    torch.testing.assert_close(ours, ref, **TOL)
    # on the present classes both means agree exactly when every class is present
    x, t = _multiclass(gen)
    torch.testing.assert_close(
        losskit.dice_loss(x, t, batch=True), smp.DiceLoss("multiclass", ignore_index=IGNORE, eps=1e-300)(x, t), **TOL
    )


def test_weighted_dice_matches_smp_class_weights(gen):
    """smp smooths (TP + s) / (TP + FP/2 + FN/2 + s): its ``smooth=s`` is our ``smooth=2s``."""
    x, t = _multiclass(gen)
    w = [1.0, 2.0, 0.5, 3.0]
    ref = smp_losses().DiceLoss("multiclass", ignore_index=IGNORE, class_weights=w, smooth=1.0, eps=1e-300)(x, t)
    ours = losskit.dice_loss(x, t, batch=True, weight=torch.tensor(w, dtype=torch.float64), smooth=2.0)
    torch.testing.assert_close(ours, ref, **TOL)


def test_multilabel_dice_matches_smp(gen):
    x, y = _multilabel(gen)
    ref = smp_losses().DiceLoss("multilabel", eps=1e-300)(x, y)
    torch.testing.assert_close(losskit.dice_loss(x, y, batch=True), ref, **TOL)


def test_binary_focal_tversky_matches_smp_on_one_pair(gen):
    x, y = _multilabel(gen, c=1)
    ref = smp_losses().TverskyLoss("binary", alpha=0.3, beta=0.7, gamma=0.75, eps=1e-300)(x, y)
    torch.testing.assert_close(losskit.focal_tversky_loss(x, y, batch=True), ref, **TOL)


def test_lovasz_matches_smp_in_float32(gen):
    """smp's Lovasz computes its Jaccard increments in float32, so it is compared in float32."""
    x, t = _multiclass(gen)
    smp = smp_losses()
    ref = smp.LovaszLoss("multiclass", ignore_index=IGNORE, per_image=False)(x.float(), t)
    torch.testing.assert_close(losskit.lovasz_softmax_loss(x.float(), t, batch=True), ref, atol=1e-5, rtol=1e-5)
    xb, yb = _multilabel(gen, c=1)
    for per_image in (True, False):
        ref = smp.LovaszLoss("binary", per_image=per_image)(xb.float(), yb.float())
        ours = losskit.lovasz_hinge_loss(xb.float(), yb.float(), batch=not per_image)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- float64 formulas


def test_focal_tversky_matches_float64_formula(gen):
    x, t = _multiclass(gen)
    y, valid = _one_hot(t, 4)
    tp, fp, fn = _pair_counts(torch.softmax(x, 1), y, valid)
    ti = (tp + 0.1) / (tp + 0.4 * fp + 0.6 * fn + 0.1)
    ref = (1 - ti) ** 1.5 * (y.sum((2, 3)) > 0)
    ours = losskit.focal_tversky_loss(x, t, alpha=0.4, beta=0.6, gamma=1.5, smooth=0.1, reduction="none")
    torch.testing.assert_close(ours, ref, **TOL)


def test_dice_per_image_present_mean_matches_float64_formula(gen):
    x, t = _multiclass(gen)
    y, valid = _one_hot(t, 4)
    tp, fp, fn = _pair_counts(torch.softmax(x, 1), y, valid)
    dice = 1 - 2 * tp / (2 * tp + fp + fn)
    present = y.sum((2, 3)) > 0
    torch.testing.assert_close(losskit.dice_loss(x, t), dice[present].mean(), **TOL)


def test_lovasz_softmax_matches_algorithm_per_pair(gen):
    x, t = _multiclass(gen)
    p = torch.softmax(x, 1)
    ours = losskit.lovasz_softmax_loss(x, t, reduction="none")
    for n in range(x.shape[0]):
        keep = (t[n] != IGNORE).flatten()
        for c in range(4):
            fg = (t[n] == c).flatten()[keep].double()
            ref = lovasz_reference((fg - p[n, c].flatten()[keep]).abs(), fg) if fg.sum() else torch.tensor(0.0)
            torch.testing.assert_close(ours[n, c], ref.double(), **TOL)


def test_lovasz_hinge_matches_algorithm_per_pair(gen):
    x, y = _multilabel(gen)
    y[0, 0, 0] = IGNORE
    ours = losskit.lovasz_hinge_loss(x, y, reduction="none")
    for n in range(x.shape[0]):
        for c in range(2):
            keep = (y[n, c] != IGNORE).flatten()
            fg, logit = y[n, c].flatten()[keep], x[n, c].flatten()[keep]
            ref = lovasz_reference(torch.relu(1 - logit * (2 * fg - 1)), fg)
            torch.testing.assert_close(ours[n, c], ref, **TOL)


# --------------------------------------------------------------------------- edge cases

_REGION = [losskit.dice_loss, losskit.tversky_loss, losskit.focal_tversky_loss, losskit.lovasz_softmax_loss]
_ALL_LOSSES = [*_REGION, losskit.dice_ce_loss]


@pytest.mark.parametrize("fn", _REGION, ids=lambda f: f.__name__)
def test_class_absent_from_prediction_and_target(fn):
    """Class 2 is never the target and its logit is -1e4 (probability exactly 0 in float64)."""
    x = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    x[:, 2] = -1e4
    x[:, 0, 0] = 5.0
    t = torch.tensor([[[0, 0], [1, 1]]])
    x.requires_grad_()
    none_all = fn(x, t, classes="all", reduction="none")
    assert none_all[0, 2].item() == 0.0  # 0 / 0 defined as perfect agreement: loss 0, not NaN
    present = fn(x, t)  # class 2 excluded: the mean of classes 0 and 1
    torch.testing.assert_close(present, none_all[0, :2].mean())
    present.backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(fn(x, t, classes="all"), none_all.mean())


@pytest.mark.parametrize("fn", _ALL_LOSSES, ids=lambda f: f.__name__)
def test_all_ignored_image_does_not_count(fn, gen):
    x, t = _multiclass(gen)
    t[1] = IGNORE
    xg = x.clone().requires_grad_()
    out = fn(xg, t)
    keep = torch.tensor([0, 2])
    torch.testing.assert_close(out, fn(x[keep], t[keep]), **TOL)
    out.backward()
    assert (xg.grad[1] == 0).all() and torch.isfinite(xg.grad).all()


@pytest.mark.parametrize("fn", [*_ALL_LOSSES, losskit.lovasz_hinge_loss], ids=lambda f: f.__name__)
def test_everything_ignored_or_empty_batch_is_zero_and_connected(fn, gen):
    x, y = _multilabel(gen)
    target = torch.full_like(y, IGNORE) if fn is losskit.lovasz_hinge_loss else torch.full((3, 5, 6), IGNORE)
    for inp, tgt in ((x, target), (x[:0], target[:0])):
        inp = inp.clone().requires_grad_()
        if fn is not losskit.lovasz_hinge_loss:
            inp = inp.new_zeros(inp.shape[0], 4, 5, 6).requires_grad_()
        out = fn(inp, tgt)
        assert out.item() == 0.0 and out.requires_grad
        (grad,) = torch.autograd.grad(out, inp)
        assert (grad == 0).all()


def test_ignored_pixels_are_excluded_from_every_sum(gen):
    """Changing logits at ignored pixels changes nothing (smp #852 style leakage would)."""
    x, t = _multiclass(gen)
    x2 = x.clone()
    x2[:, :, 0, :3] = 50 * torch.randn(3, 4, 3, generator=gen, dtype=torch.float64)
    for fn in _ALL_LOSSES:
        torch.testing.assert_close(fn(x, t), fn(x2, t), **TOL)


@pytest.mark.parametrize("fn", _ALL_LOSSES, ids=lambda f: f.__name__)
def test_fp16_masks_at_512x512(fn, gen):
    x = torch.randn(2, 3, 512, 512, generator=gen).half()
    t = torch.randint(0, 3, (2, 512, 512), generator=gen)
    t[0, :10] = IGNORE
    xh = x.clone().requires_grad_()
    out = fn(xh, t)
    assert out.dtype == torch.float16 and torch.isfinite(out)
    torch.testing.assert_close(out.float(), fn(x.float(), t), atol=2e-3, rtol=2e-3)
    out.backward()
    assert torch.isfinite(xh.grad).all()


def test_binary_mask_with_class_indices_is_refused():
    with pytest.raises(losskit.LossInputError, match="`input`"):
        losskit.dice_loss(torch.randn(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))


def test_module_with_class_weights_matches_functional(gen):
    x, t = _multiclass(gen)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    module = losskit.nn.DiceLoss(weight=w, classes="all", smooth=1.0)
    assert "weight" in dict(module.named_buffers())
    torch.testing.assert_close(module(x, t), losskit.dice_loss(x, t, weight=w, classes="all", smooth=1.0))


@pytest.mark.parametrize("module", [segmentation, multilabel, distillation, crf], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_dice_ce_is_dice_plus_cross_entropy_with_weights_and_ignored_pixels(gen):
    x, t = _multiclass(gen)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    ours = losskit.dice_ce_loss(x, t, weight=w, lambda_dice=0.3, lambda_ce=1.7)
    ref = 0.3 * losskit.dice_loss(x, t, weight=w) + 1.7 * F.cross_entropy(x, t, weight=w, ignore_index=IGNORE)
    torch.testing.assert_close(ours, ref, **TOL)
    xm, y = _multilabel(gen)
    y[0, 0, 0] = IGNORE
    keep = y != IGNORE
    ref = losskit.dice_loss(xm, y) + F.binary_cross_entropy_with_logits(xm[keep], y[keep])
    torch.testing.assert_close(losskit.dice_ce_loss(xm, y), ref, **TOL)


def test_dice_ce_sum_and_refused_none(gen):
    x, t = _multiclass(gen)
    ref = losskit.dice_loss(x, t, reduction="sum") + F.cross_entropy(x, t, ignore_index=IGNORE, reduction="sum")
    torch.testing.assert_close(losskit.dice_ce_loss(x, t, reduction="sum"), ref, **TOL)
    with pytest.raises(losskit.LossInputError, match="`reduction`"):
        losskit.dice_ce_loss(x, t, reduction="none")


def test_advisor_recommends_dice_ce_for_masks_and_builds_it(gen):
    masks = torch.randint(0, 3, (4, 8, 8), generator=gen).numpy()
    masks[0, 0, :2] = -1
    advice = losskit.advise(masks, task="segmentation")
    assert advice.loss == "dice_ce_loss" and advice.row == "segmentation_dice_ce"
    assert {a.name for a in advice.alternatives} == {"focal_tversky_loss", "lovasz_softmax_loss"}
    assert any("ignore_index" in w for w in advice.warnings)
    module = advice.build()
    target = torch.as_tensor(masks).clamp_min(0)
    assert torch.isfinite(module(torch.randn(4, 3, 8, 8), target))
    with pytest.raises(losskit.LossInputError, match="`y`"):
        losskit.advise(np.zeros((4, 8)), task="segmentation")
