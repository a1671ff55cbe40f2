r"""Weighting several task losses into one training objective.

:class:`MultiTaskLoss` combines named task losses :math:`L_i` into a total that is
backpropagated once. Three weightings:

``"fixed"``
    :math:`\sum_i w_i L_i` with constant weights (default all 1).

``"uncertainty"`` (Kendall, Gal and Cipolla 2018, "Multi-Task Learning Using Uncertainty to
Weigh Losses for Scene Geometry and Semantics")
    One learned log-variance :math:`s_i = \log \sigma_i^2` per task (initialised to 0):

    .. math::
        \text{regression: } \tfrac12 e^{-s_i} L_i + \tfrac12 s_i, \qquad
        \text{classification: } e^{-s_i} L_i + \tfrac12 s_i.

    The effective weights are :math:`\tfrac12 e^{-s_i}` and :math:`e^{-s_i}`. The optimum of
    :math:`s_i` is :math:`\log L_i` (regression) or :math:`\log 2L_i` (classification), so each
    task ends up weighted by about the inverse of its own loss.

``"gradnorm"`` (Chen et al. 2018, "GradNorm: Gradient Normalization for Adaptive Loss
Balancing in Deep Multitask Networks")
    Learned weights :math:`w_i`, kept positive and renormalised to :math:`\sum_i w_i = T` (the
    number of tasks) before every use. The network is trained on :math:`\sum_i w_i L_i` with
    :math:`w` held constant; the weights are trained on

    .. math::
        L_\text{grad} = \sum_i \big| G_i - \bar G \, r_i^{\alpha} \big|,\quad
        G_i = w_i \lVert \nabla_W L_i \rVert_2,\quad
        r_i = \frac{L_i / L_i^{(0)}}{\operatorname{mean}_j L_j / L_j^{(0)}},

    with :math:`W` the shared parameters the user names (usually the last shared layer),
    :math:`L_i^{(0)}` the losses of the first training step and the target
    :math:`\bar G r_i^\alpha` held constant, as in the paper. A larger ``alpha`` pulls harder
    towards tasks that train slower.

How GradNorm fits a normal training loop: ``forward`` computes the per-task gradient norms at
``shared`` itself (one extra backward per task through the graph above ``shared``) and returns
``sum(w.detach() * L) + (L_grad - L_grad.detach())``. Its value is exactly the weighted total;
one ``total.backward()`` gives the network the gradient of the weighted total and the weights
the gradient of :math:`L_\text{grad}`, so the same optimiser step updates both (put the
module's parameters in the optimiser). Gradient accumulation and learning-rate schedules work
unchanged. In ``eval()`` mode or under ``torch.no_grad()`` it only returns the weighted total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._validation import check_choice, check_scalar_range, describe

__all__ = ["MultiTaskLoss"]

KINDS = ("regression", "classification")
WEIGHTINGS = ("fixed", "uncertainty", "gradnorm")
# Uncertainty weighting: factor in front of exp(-s) L (Kendall et al. 2018, eqs. 7 and 10).
_UNCERTAINTY_SCALE = {"regression": 0.5, "classification": 1.0}


def _parse_tasks(tasks: Mapping[str, str] | Sequence[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    items = list(tasks.items()) if isinstance(tasks, Mapping) else list(tasks)
    expected = "a mapping (or sequence of pairs) of task name to 'regression' or 'classification'"
    if not items:
        raise LossInputError("tasks", expected + " with at least one task", repr(tasks))
    names, kinds = [], []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise LossInputError("tasks", expected, repr(item))
        if item[1] not in KINDS:
            raise LossInputError("tasks", f"kinds in {KINDS}", f"{item[1]!r} for task {item[0]!r}")
        names.append(item[0])
        kinds.append(item[1])
    if len(set(names)) != len(names):
        raise LossInputError("tasks", "unique task names", names)
    return tuple(names), tuple(kinds)


def _parse_weights(weights: Mapping[str, float] | Sequence[float] | None, names: Sequence[str]) -> Tensor:
    if weights is None:
        return torch.ones(len(names))
    if isinstance(weights, Mapping):
        if set(weights) != set(names):
            raise LossInputError("weights", f"one weight for each task {list(names)}", sorted(weights))
        weights = [weights[n] for n in names]
    values = torch.as_tensor(weights, dtype=torch.float32).flatten()
    if values.numel() != len(names):
        raise LossInputError("weights", f"{len(names)} weights (one per task)", describe(values))
    if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
        raise LossInputError("weights", "finite and non-negative", values.tolist())
    return values


def _parse_shared(shared: Tensor | Iterable[Tensor] | None) -> tuple[Tensor, ...]:
    expected = "a tensor requiring grad, or an iterable of them (the shared parameters, e.g. the last shared layer)"
    if shared is None:
        raise LossInputError("shared", expected + " with weighting='gradnorm'", None)
    params = (shared,) if isinstance(shared, Tensor) else tuple(shared)
    if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
        raise LossInputError("shared", expected, repr(shared)[:80])
    return params


class MultiTaskLoss(torch.nn.Module):
    r"""Combine named task losses with fixed, uncertainty or GradNorm weights.

    Args:
        tasks: task names and kinds, e.g. ``{"depth": "regression", "seg": "classification"}``
            (or a sequence of ``(name, kind)`` pairs). The kind selects Kendall et al.'s form
            under ``"uncertainty"``; the order is the order of :attr:`task_weights`.
        weighting: ``"fixed"``, ``"uncertainty"`` or ``"gradnorm"`` (formulas in the module
            docstring).
        weights: per-task weights (mapping by name or sequence in task order), non-negative.
            The constant weights for ``"fixed"`` (default 1 each) and the initial weights for
            ``"gradnorm"`` (renormalised to sum to the number of tasks); not accepted with
            ``"uncertainty"``, whose weights are learned from ``s = 0``.
        alpha: GradNorm's asymmetry, ``>= 0``.
        shared: for ``"gradnorm"``, the shared parameter(s) at which the task gradient norms
            are taken, e.g. ``model.backbone[-1].weight``. They are not registered in this
            module (they belong to the model).

    ``forward(losses)`` takes a mapping ``{name: scalar loss}`` with exactly the task names, or
    a sequence of scalar losses in task order, and returns the scalar total in float32 (or
    float64 if a loss is float64). :attr:`task_weights` gives the current weights for logging;
    after a GradNorm training step ``last_grad_norms`` holds the per-task gradient norms
    :math:`\lVert \nabla_W L_i \rVert` and ``initial_losses`` the recorded :math:`L_i^{(0)}`.

    Example (GradNorm in an ordinary training loop):
        >>> import torch, losskit
        >>> trunk, head_a, head_b = torch.nn.Linear(4, 8), torch.nn.Linear(8, 1), torch.nn.Linear(8, 1)
        >>> mtl = losskit.MultiTaskLoss({"a": "regression", "b": "regression"},
        ...                             weighting="gradnorm", shared=trunk.weight)
        >>> params = [*trunk.parameters(), *head_a.parameters(), *head_b.parameters(), *mtl.parameters()]
        >>> opt = torch.optim.Adam(params, lr=1e-2)
        >>> x, ya, yb = torch.randn(32, 4), torch.randn(32, 1), torch.randn(32, 1)
        >>> for step in range(3):
        ...     opt.zero_grad()
        ...     h = torch.relu(trunk(x))
        ...     total = mtl({"a": torch.nn.functional.mse_loss(head_a(h), ya),
        ...                  "b": torch.nn.functional.mse_loss(head_b(h), yb)})
        ...     total.backward()
        ...     opt.step()
        >>> sorted(mtl.task_weights)
        ['a', 'b']
    """

    def __init__(
        self,
        tasks: Mapping[str, str] | Sequence[tuple[str, str]],
        *,
        weighting: str = "fixed",
        weights: Mapping[str, float] | Sequence[float] | None = None,
        alpha: float = 1.5,
        shared: Tensor | Iterable[Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.names, self.kinds = _parse_tasks(tasks)
        check_choice("weighting", weighting, WEIGHTINGS)
        check_scalar_range("alpha", alpha, 0.0, math.inf)
        self.weighting = weighting
        self.alpha = float(alpha)
        num_tasks = len(self.names)
        if weighting == "uncertainty":
            if weights is not None:
                raise LossInputError("weights", "None with weighting='uncertainty' (its weights are learned)", weights)
            self.log_vars = torch.nn.Parameter(torch.zeros(num_tasks))
            scale = [_UNCERTAINTY_SCALE[k] for k in self.kinds]
            self.register_buffer("uncertainty_scale", torch.tensor(scale), persistent=False)
        elif weighting == "gradnorm":
            initial = _parse_weights(weights, self.names)
            if not bool((initial > 0).all()):
                raise LossInputError("weights", "positive with weighting='gradnorm'", initial.tolist())
            self.loss_weights = torch.nn.Parameter(initial * num_tasks / initial.sum())
            self.register_buffer("initial_losses", torch.full((num_tasks,), math.nan))
            self._shared = _parse_shared(shared)
        else:
            self.register_buffer("fixed_weights", _parse_weights(weights, self.names))

    def _stack(self, losses: Mapping[str, Tensor] | Sequence[Tensor]) -> Tensor:
        if isinstance(losses, Mapping):
            if set(losses) != set(self.names):
                raise LossInputError("losses", f"a mapping with exactly the tasks {list(self.names)}", sorted(losses))
            losses = [losses[n] for n in self.names]
        elif not isinstance(losses, Sequence) or len(losses) != len(self.names):
            raise LossInputError("losses", f"{len(self.names)} losses in task order {list(self.names)}", repr(losses))
        for name, loss in zip(self.names, losses, strict=True):
            if not isinstance(loss, Tensor) or loss.numel() != 1 or not loss.is_floating_point():
                raise LossInputError("losses", f"a floating-point scalar loss for task {name!r}", describe(loss))
        dtype = torch.float64 if any(loss.dtype == torch.float64 for loss in losses) else torch.float32
        return torch.stack([loss.reshape(()).to(dtype) for loss in losses])

    @torch.no_grad()
    def _renormalise(self) -> None:
        w = self.loss_weights
        w.clamp_(min=1e-6 * float(w.abs().max().clamp(min=1e-30)))
        w.mul_(len(self.names) / w.sum())

    def _gradnorm_objective(self, task_losses: Tensor, w: Tensor) -> Tensor:
        """GradNorm's L_grad; differentiable with respect to the weights only."""
        detached = task_losses.detach()
        if bool(torch.isnan(self.initial_losses).any()):
            self.initial_losses.copy_(detached)
        norms = []
        for loss in task_losses.unbind():
            grads = torch.autograd.grad(loss, self._shared, retain_graph=True, allow_unused=True)
            squares = [g.detach().pow(2).sum() for g in grads if g is not None]
            norms.append(torch.stack(squares).sum().sqrt() if squares else detached.new_zeros(()))
        norms = torch.stack(norms).to(w.dtype)
        g = w * norms
        initial = self.initial_losses.to(detached.dtype)
        ratio = torch.where(initial > 0, detached / initial.clamp(min=torch.finfo(initial.dtype).tiny), 1.0)
        relative = ratio / ratio.mean().clamp(min=torch.finfo(ratio.dtype).tiny)
        target = (g.mean() * relative.to(w.dtype) ** self.alpha).detach()
        self.last_grad_norms = norms
        return (g - target).abs().sum()

    def forward(self, losses: Mapping[str, Tensor] | Sequence[Tensor]) -> Tensor:
        task_losses = self._stack(losses)
        if self.weighting == "fixed":
            return (self.fixed_weights.to(task_losses.dtype) * task_losses).sum()
        if self.weighting == "uncertainty":
            s = self.log_vars.to(task_losses.dtype)
            scale = self.uncertainty_scale.to(task_losses.dtype)
            return (scale * torch.exp(-s) * task_losses + 0.5 * s).sum()
        self._renormalise()
        w = self.loss_weights.to(task_losses.dtype)
        # A clone, so that the in-place renormalisation of a later forward (gradient
        # accumulation) cannot invalidate what this graph saved.
        total = (w.detach().clone() * task_losses).sum()
        if self.training and torch.is_grad_enabled() and task_losses.requires_grad:
            objective = self._gradnorm_objective(task_losses, w)
            total = total + (objective - objective.detach())
        return total

    @property
    def task_weights(self) -> dict[str, float]:
        """The current effective weight of each task (the factor in front of its loss), for logging."""
        with torch.no_grad():
            if self.weighting == "fixed":
                values = self.fixed_weights
            elif self.weighting == "uncertainty":
                values = self.uncertainty_scale * torch.exp(-self.log_vars)
            else:
                w = self.loss_weights.clamp(min=0)
                values = w * len(self.names) / w.sum()
        return dict(zip(self.names, values.tolist(), strict=True))

    def extra_repr(self) -> str:
        tasks = ", ".join(f"{n}={k}" for n, k in zip(self.names, self.kinds, strict=True))
        extra = f", alpha={self.alpha}" if self.weighting == "gradnorm" else ""
        return f"tasks=({tasks}), weighting={self.weighting!r}{extra}"
