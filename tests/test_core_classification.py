"""Classification losses against PyTorch's own losses and float64 direct formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losskit

f64 = torch.float64


def _logits(*shape, scale=3.0, seed=0):
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=f64)


# --------------------------------------------------------------------------- BCE


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("with_pw", [False, True])
def test_bce_matches_torch(reduction, with_pw):
    x = _logits(6, 4)
    y = (torch.rand(6, 4, generator=torch.Generator().manual_seed(1)) > 0.5).to(f64)
    pw = torch.tensor([1.0, 3.0, 0.2, 2.0], dtype=f64) if with_pw else None
    ours = losskit.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction=reduction)
    torch.testing.assert_close(ours, ref)


def test_bce_weighted_mean_is_weighted_average_and_sum_matches_torch():
    x, y = _logits(8, 3), torch.rand(8, 3, dtype=f64)
    w = torch.rand(8, 1, dtype=f64) + 0.5
    ref_none = F.binary_cross_entropy_with_logits(x, y, weight=w, reduction="none")
    torch.testing.assert_close(
        losskit.binary_cross_entropy_with_logits(x, y, weight=w, reduction="sum"), ref_none.sum()
    )
    expected = ref_none.sum() / w.expand(8, 3).sum()
    torch.testing.assert_close(losskit.binary_cross_entropy_with_logits(x, y, weight=w), expected)


def test_bce_label_smoothing_formula_float64():
    x, y, eps = _logits(5, 2), torch.tensor([[0, 1]] * 5, dtype=f64), 0.2
    ys = y * (1 - eps) + eps / 2  # written out, Keras convention
    p = 1 / (1 + torch.exp(-x))
    expected = -(ys * torch.log(p) + (1 - ys) * torch.log(1 - p)).mean()
    torch.testing.assert_close(losskit.binary_cross_entropy_with_logits(x, y, label_smoothing=eps), expected)


def test_bce_accepts_bool_and_integer_targets():
    x = _logits(4)
    y = torch.tensor([True, False, True, False])
    ref = F.binary_cross_entropy_with_logits(x, y.to(f64))
    torch.testing.assert_close(losskit.binary_cross_entropy_with_logits(x, y), ref)
    torch.testing.assert_close(losskit.binary_cross_entropy_with_logits(x, y.long()), ref)


# --------------------------------------------------------------------------- cross-entropy


CE_OPTIONS = [
    {},
    {"weight": torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=f64)},
    {"ignore_index": 2},
    {"label_smoothing": 0.15},
    {"weight": torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=f64), "label_smoothing": 0.1, "ignore_index": 1},
]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=lambda o: "+".join(o) or "plain")
@pytest.mark.parametrize("shape", [(7, 4), (3, 4, 2, 5)], ids=["2d", "kdim"])
def test_cross_entropy_matches_torch_hard_targets(shape, opts, reduction):
    x = _logits(*shape)
    t_shape = (shape[0], *shape[2:])
    t = torch.randint(0, 4, t_shape, generator=torch.Generator().manual_seed(3))
    t.view(-1)[0] = opts.get("ignore_index", -100)
    ours = losskit.cross_entropy(x, t, reduction=reduction, **opts)
    ref = F.cross_entropy(x, t, reduction=reduction, **opts)
    torch.testing.assert_close(ours, ref)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    losskit.cross_entropy(x1, t, reduction=reduction, **opts).sum().backward()
    F.cross_entropy(x2, t, reduction=reduction, **opts).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.2}, {"weight": torch.tensor([1.0, 2.0, 0.5], dtype=f64)}])
def test_cross_entropy_matches_torch_probability_targets(opts, reduction):
    x = _logits(6, 3, 2)
    p = torch.softmax(_logits(6, 3, 2, seed=5), dim=1)
    torch.testing.assert_close(
        losskit.cross_entropy(x, p, reduction=reduction, **opts), F.cross_entropy(x, p, reduction=reduction, **opts)
    )


def test_cross_entropy_unbatched_matches_torch():
    x, t = _logits(5), torch.tensor(3)
    torch.testing.assert_close(losskit.cross_entropy(x, t), F.cross_entropy(x, t))
    torch.testing.assert_close(losskit.cross_entropy(x, t, reduction="none"), F.cross_entropy(x, t, reduction="none"))


def test_cross_entropy_float64_direct_formula_with_weights_and_smoothing():
    """Independent of torch: -sum_c w_c y'_c log softmax_c, divided by sum of w_{y_i}."""
    x, t = _logits(5, 3), torch.tensor([0, 2, 1, 1, 0])
    w, eps, c = torch.tensor([2.0, 1.0, 0.5], dtype=f64), 0.3, 3
    logp = x - torch.log(torch.exp(x).sum(1, keepdim=True))
    y = torch.full((5, 3), eps / c, dtype=f64)
    y[torch.arange(5), t] += 1 - eps
    expected = -(w * y * logp).sum() / w[t].sum()
    torch.testing.assert_close(losskit.cross_entropy(x, t, weight=w, label_smoothing=eps), expected)


def test_cross_entropy_sample_weight():
    x, t = _logits(6, 3), torch.tensor([0, 1, 2, 0, -100, 2])
    sw = torch.tensor([1.0, 2.0, 0.5, 1.0, 9.0, 3.0], dtype=f64)
    per = F.cross_entropy(x, t, reduction="none")
    valid = t != -100
    expected = (per * sw)[valid].sum() / sw[valid].sum()
    torch.testing.assert_close(losskit.cross_entropy(x, t, sample_weight=sw), expected)


def test_all_ignored_is_zero_with_connected_graph_where_torch_is_nan():
    x = _logits(4, 3).requires_grad_()
    t = torch.full((4,), -100)
    assert torch.isnan(F.cross_entropy(x, t))
    for fn in (losskit.cross_entropy, losskit.focal_loss):
        out = fn(x, t)
        assert out.item() == 0.0 and out.requires_grad
        (g,) = torch.autograd.grad(out, x)
        assert (g == 0).all()


def test_single_class_problem_is_finite():
    x = _logits(5, 1).requires_grad_()
    t = torch.zeros(5, dtype=torch.long)
    for fn in (losskit.cross_entropy, losskit.focal_loss):
        out = fn(x, t)
        assert out.item() == pytest.approx(0.0, abs=1e-12)
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(g).all()


# --------------------------------------------------------------------------- focal


def _torchvision_sigmoid_focal(x, y, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss, written out (torchvision is not a dependency)."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.5])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_binary_focal_matches_torchvision_formula(gamma, alpha):
    x = _logits(9, 3).requires_grad_()
    y = (torch.rand(9, 3, generator=torch.Generator().manual_seed(2)) > 0.6).to(f64)
    ours = losskit.binary_focal_loss(x, y, gamma=gamma, alpha=alpha, reduction="none")
    ref = _torchvision_sigmoid_focal(x, y, alpha, gamma)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), x)
    (g2,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g1, g2)


def test_binary_focal_soft_targets_and_pos_weight_float64_reference():
    x = _logits(7, 2).requires_grad_()
    y = torch.rand(7, 2, dtype=f64)
    pw = torch.tensor([2.0, 0.5], dtype=f64)
    gamma, alpha = 1.5, 0.4
    p = torch.sigmoid(x)
    ce = -(pw * y * torch.log(p) + (1 - y) * torch.log(1 - p))
    p_t = p * y + (1 - p) * (1 - y)
    ref = (alpha * y + (1 - alpha) * (1 - y)) * (1 - p_t) ** gamma * ce
    ours = losskit.binary_focal_loss(x, y, gamma=gamma, alpha=alpha, pos_weight=pw, reduction="none")
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), x)[0], torch.autograd.grad(ref.sum(), x)[0])


def test_binary_focal_gamma0_equals_bce_with_all_options():
    x, y = _logits(6, 3), torch.rand(6, 3, dtype=f64)
    kw = {
        "pos_weight": torch.tensor([1.0, 2.0, 3.0], dtype=f64),
        "weight": torch.rand(6, 1, dtype=f64),
        "label_smoothing": 0.1,
    }
    torch.testing.assert_close(
        losskit.binary_focal_loss(x, y, gamma=0.0, **kw), losskit.binary_cross_entropy_with_logits(x, y, **kw)
    )


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 2.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_focal_finite_at_extreme_logits(gamma, dtype):
    """The textbook (1-p_t)**gamma form is NaN in gradient here for gamma < 1."""
    x = torch.tensor([[1e4, -1e4], [-1e4, 1e4], [30.0, -30.0]]).to(dtype).requires_grad_()
    y = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]).to(dtype)
    out = losskit.binary_focal_loss(x, y, gamma=gamma)
    (g,) = torch.autograd.grad(out, x)
    assert torch.isfinite(out) and torch.isfinite(g).all()
    t = torch.tensor([0, 1, 0])
    xm = torch.tensor([[1e4, 0.0, -1e4], [1e4, -1e4, 0.0], [30.0, 0.0, 0.0]]).to(dtype).requires_grad_()
    out = losskit.focal_loss(xm, t, gamma=gamma)
    (g,) = torch.autograd.grad(out, xm)
    assert torch.isfinite(out) and torch.isfinite(g).all()
    # row 0 is confidently right (loss 0); row 1 puts the target 2e4 below the top logit, so
    # -log p_t = 2e4 and (1 - p_t)^gamma = 1; row 2 has -log p_t = log(1 + 2 e^-30), about 0.
    expected = (0.0 + 2e4 + math.log1p(2 * math.exp(-30))) / 3
    assert out.float().item() == pytest.approx(expected, rel=1e-2)


def test_textbook_focal_is_nan_where_ours_is_finite():
    x = torch.tensor([1e4], requires_grad=True)
    y = torch.tensor([1.0])
    ref = _torchvision_sigmoid_focal(x, y, None, 0.5).sum()
    (g,) = torch.autograd.grad(ref, x)
    assert torch.isnan(g).any()  # the bug we avoid
    (g,) = torch.autograd.grad(losskit.binary_focal_loss(x, y, gamma=0.5), x)
    assert torch.isfinite(g).all()


def _multiclass_focal_reference(x, t, gamma, alpha=None, weight=None, eps=0.0):
    """Direct float64 formula, independent of the implementation's log-space tricks."""
    c = x.shape[1]
    p = torch.softmax(x, dim=1)
    y = torch.zeros_like(x)
    y[torch.arange(len(t)), t] = 1.0
    y = y * (1 - eps) + eps / c
    w = torch.ones(c, dtype=x.dtype) if weight is None else weight
    a = torch.ones(c, dtype=x.dtype) if alpha is None else alpha
    per = -(a * w * y * (1 - p) ** gamma * torch.log(p)).sum(1)
    return per.sum() / w[t].sum()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_multiclass_focal_matches_direct_formula(gamma, eps):
    x = _logits(8, 4).requires_grad_()
    t = torch.randint(0, 4, (8,), generator=torch.Generator().manual_seed(4))
    w = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=f64)
    a = torch.tensor([0.25, 0.5, 0.75, 1.0], dtype=f64)
    ours = losskit.focal_loss(x, t, gamma=gamma, alpha=a, weight=w, label_smoothing=eps)
    ref = _multiclass_focal_reference(x, t, gamma, a, w, eps)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, x)[0], torch.autograd.grad(ref, x)[0])


@pytest.mark.parametrize("opts", CE_OPTIONS, ids=lambda o: "+".join(o) or "plain")
def test_focal_gamma0_equals_cross_entropy_exactly(opts):
    x = _logits(7, 4, 3)
    t = torch.randint(0, 4, (7, 3), generator=torch.Generator().manual_seed(6))
    t[0, 0] = opts.get("ignore_index", -100)
    kw = dict(opts)
    for reduction in ("none", "sum", "mean"):
        torch.testing.assert_close(
            losskit.focal_loss(x, t, gamma=0.0, reduction=reduction, **kw),
            losskit.cross_entropy(x, t, reduction=reduction, **kw),
        )


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    c=st.integers(2, 6),
    gamma=st.floats(0.0, 4.0),
    scale=st.floats(0.1, 50.0),
    seed=st.integers(0, 2**16),
)
def test_focal_properties(n, c, gamma, scale, seed):
    """Non-negative, never above cross-entropy, sum == mean * count."""
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n, c, generator=g, dtype=f64)
    t = torch.randint(0, c, (n,), generator=g)
    focal = losskit.focal_loss(x, t, gamma=gamma, reduction="none")
    ce = losskit.cross_entropy(x, t, reduction="none")
    assert (focal >= 0).all() and (focal <= ce + 1e-12).all()
    torch.testing.assert_close(
        losskit.focal_loss(x, t, gamma=gamma, reduction="sum"), losskit.focal_loss(x, t, gamma=gamma) * n
    )
    y = (torch.rand(n, c, generator=g) > 0.5).to(f64)
    bf = losskit.binary_focal_loss(x, y, gamma=gamma, reduction="none")
    assert (bf >= 0).all() and (bf <= losskit.binary_cross_entropy_with_logits(x, y, reduction="none") + 1e-12).all()


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 20), split=st.integers(1, 19), seed=st.integers(0, 2**16), ignored=st.floats(0.0, 0.9))
def test_num_items_accumulation_equals_full_batch_mean(n, split, seed, ignored):
    """Micro-batches with different numbers of valid tokens (the accumulation bug) sum to the full mean."""
    split = min(split, n - 1)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g, dtype=f64)
    t = torch.randint(0, 5, (n,), generator=g)
    t[torch.rand(n, generator=g) < ignored] = -100
    w = torch.rand(5, generator=g, dtype=f64) + 0.1
    full = losskit.cross_entropy(x, t, weight=w)
    total = losskit.count_items(t, weight=w)
    parts = sum(
        losskit.cross_entropy(x[s], t[s], weight=w, num_items=total) for s in (slice(0, split), slice(split, n))
    )
    torch.testing.assert_close(parts, full.to(parts.dtype))


# --------------------------------------------------------------------------- autocast / compile


def test_under_cpu_autocast_bf16_logits_compute_in_float32():
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(16, 8)
    t = torch.randint(0, 4, (16,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = lin(x)
        assert logits.dtype == torch.bfloat16
        out = losskit.focal_loss(logits, t)
        out_ce = losskit.cross_entropy(logits, t)
        out_b = losskit.binary_focal_loss(logits, (logits.detach() > 0).float())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out)
    ref = F.cross_entropy(logits.float(), t)
    torch.testing.assert_close(out_ce.float(), ref, atol=2e-2, rtol=2e-2)
    (out + out_b).backward()
    assert torch.isfinite(lin.weight.grad).all()


def test_torch_compile_inductor_matches_eager_in_one_graph():
    """The default backend (Inductor, generated C++ on CPU) without graph breaks; the registry
    suite covers every loss with AOTAutograd."""
    torch._dynamo.reset()
    x = torch.randn(32, 6, requires_grad=True)
    t = torch.randint(0, 6, (32,))
    y = (torch.rand(32, 6) > 0.5).float()

    def step(x):
        return (
            losskit.focal_loss(x, t, gamma=2.0)
            + losskit.binary_focal_loss(x, y, gamma=0.5, alpha=0.25)
            + losskit.cross_entropy(x, t, label_smoothing=0.1)
            + losskit.binary_cross_entropy_with_logits(x, y, pos_weight=torch.full((6,), 2.0))
            + losskit.huber_loss(x, y)
            + losskit.pinball_loss(x, y[:, 0], [0.05, 0.1, 0.25, 0.5, 0.75, 0.9], monotone=True)
        )

    compiled = torch.compile(step, fullgraph=True)
    eager_val = step(x)
    comp_val = compiled(x)
    torch.testing.assert_close(comp_val, eager_val)
    (g1,) = torch.autograd.grad(eager_val, x)
    (g2,) = torch.autograd.grad(comp_val, x)
    torch.testing.assert_close(g1, g2)


def test_focal_kernels_work_under_torch_func_with_exact_second_derivatives():
    x = _logits(5, 3)
    t = torch.tensor([0, 2, 1, 1, 0])
    y = (x > 0).to(f64)
    for fn, target in ((losskit.focal_loss, t), (losskit.binary_focal_loss, y)):
        g_func = torch.func.grad(lambda z, fn=fn, target=target: fn(z, target, gamma=0.5))(x)
        xr = x.clone().requires_grad_()
        (g_auto,) = torch.autograd.grad(fn(xr, target, gamma=0.5), xr)
        torch.testing.assert_close(g_func, g_auto)
        # second derivatives through the closed-form kernels: exact, never a silent zero
        xr = x.clone().requires_grad_()
        assert torch.autograd.gradgradcheck(lambda z, fn=fn, target=target: fn(z, target, gamma=2.0), (xr,))
        assert torch.autograd.gradgradcheck(lambda z, fn=fn, target=target: fn(z, target, gamma=0.5), (xr,))
