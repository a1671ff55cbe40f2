"""Tests for losskit.ctc_loss beyond the registry suites: parity with torch, a brute-force
reference, the gradient with respect to log-probabilities, autocast, and validation."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losskit
from losskit import LossInputError, ctc_loss


def _batch(gen, t=12, n=5, c=6, s=4, blank=0, dtype=torch.float64):
    """Logits (T, N, C), padded targets with repeats, uneven lengths (one empty target)."""
    logits = 2 * torch.randn(t, n, c, generator=gen, dtype=torch.float64).to(dtype)
    labels = [k for k in range(c) if k != blank]
    targets = torch.tensor(labels)[torch.randint(0, len(labels), (n, s), generator=gen)]
    targets[0, 1] = targets[0, 0]  # a repeated label
    target_lengths = torch.tensor([s, s - 1, 0, 2, s])[:n]
    input_lengths = torch.tensor([t, t - 2, t - 3, t, t - 4])[:n]
    return logits, targets, input_lengths, target_lengths


def _concatenate(targets, target_lengths):
    return torch.cat([row[:length] for row, length in zip(targets, target_lengths, strict=True)])


# --- parity with torch ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("blank", [0, 5])
def test_matches_torch_value_and_logit_gradient(reduction: str, layout: str, blank: int, gen) -> None:
    logits, targets, il, tl = _batch(gen, blank=blank)
    if layout == "concatenated":
        targets = _concatenate(targets, tl)
    logits.requires_grad_(True)
    ours = ctc_loss(logits.log_softmax(-1), targets, il, tl, blank=blank, reduction=reduction)
    ref = F.ctc_loss(logits.log_softmax(-1), targets, il, tl, blank=blank, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    weights = torch.rand(ours.shape, generator=gen, dtype=torch.float64)
    (g_ours,) = torch.autograd.grad((ours * weights).sum(), logits)
    (g_ref,) = torch.autograd.grad((ref * weights).sum(), logits)
    torch.testing.assert_close(g_ours, g_ref)


def test_mean_is_torch_mean_per_target_length(gen) -> None:
    """'mean' divides each sample by its target length (at least 1), then averages."""
    logits, targets, il, tl = _batch(gen)
    lp = logits.log_softmax(-1)
    per_sample = ctc_loss(lp, targets, il, tl, reduction="none")
    expected = (per_sample / tl.clamp(min=1)).mean()
    torch.testing.assert_close(ctc_loss(lp, targets, il, tl), expected)


def test_lengths_as_python_sequences_and_int32_targets(gen) -> None:
    logits, targets, il, tl = _batch(gen)
    lp = logits.log_softmax(-1)
    ref = F.ctc_loss(lp, targets, il, tl, reduction="sum")
    torch.testing.assert_close(ctc_loss(lp, targets.int(), il.tolist(), tuple(tl.tolist()), reduction="sum"), ref)


def test_num_items_accumulates_micro_batches_with_uneven_target_lengths(gen) -> None:
    logits, targets, il, tl = _batch(gen)
    lp = logits.log_softmax(-1)
    full = ctc_loss(lp, targets, il, tl)
    parts = sum(
        ctc_loss(lp[:, i], targets[i], il[i], tl[i], num_items=5) for i in (torch.arange(0, 2), torch.arange(2, 5))
    )
    torch.testing.assert_close(parts, full)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 4),
    c=st.integers(2, 5),
    s=st.integers(1, 4),
)
def test_property_matches_torch_on_random_valid_batches(seed: int, n: int, c: int, s: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    tl = torch.randint(0, s + 1, (n,), generator=gen)
    targets = torch.randint(1, c, (n, s), generator=gen)
    repeats = (targets[:, 1:] == targets[:, :-1]).sum(1)  # upper bound of the repeats counted
    t = int((tl + repeats).max()) + 2
    il = torch.randint(0, 3, (n,), generator=gen) + (tl + repeats)  # always feasible
    il = il.clamp(max=t)
    lp = torch.randn(t, n, c, generator=gen, dtype=torch.float64).log_softmax(-1)
    for reduction in ("none", "sum", "mean"):
        torch.testing.assert_close(
            ctc_loss(lp, targets, il, tl, reduction=reduction), F.ctc_loss(lp, targets, il, tl, reduction=reduction)
        )


# --- an independent reference: enumerate every alignment ---------------------------------------


def _collapse(path: tuple[int, ...], blank: int) -> list[int]:
    out, previous = [], None
    for label in path:
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return out


def _brute_force_nll(log_probs: torch.Tensor, target: list[int], blank: int) -> float:
    """-log of the summed probability of every length-T path that collapses to ``target``."""
    t, c = log_probs.shape
    scores = [
        sum(float(log_probs[i, k]) for i, k in enumerate(path))
        for path in itertools.product(range(c), repeat=t)
        if _collapse(path, blank) == target
    ]
    if not scores:
        return math.inf
    top = max(scores)
    return -(top + math.log(sum(math.exp(v - top) for v in scores)))


def test_uniform_distribution_counts_alignments() -> None:
    # 3 classes, 4 frames, target "ab": 15 of the 3**4 = 81 equally likely paths collapse to it.
    lp = torch.zeros(4, 1, 3).log_softmax(-1)
    out = ctc_loss(lp, torch.tensor([[1, 2]]), [4], [2], reduction="sum")
    assert out.item() == pytest.approx(-math.log(15 / 81), rel=1e-6)


@pytest.mark.parametrize("target", [[1], [1, 2], [1, 1], [2, 1, 2], []])
def test_matches_brute_force_enumeration(target: list[int], gen) -> None:
    t, c = 6, 3
    lp = torch.randn(t, 1, c, generator=gen, dtype=torch.float64).log_softmax(-1)
    padded = torch.tensor([[*target, 1, 1, 1][:3]])
    out = ctc_loss(lp, padded, [t], [len(target)], reduction="sum")
    assert out.item() == pytest.approx(_brute_force_nll(lp[:, 0], target, blank=0), rel=1e-10)
    # the same problem with the classes relabelled k -> 2 - k, so that the blank is the last class
    # ("mean" this time: divided by the target length)
    out_blank_last = ctc_loss(lp.flip(-1), 2 - padded, [t], [len(target)], blank=2)
    expected = _brute_force_nll(lp.flip(-1)[:, 0], [2 - k for k in target], blank=2) / max(len(target), 1)
    assert out_blank_last.item() == pytest.approx(expected, rel=1e-10)


# --- the gradient with respect to log_probs ----------------------------------------------------


def test_gradient_with_respect_to_log_probs_is_exact(gen) -> None:
    logits, targets, il, tl = _batch(gen, t=7, n=3, c=4, s=2)
    lp = logits.log_softmax(-1).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ctc_loss(x, targets, il, tl, reduction="none"), (lp,))
    # torch's own backward differs from it by exp(log_probs) on the valid frames
    (ours,) = torch.autograd.grad(ctc_loss(lp, targets, il, tl, reduction="sum"), lp)
    (theirs,) = torch.autograd.grad(F.ctc_loss(lp, targets, il, tl, reduction="sum"), lp)
    frames = (torch.arange(7)[:, None] < il[None, :]).unsqueeze(-1)
    torch.testing.assert_close(theirs - ours, torch.where(frames, lp.detach().exp(), 0.0))


# --- precision ----------------------------------------------------------------------------------


def test_computed_in_float32_under_autocast(gen) -> None:
    logits, targets, il, tl = _batch(gen, dtype=torch.float32)
    lp = logits.log_softmax(-1)
    plain = ctc_loss(lp, targets, il, tl)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = ctc_loss(lp, targets, il, tl)
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, plain, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_computed_in_float32(dtype: torch.dtype, gen) -> None:
    logits, targets, il, tl = _batch(gen, t=40, n=5, c=6, s=4, dtype=torch.float32)
    lp = logits.log_softmax(-1)
    ref = ctc_loss(lp, targets, il, tl, reduction="none")
    half = lp.to(dtype).requires_grad_(True)
    out = ctc_loss(half, targets, il, tl, reduction="none")
    assert out.dtype == dtype
    # the float32 result of the rounded inputs, rounded once at the end (their row sums are
    # off by more than the float32 tolerance, hence no validation here)
    with losskit.validation(False):
        expected = ctc_loss(half.detach().float(), targets, il, tl, reduction="none").to(dtype)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=0)
    out.sum().backward()
    assert torch.isfinite(half.grad.float()).all()


# --- validation -------------------------------------------------------------------------------


def test_raw_logits_and_probabilities_are_rejected_naming_samples(gen) -> None:
    logits, targets, il, tl = _batch(gen)
    with pytest.raises(LossInputError, match=r"`log_probs`.*samples \[0, 1, 2, 3, 4\]"):
        ctc_loss(logits, targets, il, tl)
    lp = logits.log_softmax(-1).clone()
    lp[3, 2] = logits[3, 2]  # one raw frame in sample 2
    with pytest.raises(LossInputError, match=r"1 rows that do not, in samples \[2\]"):
        ctc_loss(lp, targets, il, tl)
    with pytest.raises(LossInputError, match="`log_probs`"):
        ctc_loss(logits.softmax(-1), targets, il, tl)


def test_padding_frames_and_padding_labels_are_not_checked(gen) -> None:
    """Frames past input_lengths and labels past target_lengths (often the blank) are ignored."""
    logits, targets, il, tl = _batch(gen)
    lp = logits.log_softmax(-1).clone()
    lp[-1, 1] = float("nan")  # sample 1 has input length T - 2
    targets[2] = 0  # sample 2 has target length 0: padding with the blank is fine
    lp.requires_grad_(True)
    ref = F.ctc_loss(lp, targets, il, tl, reduction="none")
    out = ctc_loss(lp, targets, il, tl, reduction="none")
    torch.testing.assert_close(out, ref)
    # no NaN leaks from the padding frame into the gradient; valid frames get -posterior
    (grad,) = torch.autograd.grad(out.sum(), lp)
    (grad_ref,) = torch.autograd.grad(ref.sum(), lp)
    assert grad[-1, 1].eq(0).all() and torch.isfinite(grad).all()
    frames = (torch.arange(lp.shape[0])[:, None] < il[None, :]).unsqueeze(-1)
    torch.testing.assert_close(grad, torch.where(frames, grad_ref - lp.detach().exp(), 0.0))


def test_blank_inside_a_target_is_rejected_naming_the_sample(gen) -> None:
    logits, targets, il, tl = _batch(gen)
    targets[3, 1] = 0
    with pytest.raises(LossInputError, match=r"`targets`.*blank label 0.*samples \[3\]"):
        ctc_loss(logits.log_softmax(-1), targets, il, tl)


def test_feasibility_boundary() -> None:
    """ "aab" needs a blank between the two a's: at least 4 frames."""
    lp = torch.zeros(4, 2, 3).log_softmax(-1)
    targets = torch.tensor([[1, 1, 2], [1, 1, 2]])
    assert torch.isfinite(ctc_loss(lp, targets, [4, 4], [3, 3]))
    with pytest.raises(
        LossInputError, match=r"`input_lengths`.*samples \[1\] \(input lengths \[3\] < required \[4\]\)"
    ):
        ctc_loss(lp, targets, [4, 3], [3, 3])


def test_infeasible_with_zero_infinity_warns_and_zeroes_those_samples(gen) -> None:
    logits, targets, il, tl = _batch(gen)
    targets[1] = targets[1, 0]  # all repeats: "aaa" needs 5 frames
    il = torch.tensor([12, 4, 9, 12, 3])  # samples 1 and 4 too short
    logits.requires_grad_(True)
    lp = logits.log_softmax(-1)
    with pytest.warns(RuntimeWarning, match=r"samples \[1, 4\]"):
        out = ctc_loss(lp, targets, il, tl, reduction="none", zero_infinity=True)
    ref = F.ctc_loss(lp, targets, il, tl, reduction="none", zero_infinity=True)
    torch.testing.assert_close(out, ref)
    assert out[1] == 0 and out[4] == 0
    (grad,) = torch.autograd.grad(out.sum(), logits, retain_graph=True)
    assert (grad[:, [1, 4]] == 0).all() and torch.isfinite(grad).all()
    (grad_ref,) = torch.autograd.grad(ref.sum(), logits)
    torch.testing.assert_close(grad, grad_ref)


def test_validation_off_returns_torch_result_unchecked(gen) -> None:
    logits, targets, il, tl = _batch(gen)
    il = il.clone()
    il[1] = 2
    with losskit.validation(False), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ctc_loss(logits.log_softmax(-1), targets, il, tl, reduction="none")
    assert math.isinf(out[1].item()) and torch.isfinite(out[[0, 2, 3, 4]]).all()


def test_zero_infinity_keeps_the_gradient_of_a_feasible_sample_with_zero_loss():
    # One alignment of probability 1 ("a" then blank): loss exactly 0, a feasible sample.
    # zero_infinity=True used to treat it as infeasible and zero its gradient.
    lp = torch.full((2, 2, 3), -1e4, dtype=torch.float64)
    lp[0, :, 1], lp[1, :, 0] = 0.0, 0.0
    lp = lp.log_softmax(-1)
    targets, il, tl = torch.tensor([[1, 1], [2, 1]]), [2, 1], [1, 2]  # the second is infeasible (T < L)
    a = lp.clone().requires_grad_()
    with pytest.warns(RuntimeWarning):
        out = losskit.ctc_loss(a, targets, il, tl, zero_infinity=True, reduction="none")
    assert out[0].item() == 0.0 and out[1].item() == 0.0
    (grad,) = torch.autograd.grad(out.sum(), a)
    b = lp[:, :1].clone().requires_grad_()
    (expected,) = torch.autograd.grad(losskit.ctc_loss(b, targets[:1], il[:1], tl[:1], reduction="sum"), b)
    assert bool((expected != 0).any())
    torch.testing.assert_close(grad[:, :1], expected)
    assert bool((grad[:, 1] == 0).all())  # the infeasible one: zeroed


@pytest.mark.parametrize("name", ["input_lengths", "target_lengths"])
@pytest.mark.parametrize("bad", [[9.7], [9.0], torch.tensor([9.7])])
def test_float_lengths_are_refused_not_truncated(name, bad):
    lp = torch.randn(10, 1, 4).log_softmax(-1)
    lengths = {"input_lengths": [10], "target_lengths": [3]}
    lengths[name] = bad
    with pytest.raises(losskit.LossInputError, match=f"`{name}`"):
        losskit.ctc_loss(lp, torch.tensor([[1, 2, 3]]), lengths["input_lengths"], lengths["target_lengths"])
