"""The closed-form focal kernels: autograd contract, float32 accuracy, and the one-buffer claim."""

from __future__ import annotations

import pytest
import torch
import torch.utils.checkpoint
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

import losskit

f64 = torch.float64


def _multiclass_reference(x, t, gamma):
    """Float64 formula per item, with ``log(1 - p_t)`` as a log-sum-exp over the other classes
    (the textbook ``(1 - p_t) ** gamma`` has a NaN gradient where ``p_t`` rounds to 1)."""
    x = x.double()
    target = torch.nn.functional.one_hot(t, x.shape[1]).bool()
    lse = torch.logsumexp(x, dim=1)
    logp = x.gather(1, t.unsqueeze(1)).squeeze(1) - lse
    log1m = torch.logsumexp(x.masked_fill(target, -torch.inf), dim=1) - lse
    return -torch.exp(gamma * log1m) * logp


def _binary_reference(x, y, gamma):
    p = torch.sigmoid(x.double())
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x.double(), y.double(), reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    return ce * (1 - p_t) ** gamma


def _cases():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 5, generator=g, dtype=f64)
    t = torch.randint(0, 5, (6,), generator=g)
    y = (torch.rand(6, 5, generator=g) > 0.5).to(f64)
    return [
        (
            "multi-class",
            x,
            t,
            lambda z: losskit.focal_loss(z, t, gamma=2.0, reduction="none"),
            lambda z: _multiclass_reference(z, t, 2.0),
        ),
        (
            "binary",
            x,
            y,
            lambda z: losskit.binary_focal_loss(z, y, gamma=2.0, reduction="none"),
            lambda z: _binary_reference(z, y, 2.0),
        ),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_backward_twice_through_a_kept_graph_gives_the_same_gradient(case):
    _, x, _, ours, ref = case
    xr = x.clone().requires_grad_()
    out = ours(xr)
    go = torch.rand(out.shape, generator=torch.Generator().manual_seed(1), dtype=f64)  # non-uniform
    (g1,) = torch.autograd.grad(out, xr, go, retain_graph=True)
    (g2,) = torch.autograd.grad(out, xr, go, retain_graph=True)
    xe = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(ref(xe), xe, go)
    torch.testing.assert_close(g1, expected)
    torch.testing.assert_close(g2, expected)
    out.backward(go, retain_graph=True)
    out.backward(go)
    torch.testing.assert_close(xr.grad, 2 * expected)  # accumulation into .grad


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_gradient_accumulates_into_an_existing_grad(case):
    _, x, _, ours, ref = case
    xr = x.clone().requires_grad_()
    xr.grad = torch.ones_like(xr)
    ours(xr).sum().backward()
    xe = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(ref(xe).sum(), xe)
    torch.testing.assert_close(xr.grad, expected + 1)


@pytest.mark.parametrize("how", ["checkpoint", "checkpoint-reentrant", "save_on_cpu"])
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_gradient_under_activation_checkpointing_and_saved_tensor_hooks(case, how):
    _, x, _, ours, ref = case
    lin = torch.nn.Linear(5, 5, dtype=f64)
    xe = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(ref(lin(xe)).sum(), lin.weight)
    xr = x.clone().requires_grad_(how == "checkpoint-reentrant")  # reentrant needs an input with grad
    if how == "save_on_cpu":
        with torch.autograd.graph.save_on_cpu():
            out = ours(lin(xr)).sum()
    else:
        fn = lambda z: ours(lin(z)).sum()  # noqa: E731
        out = torch.utils.checkpoint.checkpoint(fn, xr, use_reentrant=how == "checkpoint-reentrant")
    lin.zero_grad()
    out.backward()  # the reentrant variant supports .backward() only
    torch.testing.assert_close(lin.weight.grad, expected)


def test_multiclass_float32_matches_float64_near_certainty_and_underflow():
    """p_t -> 1 (1 - p_t ~ 1e-9, below float32's resolution at 1) and p_t far below float32's range."""
    x = torch.tensor([[20.0, 0.0, 0.0], [0.0, 200.0, -5.0], [0.0, 1e4, -1e4], [3.0, 1.0, 2.0]])
    t = torch.tensor([0, 0, 0, 2])
    for gamma in (0.0, 0.5, 2.0):
        xr = x.clone().requires_grad_()
        out = losskit.focal_loss(xr, t, gamma=gamma, reduction="none")
        (g,) = torch.autograd.grad(out.sum(), xr)
        x64 = x.double().requires_grad_()
        ref = _multiclass_reference(x64, t, gamma)
        (g64,) = torch.autograd.grad(ref.sum(), x64)
        torch.testing.assert_close(out.double(), ref.detach(), rtol=1e-5, atol=0)
        torch.testing.assert_close(g.double(), g64, rtol=1e-5, atol=1e-30)


class _LargeAllocations(TorchDispatchMode):
    """Records the operations that return a new storage of at least ``numel`` elements."""

    def __init__(self, numel: int):
        super().__init__()
        self.numel, self.ops = numel, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat = torch.utils._pytree.tree_leaves((args, kwargs))
        seen = {a.untyped_storage().data_ptr() for a in flat if isinstance(a, torch.Tensor)}
        if isinstance(out, torch.Tensor) and out.numel() >= self.numel and out.untyped_storage().data_ptr() not in seen:
            self.ops.append(str(func))
        return out


def test_multiclass_step_allocates_one_logit_sized_tensor():
    """The softmax buffer becomes the gradient, which becomes ``x.grad``: no second N x C tensor."""
    x = torch.randn(64, 50, requires_grad=True)
    t = torch.randint(0, 50, (64,))
    with _LargeAllocations(x.numel()) as mode:
        losskit.focal_loss(x, t, gamma=2.0).backward()
    assert len(mode.ops) == 1, mode.ops
    with _LargeAllocations(x.numel()) as mode:  # the hand-written composite, for contrast
        logp = torch.log_softmax(x, dim=1).gather(1, t.unsqueeze(1)).squeeze(1)
        (-((1 - logp.exp()) ** 2.0) * logp).mean().backward()
    assert len(mode.ops) >= 3, mode.ops


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 16),
    c=st.integers(2, 8),
    gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]),
    scale=st.floats(0.1, 60.0),
    seed=st.integers(0, 2**16),
)
def test_multiclass_float32_kernel_tracks_float64(n, c, gamma, scale, seed):
    """Loss and gradient of float32 logits agree with the float64 formula on the same values."""
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n, c, generator=g)
    t = torch.randint(0, c, (n,), generator=g)
    xr = x.clone().requires_grad_()
    out = losskit.focal_loss(xr, t, gamma=gamma, reduction="none")
    (grad,) = torch.autograd.grad(out.sum(), xr)
    x64 = x.double().requires_grad_()
    ref = _multiclass_reference(x64, t, gamma)
    (ref_grad,) = torch.autograd.grad(ref.sum(), x64)
    torch.testing.assert_close(out.double(), ref.detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-4, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 64),
    gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]),
    alpha=st.sampled_from([None, 0.25]),
    scale=st.floats(0.1, 60.0),
    seed=st.integers(0, 2**16),
)
def test_binary_float32_kernel_tracks_float64(n, gamma, alpha, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n, generator=g)
    y = (torch.rand(n, generator=g) > 0.7).float()
    xr = x.clone().requires_grad_()
    out = losskit.binary_focal_loss(xr, y, gamma=gamma, alpha=alpha, reduction="none")
    (grad,) = torch.autograd.grad(out.sum(), xr)
    x64 = x.double().requires_grad_()
    z = (2 * y.double() - 1) * x64  # the margin: log p_t = logsigmoid(z), log(1 - p_t) = logsigmoid(-z)
    ref = -torch.exp(gamma * torch.nn.functional.logsigmoid(-z)) * torch.nn.functional.logsigmoid(z)
    if alpha is not None:
        ref = ref * (alpha * y.double() + (1 - alpha) * (1 - y.double()))
    (ref_grad,) = torch.autograd.grad(ref.sum(), x64)
    torch.testing.assert_close(out.double(), ref.detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-4, atol=1e-6)


def test_multiclass_gradient_where_the_target_probability_underflows():
    """Found by `make test-explore`: with p_t ~ 1e-99 (0 in float32) the float32 sum 1 - p_t is
    1 + 1.2e-7, and b / (1 - p_t) - b with b ~ 800 (gamma 3.5, log p_t ~ -227) cancelled to 1e-4
    instead of 0. Written as b p_t / (1 - p_t) the gradient tracks float64 to float32 accuracy."""
    g = torch.Generator().manual_seed(138)
    x = 55.875 * torch.randn(7, 7, generator=g)
    t = torch.randint(0, 7, (7,), generator=g)
    xr = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(losskit.focal_loss(xr, t, gamma=3.5, reduction="none").sum(), xr)
    x64 = x.double().requires_grad_()
    (ref_grad,) = torch.autograd.grad(_multiclass_reference(x64, t, 3.5).sum(), x64)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-5, atol=1e-6)
