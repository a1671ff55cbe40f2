"""The one place that decides what a reduction divides by.

Every loss computes a per-element loss ``l``, a per-element weight ``w`` (sample weight times
class weight, zero where an element is ignored) and hands both to :func:`reduce_loss`:

* ``"none"``: ``w * l`` per element, ignored elements exactly 0;
* ``"sum"``:  ``sum(w * l)``;
* ``"mean"``: ``sum(w * l) / sum(w)`` over the elements that count, or
  ``sum(w * l) / num_items`` when ``num_items`` is given (gradient accumulation and
  distributed training: pass the item count of the *whole* optimiser step, see
  :func:`count_items` and :func:`all_reduce_num_items`).

An empty batch, or one where every element is ignored or has weight 0, reduces to ``0``
(PyTorch gives NaN for ``0 / 0``); the result stays connected to the graph, with zero
gradients, so distributed training still sees every parameter.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._validation import check_reduction, check_values_in_range, describe, values_checked

__all__ = ["NumItems", "all_reduce_num_items", "count_items", "reduce_loss"]

NumItems = int | float | Tensor | None


_NUM_ITEMS = "a finite number >= 0 (Python or numpy) or a one-element tensor"


def _as_denominator(num_items: int | float | Tensor, total: Tensor) -> Tensor:
    """``num_items`` as a 0-d tensor, by the one rule: finite and ``>= 0``; ``0`` only when the
    weighted sum is 0 as well (nothing counts, the result is then 0)."""
    if isinstance(num_items, Tensor):
        if num_items.numel() != 1 or num_items.is_complex() or num_items.dtype == torch.bool:
            raise LossInputError("num_items", _NUM_ITEMS, describe(num_items))
        denom = num_items.detach().reshape(()).to(device=total.device, dtype=total.dtype)
        check_values_in_range("num_items", denom, 0.0, math.inf, high_inclusive=False)
    else:
        if isinstance(num_items, bool) or not isinstance(num_items, numbers.Real):
            raise LossInputError("num_items", _NUM_ITEMS, repr(num_items))
        if not (math.isfinite(num_items) and num_items >= 0):
            raise LossInputError("num_items", _NUM_ITEMS, repr(num_items))
        denom = torch.tensor(float(num_items), device=total.device, dtype=total.dtype)
    if values_checked() and not total.is_meta and bool((denom == 0) & (total.detach() != 0)):
        raise LossInputError("num_items", "> 0 when any item counts (the weighted sum is not 0)", 0)
    return denom


def reduce_loss(
    loss: Tensor,
    *,
    reduction: str = "mean",
    weight: Tensor | None = None,
    mask: Tensor | None = None,
    num_items: NumItems = None,
    weighted: bool = False,
) -> Tensor:
    """Reduce an element-wise loss by the shared rule.

    Args:
        loss: per-element loss, any shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        weight: per-element weight broadcastable to ``loss`` (``None`` is all ones). It is the
            denominator of ``"mean"``; unless ``weighted`` it also multiplies ``loss``.
        mask: boolean, broadcastable to ``loss``; ``False`` marks ignored elements. Their loss
            is replaced by 0 (``torch.where``, so a NaN there cannot leak) and they do not count.
        num_items: if given, ``"mean"`` divides the weighted sum by it instead of the local
            weight sum. A finite number ``>= 0`` (Python, numpy or a one-element tensor);
            ``0`` is accepted only when the weighted sum is 0 too (every micro-batch empty), and
            then gives 0. NaN, infinity and negative counts are refused.
        weighted: ``loss`` already carries its weights (e.g. class-weighted label smoothing);
            ``weight`` is then only the denominator.

    Returns:
        A scalar for ``"mean"``/``"sum"``; ``loss``'s shape for ``"none"``.

    Example:
        >>> import torch
        >>> reduce_loss(torch.tensor([1.0, 3.0]), weight=torch.tensor([1.0, 3.0]))  # (1 + 9) / 4
        tensor(2.5000)
    """
    check_reduction(reduction)
    if mask is not None:
        loss = torch.where(mask, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if weight is not None and not weighted:
        loss = loss * weight
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    if num_items is not None:
        denom = _as_denominator(num_items, total)
    elif weight is not None:
        w = (
            weight
            if mask is None
            else torch.where(mask, weight, torch.zeros((), dtype=weight.dtype, device=weight.device))
        )
        denom = torch.broadcast_to(w, loss.shape).sum().to(total.dtype)
    elif mask is not None:
        denom = torch.broadcast_to(mask, loss.shape).sum().to(total.dtype)
    else:
        denom = torch.tensor(float(loss.numel()), dtype=total.dtype, device=total.device)
    # 0 / 0 -> 0: the numerator is exactly 0 whenever nothing counts.
    return total / torch.where(denom == 0, torch.ones_like(denom), denom)


def count_items(
    target: Tensor,
    *,
    ignore_index: int | None = -100,
    weight: Tensor | None = None,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """The denominator ``"mean"`` would use for this ``target``: its weighted count of valid items.

    Args:
        target: class indices (any shape) or any other target tensor.
        ignore_index: elements equal to it do not count (integer targets only).
        weight: per-class weights ``(C,)``, as in :func:`losskit.cross_entropy`; each valid
            item counts ``weight[target]`` (integer targets only).
        sample_weight: per-item weights broadcastable to ``target``.

    Returns:
        A 0-d float32 tensor (float64 when ``weight`` or ``sample_weight`` is). Sum it over
        micro-batches (and ranks, see :func:`all_reduce_num_items`) and pass it as
        ``num_items`` so that the sum of the micro-batch losses equals the full-batch mean.

    Example:
        >>> import torch, losskit
        >>> losskit.count_items(torch.tensor([0, 2, -100, 1]))  # the ignored item does not count
        tensor(3.)
    """
    for name, w in (("weight", weight), ("sample_weight", sample_weight)):
        if w is not None:  # the one weight rule: finite and >= 0, as in every loss
            check_values_in_range(name, w, 0.0, math.inf, high_inclusive=False)
    integer = not target.is_floating_point()
    # float32, or float64 when a weight is float64: a float32 count of float64 weights would
    # round the denominator and the micro-batch losses would no longer sum to the full mean.
    dtype = torch.float32
    for w in (weight, sample_weight):
        if w is not None and w.is_floating_point():
            dtype = torch.promote_types(dtype, w.dtype)
    per = torch.ones(target.shape, dtype=dtype, device=target.device)
    if integer and ignore_index is not None:
        valid = target != ignore_index
        per = per * valid
    else:
        valid = None
    if weight is not None:
        if not integer:
            raise LossInputError("weight", "used with integer class-index targets", describe(target))
        idx = target if valid is None else torch.where(valid, target, torch.zeros_like(target))
        per = per * weight.to(dtype)[idx]
    if sample_weight is not None:
        per = per * sample_weight.to(dtype)
    return per.sum()


def all_reduce_num_items(num_items: Tensor | int | float, *, ddp_mean: bool = True) -> Tensor:
    """Sum a local item count over all ``torch.distributed`` ranks.

    Without an initialised process group it returns the count unchanged (as a tensor).

    Args:
        num_items: this rank's count (e.g. from :func:`count_items`).
        ddp_mean: ``DistributedDataParallel`` *averages* gradients over the world size. With
            ``ddp_mean=True`` the global count is divided by the world size, so that after
            DDP's averaging each parameter gets exactly the gradient of the global mean. Use
            ``False`` when gradients are summed, or to get the plain global count.
    """
    t = num_items if isinstance(num_items, Tensor) else torch.tensor(float(num_items))
    t = t.detach().to(torch.promote_types(t.dtype, torch.float32)).clone()
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        backend = dist.get_backend()
        if backend == "nccl" and t.device.type != "cuda":
            t = t.cuda()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        if ddp_mean:
            t = t / dist.get_world_size()
    return t
