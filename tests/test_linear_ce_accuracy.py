"""linear_cross_entropy at a 262,144-token vocabulary in bf16 and fp16 against a float64 reference.

Small N and H keep it quick on a CPU; ``chunk_size=8`` makes the 32 tokens four chunks, so the
weight gradient is accumulated across chunks. The reference is the plain path (``F.linear`` then
PyTorch's ``cross_entropy``) in float64 on the same rounded inputs.

Where the errors come from (docs/fused.md, "Accuracy"): the logits matmul rounds to the input
dtype, as ``F.linear`` does, so each logit carries a relative error up to the unit roundoff
(2^-8 for bf16, 2^-11 for fp16); at confident predictions the few strongest competitors (logits
25-30) then carry errors of about 0.1 nats, which bounds the bf16 accuracy whatever the
accumulation. Everything summed over the vocabulary or over chunks (the log-sum-exp, the softmax,
the weight- and bias-gradient accumulation) is float32, so the error does not grow with V: the
plain fp16 path overflows here at flat predictions (the sum of 262,144 exponentials exceeds
65,504) and returns inf, this one does not.
"""

from __future__ import annotations

import pytest
import torch

from losskit.functional import linear_cross_entropy
from test_linear_ce import reference

N, H, V = 32, 32, 262_144

# Stated tolerances (also in docs/fused.md): relative error of the loss, and relative (norm)
# errors of the input and weight gradients, per dtype and prediction regime. Measured on
# 2026-11-30: bf16 confident 1.6e-2 / 3.3e-2 / 2.2e-2, bf16 flat 2.3e-3 / 1.7e-3 / 2.5e-5,
# fp16 confident 2.5e-4 / 1.3e-3 / 1.3e-3, fp16 flat 2.0e-4 / 2.2e-4 / 9.7e-4.
TOLERANCES = {
    (torch.bfloat16, "confident"): (3e-2, 6e-2, 5e-2),
    (torch.bfloat16, "flat"): (4e-3, 4e-3, 1e-4),
    (torch.float16, "confident"): (2e-3, 5e-3, 5e-3),
    (torch.float16, "flat"): (1e-3, 1e-3, 3e-3),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(regime, dtype):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(V, H, generator=g) / H**0.5
    t = torch.randint(0, V, (N,), generator=g)
    if regime == "confident":  # target logit ~34, the strongest of 262k competitors ~25-30
        x = 6.0 * H**0.5 * w[t] / w[t].norm(dim=1, keepdim=True) + 0.1 * torch.randn(N, H, generator=g)
    else:  # logits ~ N(0, 0.05^2): every probability close to 1/V
        x = 0.05 * torch.randn(N, H, generator=g)
    return x.to(dtype).requires_grad_(), w.to(dtype).requires_grad_(), t


def _rel(a, b):
    return float((a.double() - b).norm() / b.norm())


@pytest.mark.parametrize("regime", ["confident", "flat"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_large_vocabulary_half_precision_against_float64(dtype, regime):
    x, w, t = _data(regime, dtype)
    out = linear_cross_entropy(x, w, t, chunk_size=8)
    gx, gw = torch.autograd.grad(out, (x, w))
    assert out.dtype == gx.dtype == gw.dtype == dtype

    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    ref = reference(x64, w64, t)
    rx, rw = torch.autograd.grad(ref, (x64, w64))
    p_t = torch.softmax(x64.detach() @ w64.detach().T, -1).gather(1, t[:, None])
    if regime == "confident":
        assert p_t.median() > 0.99  # where a half-precision softmax rounds p_target to 1
    else:
        assert p_t.max() < 2.0 / V

    tol_loss, tol_x, tol_w = TOLERANCES[dtype, regime]
    assert abs(out.item() - ref.item()) / ref.item() < tol_loss
    assert _rel(gx, rx) < tol_x
    assert _rel(gw, rw) < tol_w
