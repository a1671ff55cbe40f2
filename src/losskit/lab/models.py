"""PyTorch models for tables: an MLP and its zero-hidden-layer case, the linear model.

The output layer is followed by a fixed affine map ``out = net(x) * scale + loc`` whose ``loc``
starts the model at the training data's baseline (log prior odds for classification, the median
for regression, 0 for ranking scores) and whose ``scale`` (a robust spread of a regression target) keeps the network's
own outputs near unit scale, so one learning rate suits every target. The loss still sees the
output in the target's own units, so options such as Huber's ``delta`` mean what they say. A
count loss's output is a log-mean (``log_link``): unit scale, starting at the log of the mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["TabularNet", "build_net", "output_size"]


def output_size(task: str, n_classes: int) -> int:
    return n_classes if task in ("multiclass", "ordinal") else 1


class TabularNet(nn.Module):
    """``x (N, F) -> (N,)`` logits / predictions, or ``(N, C)`` logits for multi-class.

    Args:
        n_features: ``F``.
        n_outputs: 1, or ``C`` for multi-class.
        hidden: widths of the hidden layers (ReLU); ``()`` is a linear model.
        loc, scale: the fixed output affine map (see the module docstring).
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden: Sequence[int] = (64, 64),
        *,
        loc: Tensor | float = 0.0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        head = nn.Linear(width, n_outputs)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        layers.append(head)
        self.body = nn.Sequential(*layers)
        self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32).reshape(-1))
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.config: dict[str, Any] = {"n_features": n_features, "n_outputs": n_outputs, "hidden": list(hidden)}

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x) * self.scale + self.loc
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def optimal_start(loss: Callable[..., Tensor], target: Tensor, n_outputs: int, max_rows: int = 20000) -> Tensor:
    """The constant output minimising ``loss`` on the training targets (what boosting starts from).

    Found with L-BFGS on at most ``max_rows`` evenly spaced rows; a class-weighted or focal loss
    thus starts at its own optimum, not at the plain log prior odds.
    """
    y = target[:: max(1, target.shape[0] // max_rows)]
    b = torch.zeros(n_outputs, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS([b], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        out = b.expand(y.shape[0], n_outputs)
        value = loss(out.squeeze(-1) if n_outputs == 1 else out, y)
        value.backward()
        return value

    opt.step(closure)
    return b.detach()


def build_net(
    kind: str,
    n_features: int,
    task: str,
    y_train: np.ndarray,
    n_classes: int,
    hidden: Sequence[int],
    start: Tensor | None = None,
    *,
    log_link: bool = False,
    n_outputs: int | None = None,
) -> TabularNet:
    """The ``mlp`` or ``linear`` model; its output map starts at ``start`` (default: the training baseline).

    With ``log_link`` the output is a log-mean (count losses): unit scale, starting at ``start`` or
    the log of the mean target.
    """
    if log_link:
        loc = float(np.log(max(float(np.mean(y_train)), 1e-8)))
        scale = 1.0
    elif task == "ranking":  # scores: only their order within a query matters
        loc, scale = 0.0, 1.0
    elif task == "regression":
        q25, q50, q75 = np.percentile(y_train, [25, 50, 75])
        spread = (q75 - q25) / 1.349 or float(np.std(y_train)) or 1.0  # IQR of a normal = 1.349 sigma
        loc: Any = float(q50)
        scale = float(spread)
    else:
        prior = np.bincount(y_train, minlength=n_classes).astype(np.float64) + 0.5
        prior /= prior.sum()
        loc = float(np.log(prior[1] / prior[0])) if task == "binary" else torch.as_tensor(np.log(prior))
        scale = 1.0
    if start is not None:
        loc = start
    layers = tuple(hidden) if kind == "mlp" else ()
    outputs = n_outputs or output_size(task, n_classes)
    return TabularNet(n_features, outputs, layers, loc=loc, scale=scale)
