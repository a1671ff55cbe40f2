"""linear_cross_entropy on a CUDA device: the chunked PyTorch path (bf16 and float32, every option
and reduction) and the Triton kernels, against the float64 plain path computed on the CPU.

Skipped where no CUDA device exists (the CPU suite covers the same maths); run this file and
``benchmarks/bench_linear_ce.py`` on a GPU before making Triton the CUDA default (docs/fused.md).
"""

from __future__ import annotations

import pytest
import torch

from losskit.functional import linear_cross_entropy
from test_linear_ce import OPTIONS, _kw, _ref_kw, make, reference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# bf16: the logits are rounded to 8 bits, as F.linear's are (docs/fused.md, "Accuracy")
TOL = {torch.float32: (1e-4, 1e-4), torch.bfloat16: (3e-2, 5e-2)}


def _check(impl, opt, reduction, dtype, chunk_size=None):
    x, w, b, t = make(n=300, h=64, v=1000, dtype=torch.float64, bias=opt.get("bias", False))
    ref = reference(x, w, t, b, reduction=reduction, **_ref_kw(opt))
    g = torch.linspace(-1.0, 2.0, t.numel(), dtype=torch.float64) if reduction == "none" else torch.tensor(0.7)
    params = [p for p in (x, w, b) if p is not None]
    want = torch.autograd.grad((ref * g).sum(), params)
    dev = [p.detach().to("cuda", dtype).requires_grad_() for p in params]
    xd, wd = dev[0], dev[1]
    bd = dev[2] if b is not None else None
    out = linear_cross_entropy(
        xd, wd, t.cuda(), linear_bias=bd, reduction=reduction, impl=impl, chunk_size=chunk_size, **_kw(opt)
    )
    got = torch.autograd.grad((out * g.to("cuda", dtype)).sum(), dev)
    tol_loss, tol_grad = TOL[dtype]
    torch.testing.assert_close(out.double().cpu(), ref.detach(), rtol=tol_loss, atol=tol_loss)
    for a, c in zip(got, want, strict=True):
        assert float((a.double().cpu() - c).norm() / c.norm()) < tol_grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opt", OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_chunked_path_on_cuda(opt, reduction, dtype, monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    _check("torch", opt, reduction, dtype, chunk_size=64)


def test_auto_is_the_chunked_path_on_cuda():
    x, w, _, t = make(n=40, h=16, v=100, dtype=torch.float32)
    x, w, t = x.detach().cuda(), w.detach().cuda(), t.cuda()
    torch.testing.assert_close(
        linear_cross_entropy(x, w, t, impl="auto"), linear_cross_entropy(x, w, t, impl="torch"), rtol=0, atol=0
    )


@pytest.mark.filterwarnings("ignore:losskit's Triton")  # the one-time warning is tested in test_linear_ce.py
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("opt", OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_triton_kernels_on_cuda(opt, reduction, dtype, monkeypatch):
    pytest.importorskip("triton")
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    _check("triton", opt, reduction, dtype)
