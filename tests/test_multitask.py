"""Tests for losskit.MultiTaskLoss: the three weightings, GradNorm's gradients, and a training run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losskit
from losskit import LossInputError, MultiTaskLoss

TASKS = {"depth": "regression", "seg": "classification"}


# --- fixed --------------------------------------------------------------------------------


def test_fixed_is_the_weighted_sum() -> None:
    a, b = torch.tensor(2.0, requires_grad=True), torch.tensor(5.0, requires_grad=True)
    assert MultiTaskLoss(TASKS)({"depth": a, "seg": b}).item() == 7.0
    mtl = MultiTaskLoss(TASKS, weights={"seg": 0.1, "depth": 3.0})
    total = mtl([a, b])  # a sequence is taken in task order
    torch.testing.assert_close(total, torch.tensor(3.0 * 2.0 + 0.1 * 5.0))
    total.backward()
    assert a.grad.item() == pytest.approx(3.0) and b.grad.item() == pytest.approx(0.1)
    assert mtl.task_weights == pytest.approx({"depth": 3.0, "seg": 0.1})
    assert list(mtl.parameters()) == []


# --- uncertainty --------------------------------------------------------------------------


def test_uncertainty_matches_kendall_forms() -> None:
    mtl = MultiTaskLoss(TASKS, weighting="uncertainty")
    with torch.no_grad():
        mtl.log_vars.copy_(torch.tensor([0.7, -0.4]))
    reg, cls = torch.tensor(3.0), torch.tensor(0.8)
    # Kendall et al. 2018: 0.5 exp(-s) L + 0.5 s (regression), exp(-s) L + 0.5 s (classification)
    expected = 0.5 * math.exp(-0.7) * 3.0 + 0.5 * 0.7 + math.exp(0.4) * 0.8 + 0.5 * -0.4
    torch.testing.assert_close(mtl({"depth": reg, "seg": cls}), torch.tensor(expected))
    assert mtl.task_weights == pytest.approx({"depth": 0.5 * math.exp(-0.7), "seg": math.exp(0.4)})


def test_uncertainty_log_variances_converge_to_their_optimum() -> None:
    """With the losses held fixed, s* = log L (regression) and log 2L (classification)."""
    mtl = MultiTaskLoss(TASKS, weighting="uncertainty")
    losses = {"depth": torch.tensor(40.0), "seg": torch.tensor(0.3)}
    opt = torch.optim.Adam(mtl.parameters(), lr=0.1)
    for _ in range(400):
        opt.zero_grad()
        mtl(losses).backward()
        opt.step()
    torch.testing.assert_close(mtl.log_vars.detach(), torch.tensor([math.log(40.0), math.log(0.6)]), atol=1e-2, rtol=0)
    # each task then carries weight ~ 1 / (2 L)
    assert mtl.task_weights == pytest.approx({"depth": 1 / 80, "seg": 1 / 0.6}, rel=2e-2)


# --- GradNorm -----------------------------------------------------------------------------


def _two_losses(shared: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L1 = 3 |W|^2 and L2 = (W . a)^2: gradients 6 W and 2 (W . a) a, known by hand."""
    a = torch.tensor([1.0, -2.0])
    return 3 * (shared**2).sum(), (shared @ a) ** 2


def test_gradnorm_total_value_and_network_gradient_are_the_weighted_sum() -> None:
    shared = torch.tensor([0.5, 1.5], requires_grad=True)
    mtl = MultiTaskLoss(TASKS, weighting="gradnorm", weights=[3.0, 1.0], shared=shared)
    l1, l2 = _two_losses(shared)
    total = mtl([l1, l2])
    w = torch.tensor([1.5, 0.5])  # [3, 1] renormalised to sum to the number of tasks
    assert total.item() == pytest.approx((w[0] * l1 + w[1] * l2).item(), rel=1e-6)
    total.backward()
    expected = 1.5 * 6 * torch.tensor([0.5, 1.5]) + 0.5 * 2 * (0.5 - 3.0) * torch.tensor([1.0, -2.0])
    torch.testing.assert_close(shared.grad, expected)


def test_gradnorm_weight_gradient_is_the_gradnorm_objective() -> None:
    shared = torch.tensor([0.5, 1.5], requires_grad=True)
    mtl = MultiTaskLoss(TASKS, weighting="gradnorm", alpha=1.0, shared=shared)
    l1, l2 = _two_losses(shared)
    mtl([l1, l2]).backward()
    g1 = (6 * torch.tensor([0.5, 1.5])).norm()  # |grad L1| = 6 |W|
    g2 = (2 * (0.5 - 3.0) * torch.tensor([1.0, -2.0])).norm()  # |grad L2| = 2 |W . a| |a|
    torch.testing.assert_close(mtl.last_grad_norms, torch.stack([g1, g2]))
    # First step: L(0) = L, so every r_i = 1 and the target is the mean of G_i = w_i g_i = g_i.
    # d/dw_i sum_j |w_j g_j - mean| = sign(w_i g_i - mean) g_i (the target is held constant).
    mean = (g1 + g2) / 2
    expected = torch.stack([torch.sign(g1 - mean) * g1, torch.sign(g2 - mean) * g2])
    torch.testing.assert_close(mtl.loss_weights.grad, expected)


@pytest.mark.parametrize(("alpha", "signs"), [(1.0, [-1.0, 1.0]), (0.0, [0.0, 0.0])])
def test_gradnorm_targets_follow_relative_inverse_training_rates(alpha: float, signs: list[float]) -> None:
    """Equal gradient norms; task 1's loss ratio L/L(0) stays 1 while task 2's halves.

    r = (1, 0.5) / 0.75 = (4/3, 2/3): with alpha = 1 the target of the slower task 1 is above
    its G (weight pushed up: gradient -g) and task 2's below (+g); with alpha = 0 the targets
    equal the mean and both gradients vanish.
    """
    shared = torch.tensor([1.0, 0.0], requires_grad=True)
    mtl = MultiTaskLoss(TASKS, weighting="gradnorm", alpha=alpha, shared=shared)
    first = [(shared**2).sum() * 2, (shared**2).sum() * 2]
    mtl(first)  # records L(0) = (2, 2)
    second = [(shared**2).sum() * 2, (shared**2).sum() * 2 - 1.0]  # same gradients, losses (2, 1)
    mtl.loss_weights.grad = None
    mtl(second).backward()
    g = 4.0  # |grad 2 |W|^2| = 4 |W| = 4
    torch.testing.assert_close(mtl.loss_weights.grad, torch.tensor(signs) * g)


def test_gradnorm_renormalises_and_keeps_weights_positive() -> None:
    shared = torch.ones(3, requires_grad=True)
    mtl = MultiTaskLoss(TASKS, weighting="gradnorm", shared=shared)
    with torch.no_grad():
        mtl.loss_weights.copy_(torch.tensor([3.0, -1.0]))  # as after a large optimiser step
    mtl([shared.sum(), shared.sum()])
    w = mtl.task_weights
    assert sum(w.values()) == pytest.approx(2.0)
    assert w["seg"] > 0 and w["depth"] == pytest.approx(2.0, rel=1e-5)


def test_gradnorm_eval_no_grad_and_accumulation() -> None:
    shared = torch.tensor([0.5, 1.5], requires_grad=True)
    mtl = MultiTaskLoss(TASKS, weighting="gradnorm", shared=shared)
    with torch.no_grad():
        assert mtl(list(_two_losses(shared))).item() == pytest.approx(sum(_two_losses(shared)).item())
    assert torch.isnan(mtl.initial_losses).all()  # nothing recorded outside training
    mtl.eval()
    mtl(list(_two_losses(shared))).backward()
    assert mtl.loss_weights.grad is None
    mtl.train()
    # two micro-batches, one backward (gradient accumulation)
    total = mtl(list(_two_losses(shared))) + mtl(list(_two_losses(shared)))
    total.backward()
    assert mtl.loss_weights.grad is not None and torch.isfinite(mtl.loss_weights.grad).all()


def test_state_dict_round_trip() -> None:
    shared = torch.tensor([0.5, 1.5], requires_grad=True)
    mtl = MultiTaskLoss(TASKS, weighting="gradnorm", shared=shared)
    mtl(list(_two_losses(shared)))
    fresh = MultiTaskLoss(TASKS, weighting="gradnorm", shared=shared)
    fresh.load_state_dict(mtl.state_dict())
    torch.testing.assert_close(fresh.initial_losses, mtl.initial_losses)
    unc = MultiTaskLoss(TASKS, weighting="uncertainty")
    assert set(unc.state_dict()) == {"log_vars"}


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: MultiTaskLoss({"a": "segmentation"}), "tasks"),
        (lambda: MultiTaskLoss({}), "tasks"),
        (lambda: MultiTaskLoss([("a", "regression"), ("a", "classification")]), "tasks"),
        (lambda: MultiTaskLoss(["a", "b"]), "tasks"),
        (lambda: MultiTaskLoss(TASKS, weighting="uncertainty-weighting"), "weighting"),
        (lambda: MultiTaskLoss(TASKS, weighting="gradnorm"), "shared"),
        (lambda: MultiTaskLoss(TASKS, weighting="gradnorm", shared=torch.ones(2)), "shared"),
        (lambda: MultiTaskLoss(TASKS, weighting="uncertainty", weights=[1.0, 2.0]), "weights"),
        (lambda: MultiTaskLoss(TASKS, weights=[1.0, -2.0]), "weights"),
        (lambda: MultiTaskLoss(TASKS, weights=[1.0]), "weights"),
        (lambda: MultiTaskLoss(TASKS, weights={"depth": 1.0}), "weights"),
        (lambda: MultiTaskLoss(TASKS, alpha=-1.0), "alpha"),
        (lambda: MultiTaskLoss(TASKS)({"depth": torch.tensor(1.0)}), "losses"),
        (lambda: MultiTaskLoss(TASKS)([torch.tensor(1.0)]), "losses"),
        (lambda: MultiTaskLoss(TASKS)([torch.ones(3), torch.tensor(1.0)]), "losses"),
        (lambda: MultiTaskLoss(TASKS)([torch.tensor(1), torch.tensor(1.0)]), "losses"),
    ],
)
def test_bad_input_raises_naming_argument(make, argument: str) -> None:
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        make()


def test_exported_at_top_level() -> None:
    assert losskit.MultiTaskLoss is MultiTaskLoss


# --- training: one loss ~1000x the other ----------------------------------------------------


def _train(weighting: str, steps: int = 300, seed: int = 0) -> tuple[float, float, float]:
    """Shared tanh trunk (32 -> 4) with two linear heads, Adam, minibatches of 64.

    Task "big": y = x0 + 0.3 noise, its MSE multiplied by 1000 (a loss in other units).
    Task "small": y = x1, plain MSE. At the start the big loss is ~1000x the small one. With
    equal fixed weights the big task's gradient (and its minibatch noise) dominates the shared
    trunk, so the trunk never learns the x1 direction the small task needs (random features
    of 4 units out of 32 inputs carry little of it). Returns the loss ratio at the start and
    the small and big tasks' validation MSE relative to their target variance.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    def data(n: int):
        x = torch.randn(n, 32, generator=gen)
        return x, (x[:, 0] + 0.3 * torch.randn(n, generator=gen))[:, None], x[:, 1:2]

    x_train, big_train, small_train = data(2048)
    x_val, big_val, small_val = data(1024)
    trunk = torch.nn.Sequential(torch.nn.Linear(32, 4), torch.nn.Tanh())
    head_big, head_small = torch.nn.Linear(4, 1), torch.nn.Linear(4, 1)
    shared = {"shared": trunk[0].weight} if weighting == "gradnorm" else {}
    mtl = MultiTaskLoss({"big": "regression", "small": "regression"}, weighting=weighting, alpha=1.5, **shared)
    model_params = [*trunk.parameters(), *head_big.parameters(), *head_small.parameters()]
    groups = [{"params": model_params}]
    if list(mtl.parameters()):
        groups.append({"params": list(mtl.parameters()), "lr": 0.1})
    opt = torch.optim.Adam(groups, lr=1e-2)
    for step in range(steps):
        index = torch.randint(0, len(x_train), (64,), generator=gen)
        h = trunk(x_train[index])
        big = 1000 * F.mse_loss(head_big(h), big_train[index])
        small = F.mse_loss(head_small(h), small_train[index])
        if step == 0:
            ratio = (big / small).item()
        opt.zero_grad()
        mtl({"big": big, "small": small}).backward()
        opt.step()
    with torch.no_grad():
        h = trunk(x_val)
        small_err = (F.mse_loss(head_small(h), small_val) / small_val.var()).item()
        big_err = (F.mse_loss(head_big(h), big_val) / big_val.var()).item()
    return ratio, small_err, big_err


@pytest.fixture
def one_thread():
    """The model is tiny: with several threads, hand-offs cost more than the arithmetic."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_adaptive_weighting_learns_the_small_task_that_fixed_weights_leave_unlearned(one_thread) -> None:
    ratio, fixed_small, fixed_big = _train("fixed")
    assert 300 < ratio < 3000  # the big loss starts ~1000x the small one
    assert fixed_small > 0.5  # relative validation MSE: the small task is essentially unlearned
    assert fixed_big < 0.2  # the big task is learned
    for weighting in ("uncertainty", "gradnorm"):
        _, small, big = _train(weighting)
        assert small < 0.2, weighting
        assert big < 0.6, weighting
