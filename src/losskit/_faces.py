"""The module classes of :mod:`losskit.nn`: the shared base, the faces built from catalog entries,
and the modules written out because they own more than their options.

:mod:`losskit.nn` is the public namespace (every class here says ``__module__ == "losskit.nn"``);
this module holds the classes so that :meth:`losskit.catalog.LossEntry.module_class` reaches them
without importing :mod:`losskit.nn`, which reads the catalog (no import cycle).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from losskit import functional as F

if TYPE_CHECKING:
    from losskit.catalog import LossEntry

_PUBLIC = "losskit.nn"


class _FunctionalLoss(torch.nn.Module):
    """Base: ``forward(*inputs, **call_kwargs)`` calls ``self.function`` with the stored options.

    Tensor options (class weights, ``pos_weight``, quantiles) are registered as buffers so
    that ``.to(device)`` moves them and ``state_dict`` saves them.
    """

    function: Any = None

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._option_names = []
        for key, value in options.items():
            if isinstance(value, Tensor):
                self.register_buffer(key, value)
            else:
                setattr(self, key, value)
            self._option_names.append(key)

    def options(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._option_names}

    def forward(self, *inputs: Tensor, **kwargs: Any) -> Tensor:
        return type(self).function(*inputs, **{**self.options(), **kwargs})

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options().items() if not isinstance(v, Tensor))


# ---------------------------------------------------------------------------------------
# Generated faces
# ---------------------------------------------------------------------------------------


def _call_text(entry: LossEntry) -> str:
    """``loss(input, target, weight=...)``: the inputs, then the options passed per call."""
    per_call = [f"{option.name}=..." for option in entry.options if option.per_call]
    return f"loss({', '.join([*entry.inputs, *per_call])})"


def _build(entry: LossEntry) -> type[_FunctionalLoss]:
    """The module class of ``entry``: it stores the options not passed per call, and ``reduction``."""
    function = entry.function()
    parameters = inspect.signature(function).parameters
    stored = {option.name for option in entry.options if not option.per_call} | {"reduction"}
    signature = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for name, p in parameters.items() if name in stored),
        ],
        return_annotation=None,
    )

    def __init__(self: _FunctionalLoss, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{entry.module}(): {exc}") from None
        bound.apply_defaults()
        _FunctionalLoss.__init__(self, **{k: v for k, v in bound.arguments.items() if k != "self"})

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{entry.module}.__init__"
    namespace = {
        "__module__": _PUBLIC,
        "__qualname__": entry.module,
        "__doc__": f"Module face of :func:`losskit.functional.{entry.name}`; called as ``{_call_text(entry)}``.",
        "__init__": __init__,
        "function": staticmethod(function),
    }
    return type(entry.module, (_FunctionalLoss,), namespace)


_GENERATED: dict[str, type[_FunctionalLoss]] = {}


def face(entry: LossEntry) -> type[_FunctionalLoss]:
    """The generated module class of ``entry``, built on first use and the same object after."""
    cls = _GENERATED.get(entry.module)
    return cls if cls is not None else _GENERATED.setdefault(entry.module, _build(entry))


def module_class(entry: LossEntry) -> type[torch.nn.Module]:
    """``entry``'s module class: the one written out here, else its generated face."""
    return WRITTEN.get(entry.module) or face(entry)


# ---------------------------------------------------------------------------------------
# Modules that own more than their options
# ---------------------------------------------------------------------------------------


class PinballLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.pinball_loss`; ``quantiles`` fixed at construction."""

    function = staticmethod(F.pinball_loss)

    def __init__(self, quantiles: Any, *, monotone: bool = False, reduction: str = "mean") -> None:
        q = torch.as_tensor(quantiles, dtype=torch.float64)
        super().__init__(quantiles=q, monotone=monotone, reduction=reduction)


class InfoNCELoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.info_nce`; ``loss(query, key)``.

    ``symmetric=True`` gives the CLIP loss. With ``learn_temperature=True`` the module holds a
    learnable log inverse temperature (CLIP's ``logit_scale``, initialised to ``log(1/temperature)``;
    the inverse temperature is clamped at 100), and the temperature given is only its starting value.
    """

    function = staticmethod(F.info_nce)

    def __init__(
        self,
        *,
        temperature: float = 0.07,
        symmetric: bool = False,
        gather: bool = False,
        normalize: bool = True,
        learn_temperature: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(symmetric=symmetric, gather=gather, normalize=normalize, reduction=reduction)
        if learn_temperature:
            self.logit_scale = torch.nn.Parameter(torch.tensor(1.0 / temperature).log())
        else:
            self.logit_scale = None
            self.temperature = temperature

    def forward(self, query: Tensor, key: Tensor, **kwargs: Any) -> Tensor:
        if self.logit_scale is not None:
            kwargs.setdefault("temperature", 1.0 / self.logit_scale.exp().clamp(max=100.0))
        else:
            kwargs.setdefault("temperature", self.temperature)
        return F.info_nce(query, key, **{**self.options(), **kwargs})


class _MarginSoftmax(torch.nn.Module):
    """Holds the ``(num_classes, embedding_dim)`` class centres of an additive-margin softmax."""

    def __init__(self, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        from losskit._errors import LossInputError

        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise LossInputError("embedding_dim", "a positive integer", repr(embedding_dim))
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise LossInputError("num_classes", "a positive integer", repr(num_classes))
        self.centers = torch.nn.Parameter(torch.empty(num_classes, embedding_dim))
        torch.nn.init.xavier_uniform_(self.centers)

    def cosine(self, input: Tensor) -> Tensor:
        """``(N, num_classes)`` cosine similarities to the class centres (no margin): for inference."""
        return torch.nn.functional.normalize(input, dim=1) @ torch.nn.functional.normalize(self.centers, dim=1).T


class ArcFace(_MarginSoftmax):
    """ArcFace head and loss: :func:`losskit.functional.arcface_loss` with learned class centres.

    ``loss = ArcFace(512, 1000)(input, target)``; ``margin`` in radians. The class centres are
    the parameter ``centers`` ``(num_classes, embedding_dim)``.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        scale: float = 64.0,
        margin: float = 0.5,
        easy_margin: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(embedding_dim, num_classes)
        self.scale, self.margin, self.easy_margin, self.reduction = scale, margin, easy_margin, reduction

    def forward(self, input: Tensor, target: Tensor, **kwargs: Any) -> Tensor:
        options = {"scale": self.scale, "margin": self.margin, "easy_margin": self.easy_margin}
        return F.arcface_loss(input, self.centers, target, **{**options, "reduction": self.reduction, **kwargs})

    def extra_repr(self) -> str:
        return f"scale={self.scale}, margin={self.margin}, easy_margin={self.easy_margin}, reduction={self.reduction!r}"


class CosFace(_MarginSoftmax):
    """CosFace head and loss: :func:`losskit.functional.cosface_loss` with learned class centres."""

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        scale: float = 64.0,
        margin: float = 0.35,
        reduction: str = "mean",
    ) -> None:
        super().__init__(embedding_dim, num_classes)
        self.scale, self.margin, self.reduction = scale, margin, reduction

    def forward(self, input: Tensor, target: Tensor, **kwargs: Any) -> Tensor:
        options = {"scale": self.scale, "margin": self.margin, "reduction": self.reduction}
        return F.cosface_loss(input, self.centers, target, **{**options, **kwargs})

    def extra_repr(self) -> str:
        return f"scale={self.scale}, margin={self.margin}, reduction={self.reduction!r}"


class CRF(torch.nn.Module):
    """A linear-chain CRF layer owning its transition, start and end scores (zeros at start).

    ``crf(input, target, mask=None)`` is :func:`losskit.functional.crf_loss` and
    ``crf.decode(input, mask=None)`` is :func:`losskit.crf_decode`, both with this
    layer's scores.
    """

    def __init__(self, num_tags: int, *, reduction: str = "mean") -> None:
        from losskit._errors import LossInputError

        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise LossInputError("num_tags", "a positive int", repr(num_tags))
        self.reduction = reduction
        self.transitions = torch.nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = torch.nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = torch.nn.Parameter(torch.zeros(num_tags))

    def _scores(self) -> dict[str, Tensor]:
        return {"start_transitions": self.start_transitions, "end_transitions": self.end_transitions}

    def forward(self, input: Tensor, target: Tensor, mask: Tensor | None = None, **kwargs: Any) -> Tensor:
        options = {"reduction": self.reduction, **kwargs}
        return F.crf_loss(input, target, self.transitions, mask=mask, **self._scores(), **options)

    def decode(self, input: Tensor, mask: Tensor | None = None, **kwargs: Any) -> Tensor:
        from losskit.functional.crf import crf_decode

        return crf_decode(input, self.transitions, mask=mask, **self._scores(), **kwargs)


#: The modules written out above, by name: the catalog's other modules are generated.
WRITTEN: dict[str, type[torch.nn.Module]] = {
    cls.__name__: cls for cls in (PinballLoss, InfoNCELoss, ArcFace, CosFace, CRF)
}
for _cls in (_FunctionalLoss, *WRITTEN.values()):
    _cls.__module__ = _PUBLIC  # their public home, the name pickles record
