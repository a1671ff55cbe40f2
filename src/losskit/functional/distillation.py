r"""Knowledge distillation: the temperature-scaled KL divergence of Hinton et al. 2015.

.. math::
    \ell_i = \alpha\, T^2\, \mathrm{KL}\bigl(q_i \,\|\, p_i\bigr) + (1 - \alpha)\, \mathrm{CE}(s_i, y_i),
    \qquad q_i = \operatorname{softmax}(t_i / T),\quad p_i = \operatorname{softmax}(s_i / T)

with student logits ``s``, teacher scores ``t`` and hard labels ``y`` (Hinton, Vinyals & Dean
2015, "Distilling the Knowledge in a Neural Network"). The ``T^2`` factor keeps the soft term's
gradient on the scale of the hard term's as ``T`` changes.

Shapes follow :func:`losskit.cross_entropy`: logits ``(N, C)`` or ``(N, C, d1, ...)`` (for
token-level distillation of a sequence model, ``(B, V, L)`` or the flattened ``(B * L, V)``),
labels ``(N,)`` / ``(N, d1, ...)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    as_class_indices,
    check_class_indices,
    check_ignore_index,
    check_input,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_scalar_range,
    describe,
)

__all__ = ["distillation_loss"]


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    *,
    temperature: float = 1.0,
    alpha: float = 0.5,
    target: Tensor | None = None,
    ignore_index: int | None = -100,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""Distillation loss: ``T^2 KL(teacher || student)`` at temperature ``T``, optionally mixed with CE.

    See the module docstring for the formula. Per item:

    * with ``target``: ``alpha * T^2 * KL + (1 - alpha) * CE(student_logits, target)`` (CE at
      temperature 1); items whose target is ``ignore_index`` (padding tokens) are excluded from
      both terms and from what ``"mean"`` divides by;
    * without ``target``: ``T^2 * KL`` alone (``alpha`` is not used).

    ``teacher_logits`` may be logits or log-probabilities: ``softmax(t / T)`` is the same for
    both, since a log-softmax only shifts each row by a constant. (Probabilities are not
    accepted in its place.) A teacher probability of exactly 0 (log-probability ``-inf``, e.g.
    a masked vocabulary entry) contributes 0, never NaN. The teacher is not detached: it gets
    a gradient when it requires one.

    Half-precision inputs are computed in float32 and the result returned in the student's
    dtype (the KL of two nearly equal distributions cancels badly in bf16).

    Args:
        student_logits: ``(N, C)`` or ``(N, C, d1, ...)``.
        teacher_logits: same shape; logits or log-probabilities.
        temperature: ``T > 0``.
        alpha: weight of the distillation term in ``[0, 1]`` (with ``target``).
        target: optional class indices ``(N,)`` / ``(N, d1, ...)``.
        ignore_index: target value of items that do not count.
        reduction: ``"mean"`` over the items that count (``"batchmean"`` of
            :func:`torch.nn.functional.kl_div`), ``"sum"`` or ``"none"`` (``(N, d1, ...)``).
        num_items: divide the sum by this instead (gradient accumulation).

    Example:
        >>> import torch, losskit
        >>> student, teacher = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
        >>> round(losskit.distillation_loss(student, teacher, temperature=2.0).item(), 4)
        0.4898
    """
    check_input("student_logits", student_logits)
    check_input("teacher_logits", teacher_logits)
    check_reduction(reduction)
    check_scalar_range("temperature", temperature, 0.0, low_inclusive=False)
    check_scalar_range("alpha", alpha, 0.0, 1.0)
    if student_logits.dim() < 2:
        raise LossInputError("student_logits", "logits of shape (N, C, ...)", describe(student_logits))
    check_same_device("teacher_logits", teacher_logits, student_logits, "student_logits")
    check_same_shape("teacher_logits", teacher_logits, student_logits.shape, "the shape of `student_logits`")
    ignore_index = check_ignore_index(ignore_index)
    batch_shape = (student_logits.shape[0], *student_logits.shape[2:])
    mask = None
    if target is not None:
        if not isinstance(target, Tensor):
            raise LossInputError("target", "a torch.Tensor of class indices or None", type(target).__name__)
        check_same_device("target", target, student_logits, "student_logits")
        target = as_class_indices("target", target)
        check_same_shape("target", target, batch_shape, "class indices for logits of shape (N, C, d1, ...)")
        check_class_indices("target", target, student_logits.shape[1], ignore_index)
        mask = None if ignore_index is None else target != ignore_index
    dtype = compute_dtype(student_logits)
    s = upcast(student_logits, dtype)
    t = upcast(teacher_logits, dtype)
    log_p = torch.log_softmax(s / temperature, dim=1)
    log_q = torch.log_softmax(t / temperature, dim=1)
    q = log_q.exp()
    support = q > 0  # outside it q log q = 0; the safe log keeps the gradient finite too
    log_q = torch.where(support, log_q, torch.zeros_like(log_q))
    kl = torch.where(support, q * (log_q - log_p), torch.zeros_like(q)).sum(dim=1)
    loss = temperature**2 * kl
    if target is not None:
        safe = target if mask is None else torch.where(mask, target, torch.zeros_like(target))
        ce = -torch.log_softmax(s, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
        loss = alpha * loss + (1.0 - alpha) * ce
    return restore(reduce_loss(loss, reduction=reduction, mask=mask, num_items=num_items), student_logits)
