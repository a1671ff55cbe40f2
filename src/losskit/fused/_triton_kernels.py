"""The Triton kernels of :mod:`losskit.fused._triton` (imported on first use only).

Importing this module imports Triton, which decides at that moment (from ``TRITON_INTERPRET``)
whether ``@triton.jit`` compiles for the GPU or builds interpreter objects.
"""

import triton
import triton.language as tl


@triton.jit
def _logit_tile(
    x_ptr, w_ptr, b_ptr, rows, cols, row_ok, col_ok, H,
    HAS_BIAS: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    """The ``(BLOCK_M, BLOCK_V)`` tile of ``x @ W.T + b`` in float32, accumulated over ``H``."""
    acc = tl.zeros((BLOCK_M, BLOCK_V), tl.float32)
    for k0 in range(0, H, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < H
        xt = tl.load(x_ptr + rows[:, None] * H + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        wt = tl.load(w_ptr + cols[None, :] * H + ks[:, None], mask=col_ok[None, :] & k_ok[:, None], other=0.0)
        if UPCAST:
            xt, wt = xt.to(tl.float32), wt.to(tl.float32)
        acc = tl.dot(xt, wt, acc, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    return acc


@triton.jit
def lse_kernel(
    x_ptr, w_ptr, b_ptr, tgt_ptr, lse_ptr, zt_ptr, zsum_ptr,
    N, V, H, softcap,
    HAS_BIAS: tl.constexpr, HAS_CAP: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    tgt = tl.load(tgt_ptr + rows, mask=row_ok, other=-1)
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    s_i = tl.zeros((BLOCK_M,), tl.float32)
    z_t = tl.zeros((BLOCK_M,), tl.float32)
    z_sum = tl.zeros((BLOCK_M,), tl.float32)
    for v0 in range(0, V, BLOCK_V):
        cols = v0 + tl.arange(0, BLOCK_V)
        col_ok = cols < V
        acc = _logit_tile(
            x_ptr, w_ptr, b_ptr, rows, cols, row_ok, col_ok, H,
            HAS_BIAS, PRECISION, UPCAST, BLOCK_M, BLOCK_V, BLOCK_K,
        )  # fmt: skip
        if HAS_CAP:
            acc = softcap * (1.0 - 2.0 / (tl.exp(2.0 * acc / softcap) + 1.0))
        z_t += tl.sum(tl.where(cols[None, :] == tgt[:, None], acc, 0.0), axis=1)
        z_sum += tl.sum(tl.where(col_ok[None, :], acc, 0.0), axis=1)
        acc = tl.where(col_ok[None, :], acc, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(acc, axis=1))
        s_i = s_i * tl.exp(m_i - m_new) + tl.sum(tl.exp(acc - m_new[:, None]), axis=1)
        m_i = m_new
    tl.store(lse_ptr + rows, m_i + tl.log(s_i), mask=row_ok)
    tl.store(zt_ptr + rows, z_t, mask=row_ok)
    tl.store(zsum_ptr + rows, z_sum, mask=row_ok)


@triton.jit
def grad_kernel(
    x_ptr, w_ptr, b_ptr, tgt_ptr, lse_ptr, g_ptr, gx_ptr, gw_ptr, gb_ptr,
    N, V, H, softcap, eps, zl,
    HAS_BIAS: tl.constexpr, HAS_CAP: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    NEED_X: tl.constexpr, NEED_W: tl.constexpr, NEED_B: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_v = tl.program_id(1)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_v * BLOCK_V + tl.arange(0, BLOCK_V)
    row_ok = rows < N
    col_ok = cols < V
    tgt = tl.load(tgt_ptr + rows, mask=row_ok, other=-1)
    g = tl.load(g_ptr + rows, mask=row_ok, other=0.0)
    lse = tl.load(lse_ptr + rows, mask=row_ok, other=0.0)
    acc = _logit_tile(
        x_ptr, w_ptr, b_ptr, rows, cols, row_ok, col_ok, H,
        HAS_BIAS, PRECISION, UPCAST, BLOCK_M, BLOCK_V, BLOCK_K,
    )  # fmt: skip
    if HAS_CAP:
        th = 1.0 - 2.0 / (tl.exp(2.0 * acc / softcap) + 1.0)
        acc = softcap * th
    p = tl.exp(acc - lse[:, None])
    a = 1.0 + 2.0 * zl * lse
    d = a[:, None] * p - eps / V
    d = tl.where(cols[None, :] == tgt[:, None], d - (1.0 - eps), d)
    if HAS_CAP:
        d = d * (1.0 - th * th)
    d = tl.where(row_ok[:, None] & col_ok[None, :], d * g[:, None], 0.0)
    if NEED_B:
        tl.atomic_add(gb_ptr + cols, tl.sum(d, axis=0), mask=col_ok)
    d_mm = d.to(x_ptr.dtype.element_ty)
    if UPCAST:
        d_mm = d_mm.to(tl.float32)
    for k0 in range(0, H, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < H
        if NEED_X:
            wk = tl.load(w_ptr + cols[:, None] * H + ks[None, :], mask=col_ok[:, None] & k_ok[None, :], other=0.0)
            if UPCAST:
                wk = wk.to(tl.float32)
            gx = tl.dot(d_mm, wk, input_precision=PRECISION)
            tl.atomic_add(gx_ptr + rows[:, None] * H + ks[None, :], gx, mask=row_ok[:, None] & k_ok[None, :])
        if NEED_W:
            xk = tl.load(x_ptr + rows[:, None] * H + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
            if UPCAST:
                xk = xk.to(tl.float32)
            gw = tl.dot(tl.trans(d_mm), xk, input_precision=PRECISION)
            tl.atomic_add(gw_ptr + cols[:, None] * H + ks[None, :], gw, mask=col_ok[:, None] & k_ok[None, :])
