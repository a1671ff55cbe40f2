r"""Ordinal regression losses: CORAL and CORN, with their prediction rules.

Both turn ``K`` ordered levels ``0 < 1 < ... < K-1`` into ``K - 1`` binary tasks, one per
threshold ``k`` ("is the level above ``k``?"), scored by ``K - 1`` logits per item
``input[:, k]``:

* **CORAL** (Cao, Mirjalili & Raschka 2020, *Rank consistent ordinal regression for neural
  networks with application to age estimation*, Pattern Recognition Letters 140): every item
  takes part in every task,

  .. math::
      \ell_i = -\sum_{k=0}^{K-2} \lambda_k \bigl[\,[y_i > k] \log\sigma(x_{ik})
      + [y_i \le k] \log(1 - \sigma(x_{ik}))\bigr].

  Rank consistency comes from the model: a CORAL head shares one weight vector across the
  tasks and differs only in its ``K - 1`` biases. Prediction: :func:`coral_predict`, the number
  of tasks with :math:`\sigma(x_{ik}) > 1/2`.
* **CORN** (Shi, Cao & Raschka 2023, *Deep neural networks for rank-consistent ordinal
  regression based on conditional probabilities*, Pattern Analysis and Applications 26): task
  ``k`` learns the *conditional* probability :math:`P(y > k \mid y > k - 1)`, so it is trained
  only on the items with :math:`y_i \ge k`,

  .. math::
      \ell_{ik} = -[y_i \ge k]\,\bigl[\,[y_i > k] \log\sigma(x_{ik})
      + [y_i = k] \log(1 - \sigma(x_{ik}))\bigr],

  averaged over the (item, task) pairs that take part. Any network with ``K - 1`` outputs is
  rank consistent: :func:`corn_predict` multiplies the conditional probabilities into
  :math:`P(y > k) = \prod_{j \le k} \sigma(x_{ij})`, which cannot increase in ``k``, and counts
  those above 1/2.

Shapes: ``input`` ``(N, K-1)`` logits, ``target`` ``(N,)`` integer levels in ``[0, K-1]``,
``weight`` ``(N,)`` per-item weights. Values equal those of the ``coral-pytorch`` package's
``coral_loss`` and ``corn_loss`` (the reference implementation by the papers' authors).
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    as_class_indices,
    check_class_indices,
    check_input,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_sample_weight,
    describe,
)

__all__ = ["coral_loss", "coral_predict", "corn_loss", "corn_predict"]


def _check_logits(input: Tensor) -> None:
    check_input("input", input)
    if input.dim() != 2 or input.shape[1] < 1:
        raise LossInputError("input", "a tensor of shape (N, K - 1) with K >= 2 levels", describe(input))


def _prepare(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str):
    _check_logits(input)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    target = as_class_indices("target", target)
    check_same_device("target", target, input)
    check_same_shape("target", target, input.shape[:1], "one level per row of `input`")
    check_reduction(reduction)
    if weight is not None:
        check_sample_weight("weight", weight, input.shape[:1], "one weight per row of `input`", input)
    num_levels = input.shape[1] + 1
    check_class_indices("target", target, num_levels, None)
    dtype = compute_dtype(input)
    tasks = torch.arange(input.shape[1], device=input.device)
    return upcast(input, dtype), target[:, None], tasks[None, :], upcast(weight, dtype)


def _binary_terms(x: Tensor, above: Tensor) -> Tensor:
    """``-log sigma(x)`` where ``above`` else ``-log(1 - sigma(x))``, as softplus (stable for any logit)."""
    return TF.softplus(torch.where(above, -x, x))


def coral_loss(
    input: Tensor,
    target: Tensor,
    *,
    task_weight: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""CORAL ordinal loss (see the module docs for the formula).

    Args:
        input: ``(N, K-1)`` logits, one per threshold.
        target: ``(N,)`` integer levels in ``[0, K-1]``.
        task_weight: optional ``(K-1,)`` importance :math:`\lambda_k` of each threshold
            (``coral-pytorch``'s ``importance_weights``); ``None`` is all ones.
        weight: optional ``(N,)`` per-item weights.
        reduction: ``"none"`` gives ``(N,)`` (each item's sum over thresholds); ``"mean"``
            averages over items (``sum(w l) / sum(w)``); ``"sum"``.
        num_items: divide the weighted sum by this instead (gradient accumulation).

    Example:
        >>> import torch, losskit
        >>> logits = torch.tensor([[2.1, 1.8, -2.1, -1.8], [1.9, -1.0, -1.5, -1.3]])
        >>> losskit.coral_loss(logits, torch.tensor([2, 1]))
        tensor(0.7160)
    """
    x, y, tasks, w = _prepare(input, target, weight, reduction)
    terms = _binary_terms(x, y > tasks)
    if task_weight is not None:
        check_sample_weight("task_weight", task_weight, input.shape[1:], "one weight per threshold", input)
        terms = terms * upcast(task_weight, x.dtype)
    loss = terms.sum(dim=1)
    return restore(reduce_loss(loss, reduction=reduction, weight=w, num_items=num_items), input)


def corn_loss(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    r"""CORN ordinal loss: conditional binary tasks (see the module docs for the formula).

    Args:
        input: ``(N, K-1)`` logits of the conditional probabilities :math:`P(y > k \mid y \ge k)`.
        target: ``(N,)`` integer levels in ``[0, K-1]``.
        weight: optional ``(N,)`` per-item weights (shared by the item's tasks).
        reduction: ``"none"`` gives ``(N, K-1)``, 0 for tasks an item does not take part in;
            ``"mean"`` divides the weighted sum by the weighted number of (item, task) pairs that
            take part (``coral-pytorch``'s ``corn_loss``); ``"sum"``.
        num_items: divide the weighted sum by this instead (count the pairs that take part:
            ``sum_i w_i * min(y_i + 1, K - 1)``).

    Example:
        >>> import torch, losskit
        >>> logits = torch.tensor([[2.0, -1.0, 0.0], [0.5, 0.5, 0.5]])
        >>> round(float(losskit.corn_loss(logits, torch.tensor([1, 0]))), 4)
        0.4714
    """
    x, y, tasks, w = _prepare(input, target, weight, reduction)
    terms = _binary_terms(x, y > tasks)
    taking_part = y >= tasks
    w = None if w is None else w[:, None]
    out = reduce_loss(terms, reduction=reduction, weight=w, mask=taking_part, num_items=num_items)
    return restore(out, input)


def coral_predict(input: Tensor) -> Tensor:
    """Levels from CORAL logits ``(N, K-1)``: the number of thresholds with ``sigmoid > 1/2``.

    Returns:
        ``(N,)`` int64 levels in ``[0, K-1]``.

    Example:
        >>> import torch, losskit
        >>> losskit.coral_predict(torch.tensor([[2.0, 0.5, -1.0], [-1.0, -2.0, -3.0]]))
        tensor([2, 0])
    """
    _check_logits(input)
    return (input > 0).sum(dim=1)


def corn_predict(input: Tensor) -> Tensor:
    r"""Levels from CORN logits ``(N, K-1)``: the number of thresholds with
    :math:`P(y > k) = \prod_{j \le k} \sigma(x_j) > 1/2`.

    Returns:
        ``(N,)`` int64 levels in ``[0, K-1]``.

    Example:
        >>> import torch, losskit
        >>> losskit.corn_predict(torch.tensor([[2.0, 0.5, 3.0]]))  # P(y > k): 0.88, 0.55, 0.52
        tensor([3])
    """
    _check_logits(input)
    log_p_above = torch.cumsum(TF.logsigmoid(input.to(compute_dtype(input))), dim=1)
    return (log_p_above > -torch.log(torch.tensor(2.0, dtype=log_p_above.dtype))).sum(dim=1)
