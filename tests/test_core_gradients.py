"""Exact gradients of the focal losses beyond the first derivative in the logits.

Issue reproducers: a MAML-style meta-gradient through ``focal_loss(gamma=0)`` must equal
cross-entropy's (it differed by 3e-2, silently); learnable ``alpha``, ``pos_weight`` and class
``weight`` must get their gradients (``.grad`` stayed None); probability targets that require
grad get PyTorch's target gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import losskit

f64 = torch.float64


def _meta_gradient(loss_fn, w0, x, t):
    """d/dw0 of the loss after one inner SGD step (the gradient taken with create_graph)."""
    w = w0.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss_fn(x @ w, t), w, create_graph=True)
    w1 = w - 0.5 * g
    (meta,) = torch.autograd.grad(loss_fn(x @ w1, t), w)
    return meta


def test_maml_meta_gradient_through_focal_equals_cross_entropy_at_gamma_0():
    g = torch.Generator().manual_seed(0)
    x, w0 = torch.randn(8, 4, generator=g, dtype=f64), torch.randn(4, 3, generator=g, dtype=f64)
    t = torch.randint(0, 3, (8,), generator=g)
    expected = _meta_gradient(F.cross_entropy, w0, x, t)
    ours = _meta_gradient(lambda z, y: losskit.focal_loss(z, y, gamma=0.0), w0, x, t)
    torch.testing.assert_close(ours, expected)
    yb = (torch.rand(8, 3, generator=g) < 0.5).to(f64)
    expected = _meta_gradient(F.binary_cross_entropy_with_logits, w0, x, yb)
    ours = _meta_gradient(lambda z, y: losskit.binary_focal_loss(z, y, gamma=0.0), w0, x, yb)
    torch.testing.assert_close(ours, expected)


def _logits(n, c, seed=1):
    return 3 * torch.randn(n, c, generator=torch.Generator().manual_seed(seed), dtype=f64)


def test_multiclass_focal_learnable_options_gradcheck():
    x = _logits(6, 3).requires_grad_()
    t = torch.tensor([0, 2, 1, 1, 0, 2])
    alpha = torch.tensor([0.2, 0.5, 0.9], dtype=f64, requires_grad=True)
    weight = torch.tensor([1.0, 2.0, 0.5], dtype=f64, requires_grad=True)
    scalar_alpha = torch.tensor(0.3, dtype=f64, requires_grad=True)
    for smoothing in (0.0, 0.1):
        fn = lambda z, a, w, s=smoothing: losskit.focal_loss(z, t, gamma=1.5, alpha=a, weight=w, label_smoothing=s)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, alpha, weight))
        assert torch.autograd.gradgradcheck(fn, (x, alpha, weight))
        fn = lambda z, a, s=smoothing: losskit.focal_loss(z, t, gamma=1.5, alpha=a, label_smoothing=s)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, scalar_alpha))
    losskit.focal_loss(x, t, alpha=alpha, weight=weight).backward()
    assert alpha.grad is not None and weight.grad is not None and bool((weight.grad != 0).any())


def test_binary_focal_learnable_options_gradcheck():
    x = _logits(4, 3).requires_grad_()
    y = (torch.rand(4, 3, generator=torch.Generator().manual_seed(2)) < 0.5).to(f64)
    alpha = torch.tensor(0.25, dtype=f64, requires_grad=True)
    pos_weight = torch.tensor([1.0, 3.0, 0.5], dtype=f64, requires_grad=True)
    fn = lambda z, a, pw: losskit.binary_focal_loss(z, y, gamma=2.0, alpha=a, pos_weight=pw)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, alpha, pos_weight))
    assert torch.autograd.gradgradcheck(fn, (x, alpha, pos_weight))
    loss = fn(x, alpha, pos_weight)
    loss.backward()
    assert alpha.grad is not None and pos_weight.grad is not None
    # the learnable path gives the kernel's value
    fixed = losskit.binary_focal_loss(x, y, gamma=2.0, alpha=0.25, pos_weight=pos_weight.detach())
    torch.testing.assert_close(loss, fixed)


def test_probability_targets_that_require_grad_get_torchs_gradient():
    x = _logits(4, 3)
    soft = torch.softmax(_logits(4, 3, seed=5), dim=1).requires_grad_()
    (ours,) = torch.autograd.grad(losskit.cross_entropy(x, soft, label_smoothing=0.1), soft)
    (theirs,) = torch.autograd.grad(F.cross_entropy(x, soft, label_smoothing=0.1), soft)
    torch.testing.assert_close(ours, theirs)
    p = torch.rand(4, 3, generator=torch.Generator().manual_seed(3), dtype=f64).requires_grad_()
    (ours,) = torch.autograd.grad(losskit.binary_cross_entropy_with_logits(x, p), p)
    (theirs,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(x, p), p)
    torch.testing.assert_close(ours, theirs)
    with losskit.validation(False):
        (ours,) = torch.autograd.grad(losskit.binary_cross_entropy_with_logits(x, p), p)
    torch.testing.assert_close(ours, theirs)
    # focal: gamma=0 equals BCE / CE in the target gradient too; gamma>0 passes gradcheck
    (ours,) = torch.autograd.grad(losskit.binary_focal_loss(x, p, gamma=0.0), p)
    torch.testing.assert_close(ours, theirs)
    assert torch.autograd.gradcheck(lambda q: losskit.binary_focal_loss(x, q, gamma=2.0), (p,))
    assert torch.autograd.gradcheck(lambda q: losskit.focal_loss(x, q, gamma=2.0), (soft,))
