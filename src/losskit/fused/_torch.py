"""Chunked linear cross-entropy in plain PyTorch (CPU and CUDA).

The tokens that count (``target != ignore_index``) are walked in chunks of ``chunk_size`` rows.
For each chunk one ``(chunk, V)`` buffer receives the logits ``x W^T + b``, is turned in place into
log-probabilities (``torch._log_softmax`` with ``out=`` the buffer), then into probabilities and
finally into ``dL/dlogits``, which feeds the two gradient matmuls:

* ``grad_input[chunk] = dlogits @ W``
* ``grad_weight += dlogits^T @ x[chunk]`` (``addmm_`` into one preallocated float32 buffer)

so the only ``O(N V)`` memory ever alive is that one chunk buffer, reused for every chunk.

Two schedules share the per-chunk maths:

* **eager** (``reduction="mean"``/``"sum"``): the gradients are computed in the forward, with unit
  weight per token; the backward multiplies them by the (uniform) incoming gradient. Three
  ``N x H x V`` matmuls in total, the arithmetic floor.
* **lazy** (``reduction="none"``, where the incoming gradient may differ per token): the forward
  keeps only the per-token log-sum-exp (``O(N)``), the backward recomputes each chunk's logits and
  scales each row by its own incoming gradient. Four matmuls.

With a vocabulary shard (tensor parallelism, :mod:`losskit.fused._parallel`) each rank runs the
same chunks over its own rows of ``W``; per chunk the row maximum and then the sums of
exponentials, target logits and logits are all-reduced (two collectives per chunk), and the
input gradient once at the end. Memory per rank: the shard's gradients, ``O(N)`` statistics and
one ``(chunk, V / P)`` buffer.

A second backward through the same graph (``retain_graph=True``) recomputes the gradients (the
stored ones are scaled in place by the first), so it stays correct.

Per token ``i`` with target ``t``, logits ``z`` (after the optional soft-cap), smoothing ``eps``
and z-loss weight ``zl``:

.. math::
    \\ell_i = (1 - \\epsilon)(\\mathrm{lse}_i - z_{it})
              + \\epsilon(\\mathrm{lse}_i - \\tfrac{1}{V}\\textstyle\\sum_j z_{ij})
              + zl\\,\\mathrm{lse}_i^2, \\qquad
    \\frac{\\partial \\ell_i}{\\partial z_{ij}} = (1 + 2\\,zl\\,\\mathrm{lse}_i)\\,p_{ij}
              - (1 - \\epsilon)[j = t] - \\epsilon / V .

The target entry is evaluated as ``a * expm1(log p_t) + (a - 1) + eps - eps/V`` from the float32
log-probability, so confident predictions (``p_t -> 1``) keep their gradient.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from losskit.fused._parallel import VocabShard

__all__ = ["chunk_size_for_budget", "chunked_linear_cross_entropy", "default_chunk_size"]

_HALF = (torch.float16, torch.bfloat16)


def _bytes_per_entry(dtype: torch.dtype, softcap: bool) -> int:
    """Chunk-buffer bytes per logit: float32 values, a half-precision copy for fp16/bf16 inputs
    (the matmul operand), and the soft-cap derivative when a soft-cap is set."""
    return 4 + (2 if dtype in _HALF else 0) + (4 if softcap else 0)


def default_chunk_size(hidden: int, dtype: torch.dtype = torch.float32, *, softcap: bool = False) -> int:
    """Rows per chunk: the chunk buffers stay within a quarter of the float32 weight gradient.

    The weight gradient (``V x H`` in float32) must exist anyway; the chunk buffers hold
    ``chunk x V`` float32 values (plus a half-precision copy for fp16/bf16 inputs, plus the
    soft-cap derivative when ``softcap`` is set). Choosing ``chunk * V * bytes <= V * H * 4 / 4``
    gives ``chunk = H / 4`` for float32 without soft-cap (128 rows at ``H = 512``), rounded down
    to a multiple of 16 and at least 16 rows. ``V`` cancels out: the rule depends on ``H`` and the
    dtype only, and the chunk buffer is ``chunk * V`` entries.
    """
    rows = hidden // _bytes_per_entry(dtype, softcap)
    return max(16, rows // 16 * 16)


def chunk_size_for_budget(
    budget_bytes: int, vocab: int, dtype: torch.dtype = torch.float32, *, softcap: bool = False
) -> int:
    """Rows per chunk whose buffers fit in ``budget_bytes``: the one knob between time and memory.

    The chunked path needs, besides the gradients themselves and ``O(N)`` vectors, one chunk
    buffer of ``chunk x V`` entries (:func:`default_chunk_size` explains the bytes per entry).
    Larger chunks mean fewer passes over the weight and its gradient (each chunk streams ``W``
    twice and read-modify-writes the float32 weight gradient once) and larger, more efficient
    matmuls, so time falls as the budget grows; ``docs/fused.md`` has the measured table.
    The result is rounded down to a multiple of 16 rows, at least 16; with a vocabulary shard
    (``process_group``) pass this rank's ``V``.

    Example:
        >>> chunk_size_for_budget(32 * 2**20, 32768)   # 32 MiB at V = 32768, float32
        256
        >>> chunk_size_for_budget(32 * 2**20, 32768, torch.bfloat16)
        160
    """
    rows = int(budget_bytes) // (vocab * _bytes_per_entry(dtype, softcap))
    return max(16, rows // 16 * 16)


class _Options:
    """The non-tensor arguments, grouped (one object through ``Function.apply``)."""

    def __init__(
        self,
        ignore_index: int,
        label_smoothing: float,
        z_loss: float,
        softcap: float | None,
        chunk_size: int,
        shard: VocabShard | None = None,
    ) -> None:
        self.ignore_index = ignore_index
        self.eps = float(label_smoothing)
        self.zl = float(z_loss)
        self.softcap = None if softcap is None else float(softcap)
        self.chunk = int(chunk_size)
        self.shard = shard


class _Chunks:
    """Reusable per-chunk buffers and the per-chunk maths.

    With a vocabulary shard (``opts.shard``) the buffers hold this rank's columns only, targets are
    turned into local row indices with an ``owned`` mask, and the row statistics are combined
    across ranks; without one ``owned`` is None and every target is local.
    """

    def __init__(self, x: Tensor, weight: Tensor, bias: Tensor | None, opts: _Options, rows: int) -> None:
        self.x, self.weight, self.opts = x, weight, opts
        self.cdtype = torch.float32 if weight.dtype in _HALF else weight.dtype
        self.vocab = weight.shape[0] if opts.shard is None else opts.shard.vocab
        c = max(1, min(opts.chunk, rows))
        dev = weight.device
        self.buf = torch.empty(c, weight.shape[0], dtype=self.cdtype, device=dev)
        self.hbuf = torch.empty(c, weight.shape[0], dtype=weight.dtype, device=dev) if weight.dtype in _HALF else None
        self.cap = torch.empty(c, weight.shape[0], dtype=self.cdtype, device=dev) if opts.softcap is not None else None
        self.bias = bias
        self.bias32 = None if bias is None or self.hbuf is None else bias.to(self.cdtype)

    def targets(self, target: Tensor) -> tuple[Tensor, Tensor | None]:
        """Column indices of the targets in this rank's buffer, and which of them it owns."""
        if self.opts.shard is None:
            return target, None
        return self.opts.shard.local_targets(target)

    def logits(self, x_c: Tensor, tgt: Tensor, owned: Tensor | None) -> Tensor:
        """The (soft-capped) logits of a chunk, in the compute dtype, in the shared buffer.

        For fp16/bf16 the matmul rounds the logits to the input dtype (as ``F.linear`` does); the
        target logit, which dominates the log-sum-exp of a confident prediction, is recomputed
        exactly in float32 (a ``chunk x H`` dot) so that ``log p_target`` keeps its precision.
        """
        m = x_c.shape[0]
        buf = self.buf[:m]
        if self.hbuf is None:
            if self.bias is None:
                torch.mm(x_c, self.weight.t(), out=buf)
            else:
                torch.addmm(self.bias, x_c, self.weight.t(), out=buf)
        else:
            hbuf = self.hbuf[:m]
            torch.mm(x_c, self.weight.t(), out=hbuf)
            buf.copy_(hbuf)
            z_t = (x_c.to(self.cdtype) * self.weight.index_select(0, tgt).to(self.cdtype)).sum(1)
            if self.bias32 is not None:
                buf.add_(self.bias32)
                z_t = z_t + self.bias32.index_select(0, tgt)
            if owned is not None:  # rows whose target lives on another rank keep their logit
                z_t = torch.where(owned, z_t, buf.gather(1, tgt[:, None]).squeeze(1))
            buf.scatter_(1, tgt[:, None], z_t[:, None])
        cap = self.opts.softcap
        if cap is not None:
            buf.div_(cap).tanh_()
            torch.mul(buf, buf, out=self.cap[:m]).neg_().add_(1.0)  # d z / d raw = 1 - tanh^2
            buf.mul_(cap)
        return buf

    def loss_stats(
        self, buf: Tensor, tgt: Tensor, owned: Tensor | None, *, probs: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Per-token loss, lse and log p_target of a chunk of logits in ``buf``.

        ``buf`` is left holding log-probabilities, or probabilities when ``probs`` is set (always
        so with a vocabulary shard, which needs the exponentials for the global sum anyway).
        """
        opts = self.opts
        if opts.shard is not None:
            return self._sharded_stats(buf, tgt, owned)
        z_t = buf.gather(1, tgt[:, None]).squeeze(1)
        torch._log_softmax(buf, 1, False, out=buf)
        logp_t = buf.gather(1, tgt[:, None]).squeeze(1)
        lse = z_t - logp_t
        loss = -logp_t
        if opts.eps:
            loss = (1.0 - opts.eps) * loss - opts.eps * buf.mean(1)
        if opts.zl:
            loss = loss + opts.zl * lse * lse
        if probs:
            buf.exp_()
        return loss, lse, logp_t

    def _sharded_stats(self, buf: Tensor, tgt: Tensor, owned: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``loss_stats`` across the ranks of a vocabulary shard; ``buf`` becomes probabilities."""
        opts, shard = self.opts, self.opts.shard
        row_max = shard.all_reduce(buf.amax(1), dist.ReduceOp.MAX)
        stats = torch.zeros(3, buf.shape[0], dtype=buf.dtype, device=buf.device)
        stats[1] = torch.where(owned, buf.gather(1, tgt[:, None]).squeeze(1), stats[1])
        if opts.eps:
            stats[2] = buf.sum(1)
        buf.sub_(row_max[:, None]).exp_()
        stats[0] = buf.sum(1)
        sum_exp, z_t, z_sum = shard.all_reduce(stats)
        log_sum = sum_exp.log()
        buf.div_(sum_exp[:, None])
        lse = row_max + log_sum
        logp_t = z_t - lse
        loss = -logp_t
        if opts.eps:
            loss = (1.0 - opts.eps) * loss + opts.eps * (lse - z_sum / self.vocab)
        if opts.zl:
            loss = loss + opts.zl * lse * lse
        return loss, lse, logp_t

    def dlogits(self, buf: Tensor, tgt: Tensor, owned: Tensor | None, logp_t: Tensor, lse: Tensor) -> Tensor:
        """Turn ``buf`` (probabilities) into ``d loss_i / d raw logits`` in place."""
        opts = self.opts
        em1 = torch.expm1(logp_t)
        if opts.zl:
            a = 1.0 + 2.0 * opts.zl * lse
            buf.mul_(a[:, None])
            target_value = a * em1 + (a - 1.0)
        else:
            target_value = em1
        if opts.eps:
            buf.sub_(opts.eps / self.vocab)
            target_value = target_value + (opts.eps - opts.eps / self.vocab)
        target_value = target_value.to(buf.dtype)
        if owned is None:
            buf.scatter_(1, tgt[:, None], target_value[:, None])
        else:
            rows = torch.nonzero(owned).squeeze(1)
            buf[rows, tgt[rows]] = target_value[rows]
        if self.cap is not None:
            buf.mul_(self.cap[: buf.shape[0]])
        return buf

    def accumulate(
        self,
        d: Tensor,
        x_c: Tensor,
        rows: slice | Tensor,
        scale: Tensor | None,
        grad_x: Tensor | None,
        grad_w: Tensor | None,
        grad_b: Tensor | None,
    ) -> None:
        """Add one chunk's contribution (rows scaled by ``scale``, or 1) to the gradient buffers.

        With a vocabulary shard ``grad_x`` receives this rank's part of the input gradient; the
        caller all-reduces it once after the last chunk.
        """
        if self.hbuf is not None:
            d_mm = self.hbuf[: d.shape[0]]
            d_mm.copy_(d)
        else:
            d_mm = d
        if grad_x is not None:
            if isinstance(rows, slice):  # write straight into the gradient's rows
                gx = torch.mm(d_mm, self.weight, out=grad_x[rows])
            else:
                gx = torch.mm(d_mm, self.weight)
            if scale is not None:
                gx.mul_(scale[:, None].to(gx.dtype))
            if not isinstance(rows, slice):
                grad_x[rows] = gx
        if grad_w is not None:
            xs = x_c.to(self.cdtype)
            if scale is not None:
                xs = xs * scale[:, None]
            grad_w.addmm_(d.t(), xs)
        if grad_b is not None:
            if scale is None:
                grad_b.add_(d.sum(0))
            else:
                grad_b.addmv_(d.t(), scale.to(d.dtype))

    def finish(self, grad_x: Tensor | None) -> None:
        """Sum the ranks' parts of the input gradient (vocabulary shard only)."""
        if self.opts.shard is not None and grad_x is not None:
            self.opts.shard.all_reduce(grad_x)


def _row_chunks(target: Tensor, ignore_index: int, chunk: int) -> tuple[int, list[slice | Tensor]]:
    """The tokens that count, in chunks: plain slices when every token counts (views, no copies),
    index tensors otherwise."""
    idx = torch.nonzero(target != ignore_index).squeeze(1)
    count = idx.numel()
    if count == target.numel():
        return count, [slice(s, s + chunk) for s in range(0, count, chunk)]
    return count, [idx[s : s + chunk] for s in range(0, count, chunk)]


def _grad_buffers(
    x: Tensor, weight: Tensor, bias: Tensor | None, needs: tuple[bool, ...], cdtype: torch.dtype, x_dtype: torch.dtype
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    gx = torch.zeros(x.shape, dtype=x_dtype, device=x.device) if needs[0] else None
    gw = torch.zeros(weight.shape, dtype=cdtype, device=weight.device) if needs[1] else None
    gb = torch.zeros(weight.shape[0], dtype=cdtype, device=weight.device) if (needs[2] and bias is not None) else None
    return gx, gw, gb


def _forward_pass(
    x: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, opts: _Options, needs: tuple[bool, ...]
) -> tuple[Tensor, Tensor, tuple[Tensor | None, Tensor | None, Tensor | None]]:
    """Per-token loss and lse; with any of ``needs`` also the unit-weight gradients (eager)."""
    count, row_chunks = _row_chunks(target, opts.ignore_index, opts.chunk)
    chunks = _Chunks(x, weight, bias, opts, count)
    n = x.shape[0]
    loss = torch.zeros(n, dtype=chunks.cdtype, device=x.device)
    lse_all = torch.zeros(n, dtype=chunks.cdtype, device=x.device)
    gx, gw, gb = _grad_buffers(x, weight, bias, needs, chunks.cdtype, x.dtype)
    eager = any(needs)
    for rows in row_chunks:
        x_c = x[rows]
        tgt, owned = chunks.targets(target[rows])
        buf = chunks.logits(x_c, tgt, owned)
        loss_c, lse_c, logp_t = chunks.loss_stats(buf, tgt, owned, probs=eager)
        loss[rows] = loss_c
        lse_all[rows] = lse_c
        if eager:
            d = chunks.dlogits(buf, tgt, owned, logp_t, lse_c)
            chunks.accumulate(d, x_c, rows, None, gx, gw, gb)
    chunks.finish(gx)
    return loss, lse_all, (gx, gw, gb)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        opts: _Options,
        eager: bool,
    ) -> Tensor:
        needs = tuple(ctx.needs_input_grad[:3]) if eager else (False, False, False)
        loss, lse_all, grads = _forward_pass(x, weight, bias, target, opts, needs)
        ctx.opts = opts
        ctx.eager = eager
        ctx.grads = grads if any(needs) else None
        ctx.save_for_backward(x, weight, bias, target, lse_all)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, bias, target, lse_all = ctx.saved_tensors
        opts: _Options = ctx.opts
        needs = tuple(ctx.needs_input_grad[:3])
        grad_loss = grad_loss.to(lse_all.dtype)
        if ctx.eager:
            # The incoming gradient is uniform over the tokens that count: scale the unit-weight
            # gradients. They are scaled in place, so a second backward through a retained graph
            # recomputes them with the very same operations (bit-identical, hence reentrant).
            grads = ctx.grads
            ctx.grads = None
            if grads is None:
                grads = _forward_pass(x, weight, bias, target, opts, needs)[2]
            vf = (target != opts.ignore_index).to(grad_loss.dtype)
            c = (grad_loss * vf).sum() / vf.sum().clamp_min(1.0)
            gx, gw, gb = (None if g is None else g.mul_(c) for g in grads)
        else:
            gx, gw, gb = _recompute_grads(x, weight, bias, target, lse_all, grad_loss, opts, needs)
        if gw is not None:
            gw = gw.to(weight.dtype)
        if gb is not None:
            gb = gb.to(bias.dtype)
        return gx, gw, gb, None, None, None


def _recompute_grads(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    lse_all: Tensor,
    grad_loss: Tensor,
    opts: _Options,
    needs: tuple[bool, ...],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Lazy schedule: recompute each chunk's logits and scale its rows by their own gradient."""
    count, row_chunks = _row_chunks(target, opts.ignore_index, opts.chunk)
    chunks = _Chunks(x, weight, bias, opts, count)
    gx, gw, gb = _grad_buffers(x, weight, bias, needs, chunks.cdtype, x.dtype)
    for rows in row_chunks:
        x_c, lse_c = x[rows], lse_all[rows]
        tgt, owned = chunks.targets(target[rows])
        buf = chunks.logits(x_c, tgt, owned)
        buf.sub_(lse_c[:, None])  # log-probabilities
        logp_t = buf.gather(1, tgt[:, None]).squeeze(1)  # used only where the target is owned
        d = chunks.dlogits(buf.exp_(), tgt, owned, logp_t, lse_c)
        chunks.accumulate(d, x_c, rows, grad_loss[rows], gx, gw, gb)
    chunks.finish(gx)
    return gx, gw, gb


def chunked_linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    linear_bias: Tensor | None,
    *,
    ignore_index: int,
    label_smoothing: float,
    z_loss: float,
    softcap: float | None,
    chunk_size: int | None,
    eager: bool,
    shard: VocabShard | None = None,
) -> Tensor:
    """Per-token loss ``(N,)`` (0 at ignored tokens) of ``cross_entropy(input @ W^T + b, target)``.

    ``input`` is ``(N, H)``, ``linear_weight`` ``(V, H)``, ``target`` ``(N,)``; the result is in
    float32 for half-precision inputs. ``eager`` computes the gradients in the forward and is
    only correct when the gradient reaching the per-token loss is the same for every token that
    counts (true under ``"mean"``/``"sum"`` reductions); otherwise pass ``eager=False``.
    With ``shard`` (:func:`losskit.fused._parallel.vocab_shard`) ``linear_weight`` and
    ``linear_bias`` are this rank's vocabulary rows, ``target`` holds global ids, the loss is the
    full-vocabulary loss on every rank, the input gradient is summed over the ranks and each rank
    gets the gradient of its own rows.
    """
    chunk = chunk_size or default_chunk_size(linear_weight.shape[1], linear_weight.dtype, softcap=softcap is not None)
    opts = _Options(ignore_index, label_smoothing, z_loss, softcap, chunk, shard)
    return _LinearCrossEntropy.apply(input, linear_weight, linear_bias, target, opts, eager and torch.is_grad_enabled())
