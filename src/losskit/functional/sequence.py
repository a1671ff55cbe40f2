r"""Sequence losses: connectionist temporal classification (CTC).

.. math::
    \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t=1}^{T_n} p_t(\pi_t \mid x_n)

where :math:`\mathcal{B}` removes repeated labels and then blanks from an alignment
:math:`\pi` (Graves et al. 2006, "Connectionist Temporal Classification"). The forward-backward
recursion is :func:`torch.nn.functional.ctc_loss`; this module adds what it does not check and
fixes the precision and the gradient:

* It runs in float32 (float64 stays float64) even under autocast, and the result is returned
  in the input dtype.
* Value validation (on by default, see :func:`losskit.set_validation`) rejects inputs that
  torch accepts silently: rows that are not log-probabilities (raw logits or probabilities),
  targets containing the blank or out of range, lengths out of range, and infeasible
  alignments: an input shorter than its target length plus its number of repeated consecutive
  labels (a CTC path needs a blank between two equal labels), for which the loss is infinite.
* The gradient with respect to ``log_probs`` is the true one. Torch's CTC backward returns the
  gradient with respect to the logits *before* a log-softmax (``exp(log_probs) - posterior``)
  and relies on that log-softmax to absorb the difference; here the ``exp(log_probs)`` part is
  removed, so the gradient is ``-posterior``. Through a ``log_softmax`` both give exactly the
  same gradient on the logits.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as torch_F
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    check_bool,
    check_float,
    check_has_values,
    check_integer,
    check_reduction,
    check_same_device,
    describe,
    reads_values,
)

__all__ = ["ctc_loss"]

Lengths = Tensor | Sequence[int]

# How far a row's log-sum-exp may be from 0 and still count as log-probabilities: float32
# log_softmax is off by ~1e-6; rounding log-probabilities to fp16/bf16 moves it by up to ~4e-3.
_LSE_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 1e-2}
_DEFAULT_LSE_TOLERANCE = 1e-3


class _FrameMass(torch.autograd.Function):
    """``sum over valid frames t and classes c of exp(x[t, n, c])`` per sample ``n``.

    Its gradient is ``exp(x)`` on valid frames and exactly 0 on padding frames, whatever they
    hold (NaN included). It saves only ``x``, which torch's CTC keeps anyway.
    """

    @staticmethod
    def forward(ctx, x: Tensor, frames: Tensor) -> Tensor:
        ctx.save_for_backward(x, frames)
        return torch.where(frames.unsqueeze(-1), x.exp(), 0.0).sum(dim=(0, 2))

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        x, frames = ctx.saved_tensors
        return torch.where(frames.unsqueeze(-1), x.exp() * grad[None, :, None], 0.0), None


def _as_lengths(name: str, lengths: Lengths, n: int, device: torch.device) -> Tensor:
    if not isinstance(lengths, Tensor):
        try:  # no dtype forced: a float length (9.7) must be refused, never truncated to 9
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError):
            raise LossInputError(name, "a sequence of integer lengths or an integer tensor", repr(lengths)) from None
        if lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise LossInputError(name, "integer lengths", f"{lengths.dtype} values")
    check_integer(name, lengths)
    check_has_values(name, lengths, "the lengths select the time steps")
    if tuple(lengths.shape) != (n,):
        raise LossInputError(name, f"of shape ({n},) (one length per sample of `log_probs`)", describe(lengths))
    return lengths.to(device=device, dtype=torch.long)


def _as_given(lengths: Lengths, converted: Tensor) -> Tensor:
    """The user's lengths tensor when torch takes it as is, else the converted one."""
    if isinstance(lengths, Tensor) and lengths.dtype in (torch.int32, torch.int64):
        return lengths
    return converted


def _indices(mask: Tensor, limit: int = 10) -> str:
    found = mask.nonzero().flatten().tolist()
    return str(found[:limit])[:-1] + (", ...]" if len(found) > limit else "]")


def _padded_targets(targets: Tensor, target_lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Targets as ``(N, S)`` with a mask of the valid positions, whatever layout was given."""
    n = target_lengths.numel()
    width = int(target_lengths.max()) if n else 0
    if targets.dim() == 2:
        width = min(width, targets.shape[1])
        padded = targets[:, :width].long()
    else:
        starts = torch.cumsum(target_lengths, 0) - target_lengths
        index = starts[:, None] + torch.arange(width, device=targets.device)
        padded = targets.long()[index.clamp(max=max(targets.numel() - 1, 0))] if targets.numel() else index * 0
    valid = torch.arange(width, device=targets.device)[None, :] < target_lengths[:, None]
    return padded, valid


def _check_values(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor,
    target_lengths: Tensor,
    blank: int,
    zero_infinity: bool,
) -> None:
    """The checks that read tensor contents (skipped when value validation is off)."""
    t_max, _, num_classes = log_probs.shape
    targets = targets.to(input_lengths.device)
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if bool((lengths < 0).any()):
            raise LossInputError(name, "non-negative", f"negative lengths in samples {_indices(lengths < 0)}")
    if bool((input_lengths > t_max).any()):
        raise LossInputError(
            "input_lengths", f"at most T={t_max} (the time dimension of `log_probs`)", f"{int(input_lengths.max())}"
        )
    if targets.dim() == 2 and bool((target_lengths > targets.shape[1]).any()):
        raise LossInputError(
            "target_lengths", f"at most S={targets.shape[1]} (the width of padded `targets`)", int(target_lengths.max())
        )
    if targets.dim() == 1 and int(target_lengths.sum()) != targets.numel():
        raise LossInputError(
            "targets",
            f"the concatenated targets of length sum(target_lengths)={int(target_lengths.sum())}",
            f"{targets.numel()} labels",
        )

    padded, valid = _padded_targets(targets, target_lengths)
    out_of_range = valid & ((padded < 0) | (padded >= num_classes))
    if bool(out_of_range.any()):
        samples = _indices(out_of_range.any(1))
        raise LossInputError("targets", f"labels in [0, {num_classes - 1}]", f"bad labels in samples {samples}")
    has_blank = valid & (padded == blank)
    if bool(has_blank.any()):
        raise LossInputError(
            "targets", f"free of the blank label {blank}", f"the blank in samples {_indices(has_blank.any(1))}"
        )

    frames = torch.arange(t_max, device=log_probs.device)[:, None] < input_lengths[None, :]
    lse = torch.logsumexp(log_probs.detach(), dim=-1)
    tolerance = _LSE_TOLERANCE.get(log_probs.dtype, _DEFAULT_LSE_TOLERANCE)
    off = frames & ~(lse.abs() <= tolerance)  # NaN counts as off
    if bool(off.any()):
        worst = lse.abs().masked_fill(~frames, 0).nan_to_num(nan=float("inf")).max()
        raise LossInputError(
            "log_probs",
            f"log-probabilities (every row over the classes log-sum-exps to 0 within {tolerance}; "
            "apply log_softmax over the last dimension)",
            f"{int(off.sum())} rows that do not, in samples {_indices(off.any(0))} "
            f"(largest |logsumexp| {float(worst):.3g})",
        )

    repeats = (valid[:, 1:] & (padded[:, 1:] == padded[:, :-1])).sum(1)
    required = target_lengths + repeats
    infeasible = input_lengths < required
    if bool(infeasible.any()):
        where = (
            f"samples {_indices(infeasible)} (input lengths {input_lengths[infeasible][:10].tolist()} "
            f"< required {required[infeasible][:10].tolist()})"
        )
        if not zero_infinity:
            raise LossInputError(
                "input_lengths",
                "at least the target length plus the number of repeated consecutive labels in every sample "
                "(otherwise no alignment exists and the loss is infinite; zero_infinity=True zeroes such samples)",
                f"infeasible {where}",
            )
        warnings.warn(
            f"ctc_loss: no feasible alignment for {where}; their loss and gradient are set to 0 (zero_infinity=True).",
            RuntimeWarning,
            stacklevel=3,
        )


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Lengths,
    target_lengths: Lengths,
    *,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    num_items: NumItems = None,
) -> Tensor:
    r"""Connectionist temporal classification loss (Graves et al. 2006).

    Args:
        log_probs: log-probabilities ``(T, N, C)`` (time, batch, classes including the blank),
            e.g. ``logits.log_softmax(-1)``. Frames ``t >= input_lengths[n]`` are ignored.
        targets: label sequences, padded ``(N, S)`` or concatenated ``(sum(target_lengths),)``;
            integer labels in ``[0, C)`` other than ``blank``.
        input_lengths: ``(N,)`` number of valid frames per sample (``<= T``).
        target_lengths: ``(N,)`` number of labels per sample.
        blank: index of the blank class.
        reduction: ``"none"`` gives the per-sample negative log-likelihood ``(N,)``, ``"sum"``
            its sum, and ``"mean"`` PyTorch's mean: each sample's loss divided by its target
            length (at least 1), averaged over the batch,
            :math:`\frac{1}{N}\sum_n \ell_n / \max(L_n, 1)`.
        zero_infinity: set the loss (and gradient) of samples without a feasible alignment to
            0 instead of raising; a warning names them.
        num_items: with ``"mean"``, divide :math:`\sum_n \ell_n / \max(L_n, 1)` by this
            instead of ``N``: the number of *sequences* in the whole optimiser step, so that
            gradient-accumulation micro-batches add up to the full-batch mean.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``, in the dtype of ``log_probs``.

    Equals :func:`torch.nn.functional.ctc_loss` in value for every reduction on valid input,
    and in gradient with respect to logits fed through ``log_softmax`` (see the module
    docstring for the gradient with respect to ``log_probs`` itself).

    Example:
        >>> import torch, losskit
        >>> logits = torch.zeros(4, 1, 3)  # uniform over {blank, a, b}
        >>> # 15 of the 3**4 = 81 equally likely paths collapse to "ab": loss -log(15/81)
        >>> losskit.ctc_loss(logits.log_softmax(-1), torch.tensor([[1, 2]]), [4], [2], reduction="sum")
        tensor(1.6864)
    """
    check_bool("zero_infinity", zero_infinity)
    check_float("log_probs", log_probs)  # NaN in padding frames is fine; frames in use are checked below
    if log_probs.dim() != 3:
        raise LossInputError("log_probs", "of shape (T, N, C)", describe(log_probs))
    t_max, n, num_classes = log_probs.shape
    if not isinstance(targets, Tensor):
        raise LossInputError("targets", "a torch.Tensor", type(targets).__name__)
    check_integer("targets", targets)
    if targets.device.type != "cpu":  # torch takes CPU targets with CUDA log_probs (cuDNN wants them)
        check_same_device("targets", targets, log_probs, "log_probs")
    check_has_values("targets", targets, "the alignment reads the labels")
    if targets.dim() not in (1, 2) or (targets.dim() == 2 and targets.shape[0] != n):
        raise LossInputError("targets", f"of shape ({n}, S) or (sum(target_lengths),)", describe(targets))
    il = _as_lengths("input_lengths", input_lengths, n, log_probs.device)
    tl = _as_lengths("target_lengths", target_lengths, n, log_probs.device)
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < num_classes:
        raise LossInputError("blank", f"an integer class index in [0, {num_classes - 1}]", repr(blank))
    check_reduction(reduction)
    check_has_values("log_probs", log_probs, "the alignment is computed from the values")
    if t_max == 0 and n > 0:
        raise LossInputError("log_probs", "at least one time step", describe(log_probs))
    if reads_values(log_probs):
        _check_values(log_probs, targets, il, tl, blank, zero_infinity)

    dtype = compute_dtype(log_probs)
    x = upcast(log_probs, dtype)
    if n == 0:
        nll = x.sum(dim=(0, 2))  # shape (0,), connected to the graph
    else:
        if targets.dtype not in (torch.int32, torch.int64):
            targets = targets.long()
        with torch.autocast(device_type=x.device.type, enabled=False):
            # torch gets the lengths and targets as given (its cuDNN path wants them on the CPU)
            nll = torch_F.ctc_loss(
                x,
                targets,
                _as_given(input_lengths, il),
                _as_given(target_lengths, tl),
                blank=blank,
                reduction="none",
                zero_infinity=zero_infinity,
            )
            if x.requires_grad:
                # Torch's backward is exp(x) - posterior on valid frames; subtract the exp(x) part
                # with a term that is exactly 0 in value (not for samples zeroed by zero_infinity,
                # whose torch gradient is already 0).
                frames = torch.arange(t_max, device=x.device)[:, None] < il[None, :]
                mass = _FrameMass.apply(x, frames)
                if zero_infinity:
                    # Zeroed means infinite without zero_infinity: a feasible sample whose loss is
                    # exactly 0 keeps its gradient.
                    with torch.no_grad():
                        raw = torch_F.ctc_loss(
                            x.detach(),
                            targets,
                            _as_given(input_lengths, il),
                            _as_given(target_lengths, tl),
                            blank=blank,
                            reduction="none",
                            zero_infinity=False,
                        )
                    mass = torch.where(torch.isinf(raw), torch.zeros_like(mass), mass)
                nll = nll - (mass - mass.detach())
    if reduction == "mean":
        nll = nll / tl.clamp(min=1).to(dtype)
    return restore(reduce_loss(nll, reduction=reduction, num_items=num_items), log_probs)
