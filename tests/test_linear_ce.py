"""linear_cross_entropy (chunked PyTorch path) against the plain path in float64.

The reference is ``F.linear`` then ``torch.nn.functional.cross_entropy`` (PyTorch's own loss, with
its own label smoothing), plus the z-loss term written directly from its definition.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import LossInputError
from losskit.functional import linear_cross_entropy
from losskit.fused import chunk_size_for_budget, default_chunk_size
from losskit.nn import LinearCrossEntropyLoss

IGN = -100


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny matmuls: with two OpenMP threads on a loaded 2-core machine each one waits ~50 ms."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def reference(x, w, t, b=None, *, eps=0.0, zl=0.0, cap=None, reduction="mean", num_items=None, ignore_index=IGN):
    """Plain path in float64: materialised logits, PyTorch's cross_entropy, z-loss by definition."""
    z = TF.linear(x.double(), w.double(), None if b is None else b.double())
    if cap is not None:
        z = cap * torch.tanh(z / cap)
    z2 = z.reshape(-1, z.shape[-1])
    t1 = t.reshape(-1)
    valid = t1 != ignore_index
    ce = TF.cross_entropy(z2, t1, ignore_index=ignore_index, label_smoothing=eps, reduction="none")
    per = ce + zl * torch.logsumexp(z2, -1) ** 2 * valid
    if reduction == "none":
        return per.reshape(t.shape)
    if reduction == "sum":
        return per.sum()
    denom = float(num_items) if num_items is not None else max(int(valid.sum()), 1)
    return per.sum() / denom


def make(n=11, h=6, v=37, *, dtype=torch.float64, bias=False, ignored=(2, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, h, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    w = torch.randn(v, h, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    b = torch.randn(v, generator=g, dtype=torch.float64).to(dtype).requires_grad_() if bias else None
    t = torch.randint(0, v, (n,), generator=g)
    for i in ignored:
        if i < n:
            t[i] = IGN
    return x, w, b, t


def grads_of(out, params, grad_out):
    return torch.autograd.grad((out * grad_out).sum(), [p for p in params if p is not None])


OPTIONS = [
    {},
    {"bias": True},
    {"eps": 0.1},
    {"zl": 0.05},
    {"cap": 2.0},
    {"bias": True, "eps": 0.2, "zl": 0.01, "cap": 3.0},
]


def _kw(opt):
    return {"label_smoothing": opt.get("eps", 0.0), "z_loss": opt.get("zl", 0.0), "softcap": opt.get("cap")}


def _ref_kw(opt):
    return {k: opt[k] for k in ("eps", "zl", "cap") if k in opt}


@pytest.mark.parametrize("chunk_size", [None, 4])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opt", OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_matches_plain_path(opt, reduction, chunk_size):
    x, w, b, t = make(bias=opt.get("bias", False))
    out = linear_cross_entropy(
        x, w, t, linear_bias=b, reduction=reduction, chunk_size=chunk_size, impl="torch", **_kw(opt)
    )
    ref = reference(x, w, t, b, reduction=reduction, **_ref_kw(opt))
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    # a non-uniform grad_output for "none" (a per-token weighting after the loss)
    g = torch.linspace(-1.0, 2.0, t.numel(), dtype=torch.float64) if reduction == "none" else torch.tensor(0.7)
    for got, want in zip(grads_of(out, (x, w, b), g), grads_of(ref, (x, w, b), g), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(reduction):
    x, w, b, t = make(n=5, h=3, v=7, bias=True, ignored=(1,))

    def f(x, w, b):
        out = linear_cross_entropy(
            x, w, t, linear_bias=b, reduction=reduction, label_smoothing=0.1, z_loss=0.1, softcap=2.5,
            chunk_size=2, impl="torch",
        )  # fmt: skip
        return out * torch.arange(1.0, 6.0, dtype=out.dtype) if reduction == "none" else out

    # gradcheck also runs the backward twice on one graph: the repeat must be bit-identical.
    assert torch.autograd.gradcheck(f, (x, w, b), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(("n", "v", "chunk"), [(1, 5, None), (1, 5, 3), (9, 13, 2), (7, 64, 3), (16, 3, 16)])
def test_odd_sizes(n, v, chunk):
    x, w, b, t = make(n=n, h=4, v=v, bias=True, ignored=())
    out = linear_cross_entropy(x, w, t, linear_bias=b, chunk_size=chunk, impl="torch")
    ref = reference(x, w, t, b)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    g1 = torch.autograd.grad(out, (x, w, b))
    g2 = torch.autograd.grad(ref, (x, w, b))
    for a, c in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, c, rtol=1e-9, atol=1e-12)


def test_batched_input_shape_and_none_shape():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    w = torch.randn(8, 5, generator=g, dtype=torch.float64)
    t = torch.randint(0, 8, (2, 3), generator=g)
    t[1, 2] = IGN
    out = linear_cross_entropy(x, w, t, reduction="none", impl="torch")
    assert out.shape == (2, 3)
    assert out[1, 2] == 0
    torch.testing.assert_close(out, reference(x, w, t, reduction="none"))
    torch.testing.assert_close(linear_cross_entropy(x, w, t, impl="torch"), reference(x, w, t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n", [0, 6])
def test_all_ignored_is_zero_and_connected(reduction, n):
    x, w, b, t = make(n=n, bias=True)
    t.fill_(IGN)
    out = linear_cross_entropy(x, w, t, linear_bias=b, reduction=reduction, z_loss=0.1, impl="torch")
    assert out.requires_grad
    assert (out == 0).all() and torch.isfinite(out).all()
    gx, gw, gb = torch.autograd.grad(out.sum(), (x, w, b))
    assert (gx == 0).all() and (gw == 0).all() and (gb == 0).all()


def test_custom_ignore_index():
    x, w, _, t = make(ignored=())
    t[3] = 5
    out = linear_cross_entropy(x, w, t, ignore_index=5, impl="torch")
    torch.testing.assert_close(out, reference(x, w, t, ignore_index=5))


def test_num_items_accumulation_matches_full_batch():
    """Two uneven micro-batches, each divided by the full valid count, give the full mean and grads."""
    x, w, b, t = make(n=12, bias=True, ignored=(0, 1, 2, 9))
    full = linear_cross_entropy(x, w, t, linear_bias=b, impl="torch")
    g_full = torch.autograd.grad(full, (x, w, b))
    count = losskit.count_items(t)
    parts = sum(
        linear_cross_entropy(x[s], w, t[s], linear_bias=b, num_items=count, impl="torch")
        for s in (slice(0, 4), slice(4, 12))
    )
    torch.testing.assert_close(parts, full)
    for a, c in zip(torch.autograd.grad(parts, (x, w, b)), g_full, strict=True):
        torch.testing.assert_close(a, c)


def test_second_backward_through_retained_graph():
    """The eager schedule's stored gradients are used once; a retained second backward recomputes."""
    x, w, b, t = make(bias=True)
    out = linear_cross_entropy(x, w, t, linear_bias=b, label_smoothing=0.1, impl="torch")
    out.backward(retain_graph=True)
    out.backward(torch.tensor(2.0, dtype=out.dtype))
    ref = reference(x, w, t, b, eps=0.1)
    want = torch.autograd.grad(ref * 3.0, (x, w, b))
    for p, c in zip((x, w, b), want, strict=True):
        torch.testing.assert_close(p.grad, c)


def test_frozen_weight_and_no_grad():
    x, w, _, t = make()
    w.requires_grad_(False)
    out = linear_cross_entropy(x, w, t, impl="torch")
    (gx,) = torch.autograd.grad(out, (x,))
    torch.testing.assert_close(gx, torch.autograd.grad(reference(x, w, t), (x,))[0])
    with torch.no_grad():
        torch.testing.assert_close(linear_cross_entropy(x, w, t, impl="torch"), reference(x, w, t))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_confident_predictions(dtype):
    """Confident predictions (1 - p_target from 2e-5 to 4e-2): bf16/fp16 keep the target gradient.

    Stated tolerance: relative (norm) error of the input and weight gradients <= 2e-2 and loss within
    2e-2 relative, against the float64 plain path on the same rounded inputs (measured: about 5e-3
    for bf16, 1e-3 for fp16). The plain path run in bf16 (``F.linear`` + ``F.cross_entropy``) is off
    by about 0.22 here: its softmax rounds p_target to 1, so the target entry ``p - 1`` becomes 0.
    """
    g = torch.Generator().manual_seed(0)
    n, h, v = 24, 64, 50
    w = torch.randn(v, h, generator=g) / h**0.5
    t = torch.randint(0, v, (n,), generator=g)
    x = 11.0 * w[t] + 0.1 * torch.randn(n, h, generator=g)
    x, w = x.to(dtype).requires_grad_(), w.to(dtype).requires_grad_()
    out = linear_cross_entropy(x, w, t, impl="torch")
    assert out.dtype == dtype
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    ref = reference(x64, w64, t)
    p_t = torch.softmax(x64 @ w64.T, -1).gather(1, t[:, None])
    assert p_t.min() > 0.95 and p_t.median() > 0.995  # where a bf16 softmax rounds p_t to 1
    torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=0)
    gx, gw = torch.autograd.grad(out, (x, w))
    rx, rw = torch.autograd.grad(ref, (x64, w64))
    assert gx.dtype == dtype and gw.dtype == dtype
    assert (gx.double() - rx).norm() / rx.norm() < 2e-2
    assert (gw.double() - rw).norm() / rw.norm() < 2e-2


def test_module_matches_functional():
    x, w, b, t = make(bias=True)
    mod = LinearCrossEntropyLoss(label_smoothing=0.1, z_loss=0.01, softcap=4.0, impl="torch")
    torch.testing.assert_close(
        mod(x, w, t, linear_bias=b),
        linear_cross_entropy(x, w, t, linear_bias=b, label_smoothing=0.1, z_loss=0.01, softcap=4.0, impl="torch"),
    )
    assert "z_loss=0.01" in repr(mod)


def test_auto_on_cpu_matches_torch():
    x, w, b, t = make(bias=True)
    torch.testing.assert_close(
        linear_cross_entropy(x, w, t, linear_bias=b, impl="auto"),
        linear_cross_entropy(x, w, t, linear_bias=b, impl="torch"),
    )


def test_auto_keeps_cuda_on_the_chunked_path_and_triton_warns_once(monkeypatch):
    """Until the Triton kernels have run on a GPU, "auto" never picks them; asking for them on CUDA
    warns once per process, naming what has not been run (decided from the device alone, so this
    runs without a GPU)."""
    from losskit.functional import fused

    cuda = torch.device("cuda")
    assert not fused._use_triton("auto", cuda)
    assert not fused._use_triton("torch", cuda)
    monkeypatch.setattr(fused, "_warned_unverified", False)
    with pytest.warns(UserWarning, match="not been run on a CUDA device") as record:
        assert fused._use_triton("triton", cuda)
        assert fused._use_triton("triton", cuda)
    assert len(record) == 1
    for phrase in ("no CUDA test run", "bf16/fp16 tl.dot", "no benchmark", "untuned tiles"):
        assert phrase in str(record[0].message)
    assert fused._use_triton("triton", torch.device("cpu"))  # the interpreter: tested, no warning


def test_under_torch_compile():
    """A compiled model around the loss runs (the loss is a graph break) and gives the same grads."""
    torch.manual_seed(0)
    body = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh())
    head = torch.nn.Linear(8, 20, bias=False)
    x = torch.randn(10, 6)
    t = torch.randint(0, 20, (10,))

    def step(x, t):
        return linear_cross_entropy(body(x), head.weight, t, z_loss=1e-3, impl="torch")

    compiled = torch.compile(step, backend="aot_eager")
    out = compiled(x, t)
    out.backward()
    got = [p.grad.clone() for p in (*body.parameters(), head.weight)]
    for p in (*body.parameters(), head.weight):
        p.grad = None
    ref = reference(body(x).double(), head.weight.double(), t, zl=1e-3)
    ref.backward()
    torch.testing.assert_close(out.double(), ref.detach(), rtol=1e-5, atol=1e-6)
    for a, p in zip(got, (*body.parameters(), head.weight), strict=True):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)


def test_default_chunk_size():
    # float32: H / 4 rows, so the chunk buffer is a quarter of the float32 weight gradient
    assert default_chunk_size(512) == 128
    assert default_chunk_size(4096, torch.bfloat16) == 4096 // 6 // 16 * 16
    assert default_chunk_size(8) == 16
    assert default_chunk_size(512, softcap=True) == 64


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("budget_mib", [1, 8, 16, 32, 100])
def test_chunk_size_for_budget_fits_the_budget(budget_mib, dtype):
    """The chunk buffers (float32, plus a half copy for bf16) fit; 16 more rows would not."""
    vocab, budget = 32768, budget_mib * 2**20
    per_row = vocab * (4 + (2 if dtype == torch.bfloat16 else 0))
    rows = chunk_size_for_budget(budget, vocab, dtype)
    assert rows % 16 == 0
    assert rows == 16 or rows * per_row <= budget < (rows + 16) * per_row
    # the default rule is the budget of a quarter of the float32 weight gradient
    assert chunk_size_for_budget(vocab * 512, vocab) == default_chunk_size(512)
    assert chunk_size_for_budget(vocab * 512, vocab, softcap=True) == default_chunk_size(512, softcap=True)


def _bad_cases():
    x = torch.randn(4, 3)
    w = torch.randn(7, 3)
    t = torch.randint(0, 7, (4,))
    return [
        ("input", (torch.randint(0, 3, (4, 3)), w, t), {}),
        ("input", (torch.randn(4, 5), w, t), {}),
        ("linear_weight", (x, torch.randn(7, 3, 1), t), {}),
        ("linear_weight", (x, w.double(), t), {}),
        ("target", (x, w, t.float()), {}),
        ("target", (x, w, t[:3]), {}),
        ("target", (x, w, torch.tensor([0, 1, 7, 2])), {}),
        ("target", (x, w, torch.tensor([0, 1, -3, 2])), {}),
        ("linear_bias", (x, w, t), {"linear_bias": torch.randn(6)}),
        ("label_smoothing", (x, w, t), {"label_smoothing": 1.5}),
        ("label_smoothing", (x, w, t), {"label_smoothing": 1.0}),  # like cross_entropy: [0, 1)
        ("z_loss", (x, w, t), {"z_loss": -0.1}),
        ("softcap", (x, w, t), {"softcap": 0.0}),
        ("reduction", (x, w, t), {"reduction": "avg"}),
        ("chunk_size", (x, w, t), {"chunk_size": 0}),
        ("impl", (x, w, t), {"impl": "cuda"}),
        ("ignore_index", (x, w, t), {"ignore_index": 1.5}),
        ("num_items", (x, w, t), {"num_items": -1}),
        ("process_group", (x, w, t), {"process_group": object()}),  # torch.distributed not initialised
    ]


@pytest.mark.parametrize(("argument", "args", "kwargs"), _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_bad_input_raises_naming_argument(argument, args, kwargs):
    with pytest.raises(LossInputError) as info:
        linear_cross_entropy(*args, **kwargs)
    assert f"`{argument}`" in str(info.value)
