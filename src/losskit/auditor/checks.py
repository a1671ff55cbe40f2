"""``audit``: run any loss callable through the batches that break losses.

The audit calls ``loss_fn(input, target)`` (and ``reduction=`` / ``ignore_index=`` when the
callable takes them, as a keyword or, for a module, as an attribute) on generated batches
and records, per check, ``pass``, ``fail`` or ``skipped`` with a one-line explanation:

* ``standard``: an ordinary batch gives a finite scalar with finite gradients;
* ``empty_batch``, ``all_ignored``, ``single_class``, ``zero_logits``, ``extreme_logits``
  (+-1e4), ``float16``, ``bfloat16``: the edge batches, each finite in value and gradient
  (half precision also close to the float32 value);
* ``gradcheck``: analytic gradients equal finite differences in float64;
* ``reduction``: ``"mean"`` equals ``"sum"`` divided by the number of items that count, and
  ``"none"`` sums to ``"sum"``;
* ``batch_split``: the mean over a batch equals the count-weighted mean of its two unequal
  halves; a loss that averages twice (or otherwise depends on the batch size) fails;
* ``input_kind``: whether a classification loss takes logits or probabilities.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._validation import check_choice

__all__ = ["AUDIT_TASKS", "AuditReport", "CheckResult", "audit"]

AUDIT_TASKS = ("regression", "binary", "multiclass", "multilabel", "quantile")
_CLASSIFICATION = ("binary", "multiclass", "multilabel")
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
_BIG = 1e4


@dataclass
class CheckResult:
    """One audit check: ``status`` is ``"pass"``, ``"fail"`` or ``"skipped"``."""

    name: str
    status: str
    detail: str


@dataclass
class AuditReport:
    """The results of :func:`audit`."""

    loss: str
    task: str
    input_kind: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No check failed."""
        return all(c.status != FAIL for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAIL]

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "task": self.task,
            "input_kind": self.input_kind,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        head = f"audit of {self.loss} (task {self.task}): {'passed' if self.passed else 'FAILED'}"
        return "\n".join([head] + [f"  {c.name:<{width}}  {c.status:<7}  {c.detail}" for c in self.checks])

    def __rich__(self) -> Any:
        from rich.table import Table

        verdict = "[green]passed[/green]" if self.passed else "[red]failed[/red]"
        table = Table(title=f"losskit audit: {self.loss} (task {self.task}) {verdict}")
        table.add_column("check", style="bold")
        table.add_column("status")
        table.add_column("explanation")
        colours = {PASS: "green", FAIL: "red", SKIPPED: "yellow"}
        for c in self.checks:
            table.add_row(c.name, f"[{colours[c.status]}]{c.status}[/{colours[c.status]}]", c.detail)
        return table


# --------------------------------------------------------------------------------------
# Calling an arbitrary loss
# --------------------------------------------------------------------------------------


class _Caller:
    """Calls a loss with optional ``reduction`` / ``ignore_index`` however it takes them."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.is_module = isinstance(fn, torch.nn.Module)
        target = fn.forward if self.is_module else fn
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        self.keywords = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}

    def takes(self, name: str) -> bool:
        return name in self.keywords or (self.is_module and hasattr(self.fn, name))

    def default(self, name: str, fallback: Any) -> Any:
        if self.is_module and hasattr(self.fn, name):
            return getattr(self.fn, name)
        if name in self.keywords:
            target = self.fn.forward if self.is_module else self.fn
            p = inspect.signature(target).parameters[name]
            if p.default is not inspect.Parameter.empty:
                return p.default
        return fallback

    def __call__(self, input: Tensor, target: Tensor, **options: Any) -> Any:
        fn, kwargs = self.fn, {}
        for name, value in options.items():
            if name in self.keywords:
                kwargs[name] = value
            elif self.is_module and hasattr(self.fn, name):
                if fn is self.fn:
                    fn = copy.copy(self.fn)
                setattr(fn, name, value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(input, target, **kwargs)


def _name(fn: Any) -> str:
    if isinstance(fn, torch.nn.Module):
        return type(fn).__name__ + "()"
    func = getattr(fn, "func", None)  # functools.partial
    if func is not None:
        opts = ", ".join(f"{k}={v!r}" for k, v in fn.keywords.items())
        return f"{_name(func)}({opts})" if opts else _name(func)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("losskit."):
        return f"losskit.{name}"
    return f"{module}.{name}" if module and module != "__main__" else name


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------


@dataclass
class _Batch:
    input: Tensor
    target: Tensor
    count: float  # items that count for "mean"


class _Maker:
    """Generates batches for one task."""

    def __init__(self, task: str, width: int, ignore_index: int | None, probabilities: bool, seed: int) -> None:
        self.task, self.width, self.ignore_index, self.probabilities = task, width, ignore_index, probabilities
        self.gen = torch.Generator().manual_seed(seed)

    def _to_kind(self, logits: Tensor) -> Tensor:
        if not self.probabilities:
            return logits
        return torch.softmax(logits, dim=-1) if self.task == "multiclass" else torch.sigmoid(logits)

    def batch(
        self, n: int, *, logits: str = "random", target: str = "mixed", ignored: int = 0, dtype=torch.float32
    ) -> _Batch:
        """``logits``: random / zeros / extreme; ``target``: mixed / single; ``ignored`` targets."""
        g, task, w = self.gen, self.task, self.width
        shape = {"regression": (n,), "binary": (n,), "multilabel": (n, w), "multiclass": (n, w), "quantile": (n, w)}[
            task
        ]
        x = torch.randn(shape, generator=g, dtype=torch.float64) * 2
        if logits == "zeros":
            x = torch.zeros(shape, dtype=torch.float64)
        if task in ("regression", "quantile"):
            y = torch.randn(n, generator=g, dtype=torch.float64)
            if logits == "extreme":
                x = torch.where(torch.arange(x.numel()).reshape(shape) % 2 == 0, _BIG, -_BIG).to(torch.float64)
            count = float(x.numel())
            return _Batch(x.to(dtype), y.to(dtype), count)
        if task == "multiclass":
            y = torch.randint(0, w, (n,), generator=g)
            if target == "single":
                y = torch.zeros(n, dtype=torch.long)
            if logits == "extreme":
                # Confident rows, alternately right and wrong.
                hot = torch.where(torch.arange(n) % 2 == 0, y, (y + 1) % w)
                x = torch.full(shape, -_BIG, dtype=torch.float64)
                x[torch.arange(n), hot] = _BIG
            if ignored:
                y[:ignored] = self.ignore_index
            return _Batch(self._to_kind(x).to(dtype), y, float(n - min(ignored, n)))
        y = (torch.rand(shape, generator=g) < 0.5).to(torch.float64)
        if n >= 2:  # both classes present in every label
            y[0], y[1] = 1.0, 0.0
        if target == "single":
            y = torch.ones(shape, dtype=torch.float64)
        if logits == "extreme":
            sign = torch.where(torch.arange(y.numel()).reshape(shape) % 2 == 0, 2 * y - 1, 1 - 2 * y)
            x = sign * _BIG
        return _Batch(self._to_kind(x).to(dtype), y.to(dtype), float(y.numel()))


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


def _scalar_and_grad(caller: _Caller, b: _Batch, **options: Any) -> tuple[Tensor, Tensor]:
    """Value and input-gradient; raises ``_Fail`` with the reason."""
    x = b.input.detach().clone().requires_grad_(True)
    try:
        out = caller(x, b.target, **options)
    except Exception as exc:
        raise _Fail(f"raised {_short(exc)}") from exc
    if not isinstance(out, Tensor):
        raise _Fail(f"returned {type(out).__name__}, not a tensor")
    if out.numel() != 1:
        raise _Fail(f"returned shape {tuple(out.shape)}, not a scalar")
    if not torch.isfinite(out).all():
        raise _Fail(f"loss is {out.item()}")
    if not out.requires_grad:
        raise _Fail("the result is not connected to the input (no gradient flows back)")
    try:
        (grad,) = torch.autograd.grad(out, x, allow_unused=True)
    except Exception as exc:
        raise _Fail(f"backward raised {_short(exc)}") from exc
    if grad is None:
        raise _Fail("the result is not connected to the input (no gradient flows back)")
    bad = int((~torch.isfinite(grad)).sum())
    if bad:
        raise _Fail(f"loss {out.item():.4g} but {bad} of {grad.numel()} gradient entries are NaN or inf")
    return out.detach(), grad


class _Fail(Exception):
    pass


def _finite_check(name: str, caller: _Caller, b: _Batch, what: str, **options: Any) -> CheckResult:
    try:
        value, _ = _scalar_and_grad(caller, b, **options)
    except _Fail as exc:
        return CheckResult(name, FAIL, f"{what}: {exc}")
    return CheckResult(name, PASS, f"{what}: loss {value.item():.4g}, gradients finite")


def _empty(caller: _Caller, maker: _Maker) -> CheckResult:
    b = maker.batch(0)
    try:
        value, _ = _scalar_and_grad(caller, b)
    except _Fail as exc:
        return CheckResult("empty_batch", FAIL, f"empty batch: {exc}; expected 0 with the graph connected")
    if value.item() != 0:
        return CheckResult("empty_batch", FAIL, f"empty batch gives {value.item():.4g}, expected 0")
    return CheckResult("empty_batch", PASS, "empty batch: loss 0, graph connected")


def _all_ignored(caller: _Caller, maker: _Maker) -> CheckResult:
    if maker.task != "multiclass":
        return CheckResult("all_ignored", SKIPPED, f"a {maker.task} task has no ignored targets")
    if maker.ignore_index is None:
        return CheckResult("all_ignored", SKIPPED, "the loss takes no ignore_index")
    b = maker.batch(6, ignored=6)
    try:
        value, _ = _scalar_and_grad(caller, b)
    except _Fail as exc:
        return CheckResult("all_ignored", FAIL, f"every target ignored: {exc}; expected 0 (nothing counts)")
    if value.item() != 0:
        return CheckResult("all_ignored", FAIL, f"every target ignored gives {value.item():.4g}, expected 0")
    return CheckResult("all_ignored", PASS, "every target ignored: loss 0, graph connected")


def _half(name: str, dtype: torch.dtype, caller: _Caller, maker: _Maker) -> CheckResult:
    b = maker.batch(16, dtype=dtype)
    ref = _Batch(b.input.float(), b.target.float() if b.target.is_floating_point() else b.target, b.count)
    try:
        value, _ = _scalar_and_grad(caller, b)
        expected, _ = _scalar_and_grad(caller, ref)
    except _Fail as exc:
        return CheckResult(name, FAIL, f"{dtype} input: {exc}")
    v, e = value.float().item(), expected.item()
    if not math.isclose(v, e, rel_tol=2e-2, abs_tol=2e-2):
        return CheckResult(name, FAIL, f"{dtype} input gives {v:.5g} against {e:.5g} in float32")
    return CheckResult(name, PASS, f"{dtype} input: {v:.5g} (float32 {e:.5g}), gradients finite")


def _gradcheck(caller: _Caller, maker: _Maker) -> CheckResult:
    b = maker.batch(4, dtype=torch.float64, ignored=1 if maker.ignore_index is not None else 0)
    x = b.input.detach().clone().requires_grad_(True)
    try:
        ok = torch.autograd.gradcheck(
            lambda inp: caller(inp, b.target), (x,), eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=False
        )
    except Exception as exc:
        return CheckResult("gradcheck", FAIL, f"float64 gradcheck raised {_short(exc)}")
    if not ok:
        return CheckResult("gradcheck", FAIL, "float64 gradients differ from finite differences")
    return CheckResult("gradcheck", PASS, "float64 gradients match finite differences")


def _value(caller: _Caller, b: _Batch, **options: Any) -> Tensor:
    try:
        with torch.no_grad():
            out = caller(b.input, b.target, **options)
    except Exception as exc:
        raise _Fail(f"raised {_short(exc)}") from exc
    if not isinstance(out, Tensor):
        raise _Fail(f"returned {type(out).__name__}, not a tensor")
    return out.double()


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)


def _reduction(caller: _Caller, maker: _Maker) -> CheckResult:
    if not caller.takes("reduction"):
        return CheckResult("reduction", SKIPPED, "the loss takes no `reduction` argument")
    b = maker.batch(9, ignored=2 if maker.ignore_index is not None else 0)
    try:
        mean = _value(caller, b, reduction="mean")
        total = _value(caller, b, reduction="sum")
        none = _value(caller, b, reduction="none")
    except _Fail as exc:
        return CheckResult("reduction", FAIL, str(exc))
    if mean.numel() != 1 or total.numel() != 1:
        return CheckResult("reduction", FAIL, "'mean' or 'sum' does not return a scalar")
    m, s = mean.item(), total.item()
    if not _close(m * b.count, s):
        implied = s / m if m else math.inf
        return CheckResult(
            "reduction", FAIL, f"'mean' is 'sum' / {implied:.4g}, not / {b.count:g} (the items that count)"
        )
    if not _close(none.sum().item(), s):
        return CheckResult("reduction", FAIL, f"'none' sums to {none.sum().item():.6g}, 'sum' gives {s:.6g}")
    return CheckResult("reduction", PASS, f"'mean' = 'sum' / {b.count:g} items; 'none' sums to 'sum'")


def _batch_split(caller: _Caller, maker: _Maker) -> CheckResult:
    n, cut = 10, 3
    ignored = 2 if maker.ignore_index is not None else 0
    b = maker.batch(n, ignored=ignored)
    first = slice(0, cut)
    rest = slice(cut, n)
    per_row = 1 if maker.task in ("multiclass", "binary", "regression") else maker.width
    parts = []
    for sl in (first, rest):
        target = b.target[sl]
        if maker.task == "multiclass":
            count = float((target != maker.ignore_index).sum()) if ignored else float(target.numel())
        else:
            count = float(target.shape[0] * per_row)
        parts.append(_Batch(b.input[sl], target, count))
    try:
        full = _value(caller, b).item()
        values = [_value(caller, p).item() for p in parts]
    except _Fail as exc:
        return CheckResult("batch_split", FAIL, str(exc))
    pooled = sum(p.count * v for p, v in zip(parts, values, strict=True)) / b.count
    sizes = f"{parts[0].count:g} + {parts[1].count:g} items"
    if _close(full, pooled):
        return CheckResult("batch_split", PASS, f"batch mean {full:.5g} = count-weighted mean of halves ({sizes})")
    if _close(full, sum(values)):
        return CheckResult("batch_split", PASS, f"the loss sums over the batch: {full:.5g} = sum of halves ({sizes})")
    return CheckResult(
        "batch_split",
        FAIL,
        f"batch mean {full:.5g} but its halves ({sizes}) pool to {pooled:.5g}: the loss depends on the batch size "
        "(averaged twice?)",
    )


def _probe(caller: _Caller, x: Tensor, y: Tensor) -> float:
    try:
        out = _value(caller, _Batch(x, y, 0.0))
    except _Fail:
        return math.nan
    return out.reshape(-1)[0].item() if out.numel() else math.nan


def _detect_kind(caller: _Caller, maker: _Maker) -> str:
    """``"logits"``, ``"probabilities"`` (or log-probabilities) or ``"unclear"``."""
    n, w = 4, maker.width
    if maker.task == "multiclass":
        gen = torch.Generator().manual_seed(1)
        z = torch.randn(n, w, generator=gen) * 2 - 1
        y = torch.arange(n) % w
        a, b = _probe(caller, z, y), _probe(caller, z + 5.0, y)
        if math.isfinite(a) and math.isfinite(b) and _close(a, b):
            return "logits"  # finite on negative scores and invariant to a shift: softmax inside
        p = torch.softmax(z, dim=-1)
        return "probabilities" if math.isfinite(_probe(caller, p, y)) else "unclear"
    shape = (n,) if maker.task == "binary" else (n, w)
    ones = torch.ones(shape)
    # For a positive target a logits loss is finite at any score, falls from -3 through 0 to 3,
    # and still changes beyond 3 (label smoothing may make it rise again there); a probability
    # loss is NaN below 0, or clamps and then stays flat above 1.
    at = [_probe(caller, torch.full(shape, v), ones) for v in (-3.0, 0.0, 3.0, 6.0)]
    if all(math.isfinite(v) for v in at) and at[0] > at[1] > at[2] and not _close(at[2], at[3]):
        return "logits"
    inside = [_probe(caller, torch.full(shape, v), ones) for v in (0.2, 0.5, 0.8)]
    if all(math.isfinite(v) for v in inside) and inside[0] > inside[1] > inside[2]:
        return "probabilities"
    return "unclear"


def _input_kind(caller: _Caller, maker: _Maker, declared: str) -> tuple[CheckResult, str]:
    if maker.task not in _CLASSIFICATION:
        return CheckResult("input_kind", SKIPPED, f"a {maker.task} loss takes predictions, not scores"), "predictions"
    found = _detect_kind(caller, maker)
    if found == "unclear":
        return CheckResult(
            "input_kind", FAIL, "neither a logits nor a probability loss: check the input contract"
        ), found
    if found != declared:
        hint = (
            "a probability loss takes log(0) once a sigmoid/softmax saturates and is not autocast-safe; "
            "compute it from logits"
            if found == "probabilities"
            else "pass input_kind='logits'"
        )
        return CheckResult("input_kind", FAIL, f"takes {found}, not {declared}: {hint}"), found
    how = (
        "finite outside [0, 1], still changing where probabilities saturate"
        if found == "logits"
        else "finite in (0, 1)"
    )
    if maker.task == "multiclass" and found == "logits":
        how = "finite on negative scores and invariant to adding a constant: a softmax inside"
    return CheckResult("input_kind", PASS, f"takes {found} ({how})"), found


def audit(
    loss_fn: Callable[..., Any],
    *,
    task: str,
    num_classes: int | None = None,
    input_kind: str = "logits",
    ignore_index: int | None = None,
    seed: int = 0,
) -> AuditReport:
    """Run a loss callable through edge batches and consistency checks.

    Args:
        loss_fn: ``loss_fn(input, target) -> scalar tensor``: a losskit or torch function or
            module, a ``functools.partial`` with options bound, or any user callable. When it
            takes ``reduction`` (or ``ignore_index``), as a parameter or a module attribute,
            the audit uses it.
        task: ``"regression"`` (``input``, ``target`` of shape ``(N,)``), ``"binary"`` (logits
            ``(N,)``, 0/1 float targets), ``"multilabel"`` (``(N, L)``), ``"multiclass"``
            (logits ``(N, C)``, class indices ``(N,)``) or ``"quantile"`` (``input (N, Q)``,
            ``target (N,)``).
        num_classes: ``C``, ``L`` or ``Q`` (default 4, 3, 3).
        input_kind: ``"logits"`` (default) or ``"probabilities"``: what the loss should take.
            The edge batches are generated in that form, and the ``input_kind`` check fails when
            the loss takes the other.
        ignore_index: the ignored class index for multi-class targets; by default the loss's
            own ``ignore_index`` when it takes one, else ignored targets are not tested.
        seed: seed of the generated batches.

    Returns:
        :class:`AuditReport`; ``report.passed`` is False when any check failed.

    Example:
        >>> import losskit
        >>> losskit.audit(losskit.cross_entropy, task="multiclass").passed
        True
    """
    check_choice("task", task, AUDIT_TASKS)
    check_choice("input_kind", input_kind, ("logits", "probabilities"))
    if input_kind == "probabilities" and task not in _CLASSIFICATION:
        raise LossInputError("input_kind", "'logits' for a regression or quantile task", repr(input_kind))
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
    ):
        if not (task == "quantile" and num_classes == 1):
            raise LossInputError("num_classes", "an integer >= 2", repr(num_classes))
    caller = _Caller(loss_fn)
    width = num_classes or (4 if task == "multiclass" else 3)
    if task == "multiclass" and ignore_index is None and caller.takes("ignore_index"):
        ignore_index = caller.default("ignore_index", -100)
    maker = _Maker(task, width, ignore_index if task == "multiclass" else None, input_kind == "probabilities", seed)
    zero_name = "uniform probabilities" if maker.probabilities else "all-zero logits"
    extreme_name = "saturated probabilities (0 and 1)" if maker.probabilities else "logits of +-1e4"
    if task in ("regression", "quantile"):
        zero_name, extreme_name = "all-zero predictions", "predictions of +-1e4"
    with _one_torch_thread():
        checks = _run_checks(caller, maker, task, zero_name, extreme_name)
        kind_check, found = _input_kind(caller, maker, input_kind)
    checks.append(kind_check)
    return AuditReport(loss=_name(loss_fn), task=task, input_kind=found, checks=checks)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread (the batches are tiny: thread synchronisation would dominate) and
    restore the caller's count, whatever happens. (With torch's OpenMP pool the count is per
    calling thread: other threads keep theirs meanwhile.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run_checks(caller: _Caller, maker: _Maker, task: str, zero_name: str, extreme_name: str) -> list[CheckResult]:
    return [
        _finite_check("standard", caller, maker.batch(12), "ordinary batch"),
        _empty(caller, maker),
        _all_ignored(caller, maker),
        (
            _finite_check("single_class", caller, maker.batch(8, target="single"), "every target the same class")
            if task in _CLASSIFICATION
            else CheckResult("single_class", SKIPPED, f"a {task} target has no classes")
        ),
        _finite_check("zero_logits", caller, maker.batch(8, logits="zeros"), zero_name),
        _finite_check("extreme_logits", caller, maker.batch(8, logits="extreme"), extreme_name),
        _half("float16", torch.float16, caller, maker),
        _half("bfloat16", torch.bfloat16, caller, maker),
        _gradcheck(caller, maker),
        _reduction(caller, maker),
        _batch_split(caller, maker),
    ]
