"""The Triton kernels of linear_cross_entropy, run on CPU tensors through Triton's interpreter.

Triton decides when ``triton.language`` is first imported whether ``@triton.jit`` compiles or
interprets (``TRITON_INTERPRET=1``), and PyTorch's compiler stack imports it early (``import
torch._dynamo``). So unless this process started with ``TRITON_INTERPRET=1``, the module only
defines one test, which runs this very file in a fresh interpreter-mode subprocess; there, the
kernel tests below are defined and run.

The interpreter's ``tl.dot`` mishandles bf16 operands, so under it the kernels upcast the (already
rounded) bf16 tiles to float32 before the dots; the native bf16 dots run only on CUDA.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")

import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction

from losskit import LossInputError
from losskit.functional import linear_cross_entropy
from losskit.functional.fused import _use_triton
from test_linear_ce import IGN, make, reference

INTERPRETING = isinstance(tl.zeros, InterpretedFunction)

if not INTERPRETING:

    def test_triton_kernels_in_interpreter_subprocess():
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "TRITON_INTERPRET": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root / "src"), env.get("PYTHONPATH")) if p)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", __file__, "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist"],
            cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert " passed" in proc.stdout and "test_triton_kernels_in_interpreter_subprocess" not in proc.stdout

    def test_triton_on_cpu_without_interpreter_is_refused():
        x, w, _, t = make(n=4, h=8, v=20, dtype=torch.float32)
        with pytest.raises(LossInputError, match="`impl`"):
            linear_cross_entropy(x, w, t, impl="triton")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


if INTERPRETING:
    CASES = [
        ({}, "mean"),
        ({"bias": True}, "sum"),
        ({"eps": 0.1, "zl": 0.05}, "none"),
        ({"bias": True, "eps": 0.2, "zl": 0.01, "cap": 3.0}, "mean"),
        ({"cap": 2.0}, "none"),
    ]

    @pytest.mark.parametrize(("opt", "reduction"), CASES, ids=[f"{'-'.join(o) or 'plain'}-{r}" for o, r in CASES])
    def test_triton_matches_plain_path(opt, reduction):
        # V = 37 is not a multiple of BLOCK_V (32), N = 19 not of BLOCK_M (16), H = 20 not of BLOCK_K (16)
        x, w, b, t = make(n=19, h=20, v=37, dtype=torch.float32, bias=opt.get("bias", False))
        kw = {"label_smoothing": opt.get("eps", 0.0), "z_loss": opt.get("zl", 0.0), "softcap": opt.get("cap")}
        out = linear_cross_entropy(x, w, t, linear_bias=b, reduction=reduction, impl="triton", **kw)
        ref = reference(x, w, t, b, reduction=reduction, **{k: opt[k] for k in ("eps", "zl", "cap") if k in opt})
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
        params = [p for p in (x, w, b) if p is not None]
        g = torch.linspace(-1.0, 2.0, t.numel()) if reduction == "none" else torch.tensor(0.7)
        got = torch.autograd.grad((out * g).sum(), params)
        want = torch.autograd.grad((ref * g.double()).sum(), params)
        for a, c in zip(got, want, strict=True):
            torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-5)

    def test_triton_all_ignored_and_empty():
        for n in (0, 5):
            x, w, b, t = make(n=n, h=8, v=20, dtype=torch.float32, bias=True)
            t.fill_(IGN)
            out = linear_cross_entropy(x, w, t, linear_bias=b, impl="triton")
            assert out.item() == 0.0 and out.requires_grad
            for grad in torch.autograd.grad(out, (x, w, b)):
                assert (grad == 0).all()

    def test_triton_single_token_and_frozen_weight():
        x, w, _, t = make(n=1, h=8, v=40, dtype=torch.float32, ignored=())
        w.requires_grad_(False)
        out = linear_cross_entropy(x, w, t, impl="triton")
        ref = reference(x, w, t)
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(torch.autograd.grad(out, x)[0], torch.autograd.grad(ref, x)[0], rtol=1e-4, atol=1e-6)

    def test_triton_bf16_confident_predictions():
        """Same regime and tolerance as the PyTorch path's half-precision test."""
        g = torch.Generator().manual_seed(0)
        n, h, v = 24, 64, 50
        w = torch.randn(v, h, generator=g) / h**0.5
        t = torch.randint(0, v, (n,), generator=g)
        x = 11.0 * w[t] + 0.1 * torch.randn(n, h, generator=g)
        x, w = x.bfloat16().requires_grad_(), w.bfloat16().requires_grad_()
        out = linear_cross_entropy(x, w, t, impl="triton")
        assert out.dtype == torch.bfloat16
        x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
        ref = reference(x64, w64, t)
        torch.testing.assert_close(out.double(), ref, rtol=2e-2, atol=0)
        gx, gw = torch.autograd.grad(out, (x, w))
        rx, rw = torch.autograd.grad(ref, (x64, w64))
        assert gx.dtype == torch.bfloat16 and gw.dtype == torch.bfloat16
        assert (gx.double() - rx).norm() / rx.norm() < 2e-2
        assert (gw.double() - rw).norm() / rw.norm() < 2e-2

    def test_triton_matches_torch_path_on_3d_input():
        x, w, b, t = make(n=12, h=16, v=33, dtype=torch.float32, bias=True)
        x3, t3 = x.detach().reshape(3, 4, 16), t.reshape(3, 4)
        a = linear_cross_entropy(x3, w.detach(), t3, linear_bias=b.detach(), reduction="none", impl="triton")
        c = linear_cross_entropy(x3, w.detach(), t3, linear_bias=b.detach(), reduction="none", impl="torch")
        assert a.shape == (3, 4)
        torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-5)

    def test_auto_stays_on_torch_for_cpu_tensors():
        # "auto" never picks Triton, even when the interpreter is on.
        assert not _use_triton("auto", torch.device("cpu"))
