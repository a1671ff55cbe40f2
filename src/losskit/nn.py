"""Thin ``torch.nn.Module`` faces of the functional losses.

Each module stores its options at construction and calls the one functional definition in
``forward``; there is no second implementation of any loss here. Call-time keyword
arguments (``num_items=...``, a per-batch ``weight=...``) are passed through.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from losskit import functional as F

__all__ = [
    "MSELoss",
    "MAELoss",
    "HuberLoss",
    "SmoothL1Loss",
    "LogCoshLoss",
    "PinballLoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "BinaryFocalLoss",
    "FocalLoss",
]


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


class MSELoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.mse_loss`."""

    function = staticmethod(F.mse_loss)

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)


class MAELoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.mae_loss`."""

    function = staticmethod(F.mae_loss)

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)


class HuberLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.huber_loss`."""

    function = staticmethod(F.huber_loss)

    def __init__(self, *, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(delta=delta, reduction=reduction)


class SmoothL1Loss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.smooth_l1_loss`."""

    function = staticmethod(F.smooth_l1_loss)

    def __init__(self, *, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(beta=beta, reduction=reduction)


class LogCoshLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.log_cosh_loss`."""

    function = staticmethod(F.log_cosh_loss)

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)


class PinballLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.pinball_loss`; ``quantiles`` fixed at construction."""

    function = staticmethod(F.pinball_loss)

    def __init__(self, quantiles: Any, *, monotone: bool = False, reduction: str = "mean") -> None:
        q = torch.as_tensor(quantiles, dtype=torch.float64)
        super().__init__(quantiles=q, monotone=monotone, reduction=reduction)


class BCEWithLogitsLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.binary_cross_entropy_with_logits`."""

    function = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        pos_weight: Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight=weight, pos_weight=pos_weight, label_smoothing=label_smoothing, reduction=reduction)


class CrossEntropyLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.cross_entropy`."""

    function = staticmethod(F.cross_entropy)

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction)


class BinaryFocalLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.binary_focal_loss`."""

    function = staticmethod(F.binary_focal_loss)

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: float | None = None,
        pos_weight: Tensor | None = None,
        weight: Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            gamma=gamma,
            alpha=alpha,
            pos_weight=pos_weight,
            weight=weight,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )


class FocalLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.focal_loss` (softmax, multi-class)."""

    function = staticmethod(F.focal_loss)

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: float | Tensor | None = None,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            gamma=gamma,
            alpha=alpha,
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )


# ---------------------------------------------------------------------------------------
# Further families append their modules below, each in its own section, and add their
# names to __all__ with ``__all__ += [...]`` in that section.
# ---------------------------------------------------------------------------------------


# --- Sequence and box losses --------------------------------------------------------------


class CTCLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.ctc_loss`.

    Called as ``loss(log_probs, targets, input_lengths, target_lengths)``.
    """

    function = staticmethod(F.ctc_loss)

    def __init__(self, *, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(blank=blank, reduction=reduction, zero_infinity=zero_infinity)


class IoULoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.iou_loss`; called as ``loss(boxes1, boxes2)``."""

    function = staticmethod(F.iou_loss)

    def __init__(self, *, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)


class GIoULoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.giou_loss`; called as ``loss(boxes1, boxes2)``."""

    function = staticmethod(F.giou_loss)

    def __init__(self, *, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)


class DIoULoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.diou_loss`; called as ``loss(boxes1, boxes2)``."""

    function = staticmethod(F.diou_loss)

    def __init__(self, *, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)


class CIoULoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.ciou_loss`; called as ``loss(boxes1, boxes2)``."""

    function = staticmethod(F.ciou_loss)

    def __init__(self, *, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(eps=eps, reduction=reduction)


__all__ += ["CIoULoss", "CTCLoss", "DIoULoss", "GIoULoss", "IoULoss"]


# ---------------------------------------------------------------------------------------
# Metric learning and ranking
# ---------------------------------------------------------------------------------------


class TripletMarginLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.triplet_margin_loss`; ``loss(anchor, positive, negative)``."""

    function = staticmethod(F.triplet_margin_loss)

    def __init__(
        self, *, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False, reduction: str = "mean"
    ) -> None:
        super().__init__(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)


class TripletLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.triplet_loss` (in-batch mining); ``loss(input, target)``."""

    function = staticmethod(F.triplet_loss)

    def __init__(
        self,
        *,
        margin: float = 0.2,
        mining: str = "batch_hard",
        distance: str = "euclidean",
        soft_margin: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(margin=margin, mining=mining, distance=distance, soft_margin=soft_margin, reduction=reduction)


class ContrastiveLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.contrastive_loss`; ``loss(input1, input2, target)``."""

    function = staticmethod(F.contrastive_loss)

    def __init__(self, *, margin: float = 1.0, distance: str = "euclidean", reduction: str = "mean") -> None:
        super().__init__(margin=margin, distance=distance, reduction=reduction)


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


class NTXentLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.ntxent`; ``loss(z)`` with ``z = cat([view1, view2])``."""

    function = staticmethod(F.ntxent)

    def __init__(self, *, temperature: float = 0.1, reduction: str = "mean") -> None:
        super().__init__(temperature=temperature, reduction=reduction)


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


class MarginRankingLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.margin_ranking_loss`; ``loss(input1, input2, target)``."""

    function = staticmethod(F.margin_ranking_loss)

    def __init__(self, *, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(margin=margin, reduction=reduction)


class PairwiseLogisticLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.pairwise_logistic_loss` (RankNet);
    ``loss(input, target, group=...)``."""

    function = staticmethod(F.pairwise_logistic_loss)

    def __init__(self, *, sigma: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(sigma=sigma, reduction=reduction)


__all__ += [
    "ArcFace",
    "ContrastiveLoss",
    "CosFace",
    "InfoNCELoss",
    "MarginRankingLoss",
    "NTXentLoss",
    "PairwiseLogisticLoss",
    "TripletLoss",
    "TripletMarginLoss",
]


# ---------------------------------------------------------------------------------------
# Fused large-vocabulary cross-entropy
# ---------------------------------------------------------------------------------------


class LinearCrossEntropyLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.linear_cross_entropy`;
    ``loss(input, linear_weight, target, *, linear_bias=None, num_items=None)``.

    The head's parameters are passed at call time (``loss(h, lm_head.weight, target)``), so the
    module owns none and weight tying keeps working.
    """

    function = staticmethod(F.linear_cross_entropy)

    def __init__(
        self,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        softcap: float | None = None,
        reduction: str = "mean",
        chunk_size: int | None = None,
        impl: str = "auto",
    ) -> None:
        super().__init__(
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            z_loss=z_loss,
            softcap=softcap,
            reduction=reduction,
            chunk_size=chunk_size,
            impl=impl,
        )


__all__ += ["LinearCrossEntropyLoss"]


# ---------------------------------------------------------------------------------------
# Segmentation, multi-label, distillation and structured outputs
# ---------------------------------------------------------------------------------------


class DiceLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.dice_loss`."""

    function = staticmethod(F.dice_loss)

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        smooth: float = 0.0,
        classes: str = "present",
        batch: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            weight=weight, ignore_index=ignore_index, smooth=smooth, classes=classes, batch=batch, reduction=reduction
        )


class TverskyLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.tversky_loss`."""

    function = staticmethod(F.tversky_loss)

    def __init__(
        self,
        *,
        alpha: float = 0.5,
        beta: float = 0.5,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        smooth: float = 0.0,
        classes: str = "present",
        batch: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            alpha=alpha,
            beta=beta,
            weight=weight,
            ignore_index=ignore_index,
            smooth=smooth,
            classes=classes,
            batch=batch,
            reduction=reduction,
        )


class FocalTverskyLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.focal_tversky_loss`."""

    function = staticmethod(F.focal_tversky_loss)

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        beta: float = 0.7,
        gamma: float = 0.75,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        smooth: float = 0.0,
        classes: str = "present",
        batch: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            weight=weight,
            ignore_index=ignore_index,
            smooth=smooth,
            classes=classes,
            batch=batch,
            reduction=reduction,
        )


class LovaszSoftmaxLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.lovasz_softmax_loss`."""

    function = staticmethod(F.lovasz_softmax_loss)

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        classes: str = "present",
        batch: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight=weight, ignore_index=ignore_index, classes=classes, batch=batch, reduction=reduction)


class LovaszHingeLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.lovasz_hinge_loss`."""

    function = staticmethod(F.lovasz_hinge_loss)

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        batch: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight=weight, ignore_index=ignore_index, batch=batch, reduction=reduction)


class DiceCELoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.dice_ce_loss`."""

    function = staticmethod(F.dice_ce_loss)

    def __init__(
        self,
        *,
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        smooth: float = 0.0,
        classes: str = "present",
        batch: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            lambda_dice=lambda_dice,
            lambda_ce=lambda_ce,
            weight=weight,
            ignore_index=ignore_index,
            smooth=smooth,
            classes=classes,
            batch=batch,
            reduction=reduction,
        )


class AsymmetricLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.asymmetric_loss`."""

    function = staticmethod(F.asymmetric_loss)

    def __init__(
        self,
        *,
        gamma_pos: float = 0.0,
        gamma_neg: float = 4.0,
        clip: float = 0.05,
        weight: Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, weight=weight, reduction=reduction)


class PolyLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.poly_loss`."""

    function = staticmethod(F.poly_loss)

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        gamma: float = 0.0,
        alpha: float | Tensor | None = None,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            gamma=gamma,
            alpha=alpha,
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
        )


class DistillationLoss(_FunctionalLoss):
    """Module face of :func:`losskit.functional.distillation_loss`;
    ``loss(student_logits, teacher_logits, *, target=None)``."""

    function = staticmethod(F.distillation_loss)

    def __init__(
        self,
        *,
        temperature: float = 1.0,
        alpha: float = 0.5,
        ignore_index: int | None = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__(temperature=temperature, alpha=alpha, ignore_index=ignore_index, reduction=reduction)


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


__all__ += [
    "DiceLoss",
    "TverskyLoss",
    "FocalTverskyLoss",
    "LovaszSoftmaxLoss",
    "LovaszHingeLoss",
    "DiceCELoss",
    "AsymmetricLoss",
    "PolyLoss",
    "DistillationLoss",
    "CRF",
]
