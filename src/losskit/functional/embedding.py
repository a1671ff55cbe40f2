"""Metric-learning losses: triplet, contrastive, InfoNCE/CLIP, NT-Xent, ArcFace and CosFace.

All of them follow the shared conventions: keyword-only options, ``reduction`` in
``{"mean", "sum", "none"}``, ``num_items`` to replace the denominator of ``"mean"``, half
precision computed in float32 and returned in the input dtype, and a batch with nothing to
learn from (empty, or no valid triplet) giving 0 with the graph connected.

Distances and miners are separate parts (:mod:`losskit.embedding`). No loss normalises its
embeddings unless its definition says so (cosine distance, InfoNCE with ``normalize=True``,
NT-Xent, ArcFace, CosFace), and each docstring says when it does.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as TF
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, restore, upcast
from losskit._reduction import NumItems, reduce_loss
from losskit._validation import (
    as_class_indices,
    check_bool,
    check_choice,
    check_class_indices,
    check_has_values,
    check_input,
    check_real,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_scalar_range,
    describe,
    reads_values,
)
from losskit.embedding.distances import DISTANCES, paired_distance, pairwise_distance_matrix
from losskit.embedding.distributed import all_gather_with_grad
from losskit.embedding.miners import (
    batch_all_triplet_losses,
    batch_hard_triplets,
    mined_triplet_losses,
    semi_hard_triplets,
)

__all__ = [
    "arcface_loss",
    "contrastive_loss",
    "cosface_loss",
    "info_nce",
    "ntxent",
    "triplet_loss",
    "triplet_margin_loss",
]

MINING = ("batch_all", "batch_hard", "semi_hard")

_NORM_EPS = 1e-12
# ArcFace clamps the target cosine to [-1 + eps, 1 - eps] before sqrt(1 - cos^2), whose
# derivative is infinite at |cos| = 1; float32 resolves 1 - 1e-6 comfortably.
_COS_EPS = 1e-6


def _check_matrix(name: str, t: object) -> None:
    check_input(name, t)
    if t.dim() != 2:  # type: ignore[union-attr]
        raise LossInputError(name, "a 2-d tensor (batch, embedding_dim)", describe(t))


def _check_labels(name: str, t: object, like: Tensor) -> Tensor:
    """Class labels ``(B,)`` of the rows of ``like``, by the one integer-target rule (as int64)."""
    if not isinstance(t, Tensor):
        raise LossInputError(name, "a torch.Tensor", type(t).__name__)
    t = as_class_indices(name, t)
    check_same_device(name, t, like)
    check_same_shape(name, t, (like.shape[0],), "one label per embedding")
    return t


def _check_temperature(temperature: float | Tensor) -> None:
    if isinstance(temperature, Tensor):
        if temperature.numel() != 1:
            raise LossInputError("temperature", "a positive number or a one-element tensor", describe(temperature))
        if reads_values(temperature) and not bool(temperature.detach() > 0):
            raise LossInputError("temperature", "positive", float(temperature))
    else:
        check_scalar_range("temperature", temperature, 0.0, math.inf, low_inclusive=False)


# --------------------------------------------------------------------------------------
# Triplet losses
# --------------------------------------------------------------------------------------


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """Triplet margin loss on given triplets, value-compatible with ``torch.nn.functional.triplet_margin_loss``.

    .. math::
        \\ell_i = \\max(0,\\ d(a_i, p_i) - d(a_i, n_i) + m), \\qquad d(x, y) = \\lVert x - y + \\epsilon \\rVert_p

    With ``swap`` (Balntas et al., *Learning local feature descriptors with triplets and shallow
    convolutional neural networks*, BMVC 2016) :math:`d(a_i, n_i)` is replaced by
    :math:`\\min(d(a_i, n_i), d(p_i, n_i))`.

    Args:
        anchor, positive, negative: ``(N, D)`` (or ``(D,)`` for one triplet), same shape.
        margin: :math:`m \\ge 0`.
        p: norm degree, ``> 0``.
        eps: added to the difference, as in PyTorch.
        swap: use the distance swap.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss`.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> a, p, n = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
        >>> losskit.triplet_margin_loss(a, p, n, margin=1.5)  # max(1 - 2 + 1.5, 0)
        tensor(0.5000)
    """
    check_bool("swap", swap)
    check_reduction(reduction)
    check_input("anchor", anchor)
    if anchor.dim() not in (1, 2):
        raise LossInputError("anchor", "a 1-d (D,) or 2-d (N, D) tensor", describe(anchor))
    check_input("positive", positive)
    check_same_device("positive", positive, anchor, "anchor")
    check_same_shape("positive", positive, anchor.shape, "the shape of `anchor`")
    check_input("negative", negative)
    check_same_device("negative", negative, anchor, "anchor")
    check_same_shape("negative", negative, anchor.shape, "the shape of `anchor`")
    check_scalar_range("margin", margin, 0.0)
    check_scalar_range("p", p, 0.0, math.inf, low_inclusive=False)
    check_scalar_range("eps", eps, 0.0)
    dtype = compute_dtype(anchor)
    a, pos, neg = (upcast(t, dtype) for t in (anchor, positive, negative))
    d_ap = TF.pairwise_distance(a, pos, p=p, eps=eps)
    d_an = TF.pairwise_distance(a, neg, p=p, eps=eps)
    if swap:
        d_an = torch.minimum(d_an, TF.pairwise_distance(pos, neg, p=p, eps=eps))
    loss = (d_ap - d_an + margin).clamp_min(0.0)
    return restore(reduce_loss(loss, reduction=reduction, num_items=num_items), anchor)


def triplet_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 0.2,
    mining: str = "batch_hard",
    distance: str = "euclidean",
    soft_margin: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """Triplet loss with triplets mined inside the batch.

    For each mined triplet (anchor ``a``, positive ``p`` with ``a``'s label, negative ``n``
    with another label):

    .. math::
        \\ell_{apn} = [d_{ap} - d_{an} + m]_+ \\quad\\text{or, with soft\\_margin,}\\quad
        \\ell_{apn} = \\log(1 + e^{d_{ap} - d_{an}})

    Mining (see :mod:`losskit.embedding.miners`):

    * ``"batch_hard"``: one triplet per anchor, its farthest positive and closest negative
      (Hermans et al., *In Defense of the Triplet Loss for Person Re-Identification*, 2017).
      ``"mean"`` averages over the anchors that have a positive and a negative.
    * ``"semi_hard"``: one triplet per anchor-positive pair, with the closest negative farther
      than the positive, else the closest negative (Schroff et al., *FaceNet*, CVPR 2015).
      ``"mean"`` averages over those pairs. (TensorFlow Addons falls back to the *farthest*
      negative instead.)
    * ``"batch_all"``: every valid triplet. ``"mean"`` averages over the triplets with a
      positive loss (Hermans et al.), or over all valid triplets with ``soft_margin``.

    The embeddings are used as given: there is no hidden normalisation (normalise them first
    if you want distances between unit vectors; ``distance="cosine"`` does so by definition).
    ``batch_hard`` and ``semi_hard`` mine without gradient in blocks of anchors (never a
    ``B x B x B`` tensor; for large batches not even a whole ``B x B`` one) and evaluate the
    mined triplets in chunks, forward and backward, from the embeddings: besides the mined
    indices (``A`` triplets: ``B`` for batch-hard, up to ``B^2`` for semi-hard with few classes)
    the working memory stays ``O(block * B)`` for every class count. ``batch_all`` runs in
    blocks of anchor-positive pairs with ``O(B^2)`` memory.

    Args:
        input: ``(B, D)`` embeddings.
        target: ``(B,)`` integer class labels (any integer dtype).
        margin: :math:`m \\ge 0` (ignored with ``soft_margin``).
        mining: ``"batch_hard"``, ``"semi_hard"`` or ``"batch_all"``.
        distance: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"`` (``1 - cos``).
        soft_margin: softplus instead of the hinge.
        reduction: ``"mean"``/``"sum"`` give a scalar; ``"none"`` gives ``(B,)``, each anchor's
            summed triplet losses (0 for anchors without a valid triplet).
        num_items: replaces the ``"mean"`` denominator (the count of anchors, pairs or triplets
            described above).

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``. A batch without a valid triplet gives 0
        with the graph connected.

    Example:
        >>> import torch, losskit
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 4.0]])
        >>> losskit.triplet_loss(x, torch.tensor([0, 0, 1, 1]), margin=0.5)  # every triplet already separated
        tensor(0.)
    """
    check_bool("soft_margin", soft_margin)
    check_reduction(reduction)
    _check_matrix("input", input)
    labels = _check_labels("target", target, input)
    check_has_values("target", labels, "mining picks triplets from the labels")
    check_scalar_range("margin", margin, 0.0)
    check_choice("mining", mining, MINING)
    check_choice("distance", distance, DISTANCES)
    x = upcast(input, compute_dtype(input))
    # The zero keeps every embedding in the graph even when no triplet counts.
    connected = x.sum() * 0
    if mining == "batch_all":
        dist = pairwise_distance_matrix(x, distance)
        per_anchor, count = batch_all_triplet_losses(dist, labels, margin, soft_margin)
    else:
        miner = batch_hard_triplets if mining == "batch_hard" else semi_hard_triplets
        a, p, neg = miner(x, labels, distance)
        per_anchor = mined_triplet_losses(x, a, p, neg, distance, float(margin), soft_margin)
        count = torch.tensor(a.shape[0], dtype=x.dtype, device=x.device)
    per_anchor = per_anchor + connected
    if reduction == "none":
        return restore(per_anchor, input)
    total = per_anchor.sum()
    if reduction == "sum":
        return restore(total, input)
    mean = reduce_loss(total, reduction="mean", num_items=count if num_items is None else num_items)
    return restore(mean, input)


# --------------------------------------------------------------------------------------
# Pair contrastive loss
# --------------------------------------------------------------------------------------


def contrastive_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    distance: str = "euclidean",
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """Pair contrastive loss (Hadsell, Chopra and LeCun, *Dimensionality Reduction by Learning
    an Invariant Mapping*, CVPR 2006).

    .. math::
        \\ell_i = s_i \\tfrac12 d_i^2 + (1 - s_i) \\tfrac12 \\max(0, m - d_i)^2,
        \\qquad d_i = d(\\mathrm{input1}_i, \\mathrm{input2}_i)

    where :math:`s_i = 1` (``target``) marks a similar pair. No hidden normalisation of the
    embeddings.

    Args:
        input1, input2: ``(N, D)`` embeddings of the two sides of each pair.
        target: ``(N,)``, bool or 0/1 (integer or float): whether the pair is similar.
        margin: :math:`m \\ge 0`, the distance beyond which dissimilar pairs cost nothing.
        distance: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"``.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss`.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> x1, x2 = torch.zeros(2, 2), torch.tensor([[3.0, 4.0], [0.6, 0.8]])  # distances 5 and 1
        >>> losskit.contrastive_loss(x1, x2, torch.tensor([1, 0]), margin=2.0, reduction='none')
        tensor([12.5000,  0.5000])
    """
    check_reduction(reduction)
    _check_matrix("input1", input1)
    check_input("input2", input2)
    check_same_device("input2", input2, input1, "input1")
    check_same_shape("input2", input2, input1.shape, "the shape of `input1`")
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor", type(target).__name__)
    check_same_device("target", target, input1, "input1")
    check_real("target", target, "0/1 pair flags")
    check_same_shape("target", target, (input1.shape[0],), "one flag per pair")
    if reads_values(target) and target.dtype != torch.bool:
        if not bool(((target == 0) | (target == 1)).all()):
            raise LossInputError("target", "bool or 0/1 values", "other values")
    check_scalar_range("margin", margin, 0.0)
    check_choice("distance", distance, DISTANCES)
    dtype = compute_dtype(input1)
    d = paired_distance(upcast(input1, dtype), upcast(input2, dtype), distance)
    s = target.to(dtype)
    loss = 0.5 * (s * d.square() + (1.0 - s) * (margin - d).clamp_min(0.0).square())
    return restore(reduce_loss(loss, reduction=reduction, num_items=num_items), input1)


# --------------------------------------------------------------------------------------
# InfoNCE / CLIP and NT-Xent
# --------------------------------------------------------------------------------------


def _nce_rows(logits: Tensor, target: Tensor) -> Tensor:
    """Per-row cross-entropy ``logsumexp(logits_i) - logits_i[target_i]`` (an empty batch gives ``(0,)``)."""
    if logits.shape[0] == 0:
        return logits.sum(dim=1)
    return TF.cross_entropy(logits, target, reduction="none")


def info_nce(
    query: Tensor,
    key: Tensor,
    *,
    temperature: float | Tensor = 0.07,
    symmetric: bool = False,
    gather: bool = False,
    normalize: bool = True,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """InfoNCE with in-batch negatives (van den Oord et al., *Representation Learning with
    Contrastive Predictive Coding*, 2018); ``symmetric=True`` is the CLIP loss (Radford et al.,
    *Learning Transferable Visual Models From Natural Language Supervision*, 2021).

    Row ``i`` of ``query`` is positive with row ``i`` of ``key``; every other key is a negative:

    .. math::
        \\ell_i = -\\log \\frac{\\exp(q_i \\cdot k_i / \\tau)}{\\sum_j \\exp(q_i \\cdot k_j / \\tau)}

    With ``normalize=True`` (the default, as in CLIP and MoCo) ``q`` and ``k`` are L2-normalised
    first, so the scores are cosine similarities; pass ``normalize=False`` to use raw dot
    products. With ``symmetric`` each pair's loss is the mean of the query-to-key and the
    key-to-query terms.

    ``gather=True`` (distributed training): the keys (and for ``symmetric`` the queries) of all
    ``torch.distributed`` ranks are gathered with gradients flowing back to their owners, and
    each rank scores its local queries against the global keys (open_clip's "local loss").
    Each rank's ``"mean"`` is over its local rows; under ``DistributedDataParallel``, which
    averages gradients over ranks, the update equals the one-process update on the concatenated
    batch when ranks hold equally many rows. With unequal rows pass
    ``num_items=losskit.all_reduce_num_items(len(query))`` (its default ``ddp_mean=True``
    divides the global count by the world size, compensating for DDP's averaging). Without an
    initialised process group ``gather`` has no effect.

    Args:
        query: ``(N, D)``.
        key: ``(N, D)``.
        temperature: :math:`\\tau > 0`, a number or a one-element tensor (may be learned).
        symmetric: add the key-to-query direction (CLIP).
        gather: gather keys across ranks (see above).
        normalize: L2-normalise ``query`` and ``key`` first.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss`.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> q = torch.eye(3)
        >>> losskit.info_nce(q, q, temperature=1.0)  # log(e + 2) - 1: each query's own key scores 1, the others 0
        tensor(0.5514)
    """
    check_bool("symmetric", symmetric)
    check_bool("gather", gather)
    check_bool("normalize", normalize)
    check_reduction(reduction)
    _check_matrix("query", query)
    _check_matrix("key", key)
    check_same_device("key", key, query, "query")
    check_same_shape("key", key, query.shape, "the shape of `query`: row i of each is a positive pair")
    _check_temperature(temperature)
    dtype = compute_dtype(query)
    q, k = upcast(query, dtype), upcast(key, dtype)
    if normalize:
        q, k = TF.normalize(q, dim=1, eps=_NORM_EPS), TF.normalize(k, dim=1, eps=_NORM_EPS)
    tau = upcast(temperature, dtype) if isinstance(temperature, Tensor) else temperature
    all_k, offset = all_gather_with_grad(k) if gather else (k, 0)
    target = torch.arange(q.shape[0], device=q.device) + offset
    logits = q @ all_k.T / tau
    loss = _nce_rows(logits, target)
    if symmetric:
        # Key-to-query logits: the transpose, unless the queries of other ranks take part.
        reverse = k @ all_gather_with_grad(q)[0].T / tau if gather else logits.T
        loss = 0.5 * (loss + _nce_rows(reverse, target))
    return restore(reduce_loss(loss, reduction=reduction, num_items=num_items), query)


def ntxent(
    z: Tensor,
    *,
    temperature: float | Tensor = 0.1,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """NT-Xent, SimCLR's normalised temperature-scaled cross-entropy over ``2N`` views (Chen et
    al., *A Simple Framework for Contrastive Learning of Visual Representations*, ICML 2020).

    ``z`` stacks two views of ``N`` samples, ``z = cat([view1, view2])``: rows ``i`` and
    ``i + N`` are a positive pair and the other ``2N - 2`` rows are negatives. With the
    cosine similarity :math:`s_{ij}` (the rows are L2-normalised, by definition of the loss):

    .. math::
        \\ell_i = -\\log \\frac{\\exp(s_{i, i^+} / \\tau)}{\\sum_{j \\ne i} \\exp(s_{ij} / \\tau)}

    Args:
        z: ``(2N, D)``.
        temperature: :math:`\\tau > 0`, a number or a one-element tensor.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss` (``"mean"`` is over the
            ``2N`` views).

    Returns:
        A scalar, or ``(2N,)`` for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> views = torch.eye(2).repeat(2, 1)  # two items, their two views identical
        >>> losskit.ntxent(views, temperature=1.0)  # log(e + 2) - 1: the other view scores 1, two others 0
        tensor(0.5514)
    """
    check_reduction(reduction)
    _check_matrix("z", z)
    if z.shape[0] % 2:
        raise LossInputError("z", "of shape (2N, D): two stacked views, an even number of rows", describe(z))
    _check_temperature(temperature)
    dtype = compute_dtype(z)
    u = TF.normalize(upcast(z, dtype), dim=1, eps=_NORM_EPS)
    tau = upcast(temperature, dtype) if isinstance(temperature, Tensor) else temperature
    two_n = u.shape[0]
    logits = u @ u.T / tau
    eye = torch.eye(two_n, dtype=torch.bool, device=u.device)
    logits = logits.masked_fill(eye, float("-inf"))
    target = (torch.arange(two_n, device=u.device) + two_n // 2) % max(two_n, 1)
    loss = _nce_rows(logits, target)
    return restore(reduce_loss(loss, reduction=reduction, num_items=num_items), z)


# --------------------------------------------------------------------------------------
# Additive-margin softmax: ArcFace and CosFace
# --------------------------------------------------------------------------------------


def _check_margin_inputs(input: Tensor, centers: Tensor, target: Tensor, scale: float) -> Tensor:
    """Validate an additive-margin softmax call; returns ``target`` as int64 class indices."""
    _check_matrix("input", input)
    _check_matrix("centers", centers)
    check_same_device("centers", centers, input)
    if centers.shape[1] != input.shape[1]:
        raise LossInputError(
            "centers", f"of shape (num_classes, {input.shape[1]}) (the embedding size)", describe(centers)
        )
    target = _check_labels("target", target, input)
    check_class_indices("target", target, centers.shape[0], None)
    check_scalar_range("scale", scale, 0.0, math.inf, low_inclusive=False)
    return target


def _cosine(input: Tensor, centers: Tensor) -> Tensor:
    """``(N, C)`` cosines between embeddings and class centres, in float32 for half inputs."""
    dtype = torch.promote_types(compute_dtype(input), compute_dtype(centers))
    x = TF.normalize(input.to(dtype), dim=1, eps=_NORM_EPS)
    w = TF.normalize(centers.to(dtype), dim=1, eps=_NORM_EPS)
    return x @ w.T


def _no_autocast(like: Tensor) -> contextlib.AbstractContextManager:
    """Autocast off on ``like``'s device (the meta device has no autocast to switch off)."""
    return contextlib.nullcontext() if like.is_meta else torch.autocast(like.device.type, enabled=False)


def _margin_softmax(
    cos: Tensor, target: Tensor, target_logit: Tensor, scale: float, reduction: str, num_items: NumItems
) -> Tensor:
    rows = torch.arange(cos.shape[0], device=cos.device)
    logits = cos.index_put((rows, target), target_logit) * scale
    loss = _nce_rows(logits, target)
    return reduce_loss(loss, reduction=reduction, num_items=num_items)


def arcface_loss(
    input: Tensor,
    centers: Tensor,
    target: Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.5,
    easy_margin: bool = False,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """ArcFace: softmax cross-entropy with an additive angular margin on the target class
    (Deng et al., *ArcFace: Additive Angular Margin Loss for Deep Face Recognition*, CVPR 2019).

    With :math:`\\cos\\theta_{ij}` the cosine between embedding ``i`` and class centre ``j``
    (both L2-normalised, by definition of the loss), the target logit becomes
    :math:`s \\cos(\\theta_{iy_i} + m)` and the others stay :math:`s \\cos\\theta_{ij}`.

    Stability: :math:`\\cos(\\theta + m)` stops decreasing once :math:`\\theta + m > \\pi`; there
    the target logit is :math:`s(\\cos\\theta - m \\sin m)` instead (the standard fallback, used
    when :math:`\\cos\\theta \\le \\cos(\\pi - m)`). With ``easy_margin`` the margin applies only
    where :math:`\\cos\\theta > 0`. The target cosine is clamped to :math:`[-1 + 10^{-6},
    1 - 10^{-6}]` before :math:`\\sin\\theta = \\sqrt{1 - \\cos^2\\theta}`, so gradients stay
    finite at :math:`|\\cos\\theta| = 1`. Half-precision inputs are computed in float32 (also
    under autocast).

    Args:
        input: ``(N, D)`` embeddings.
        centers: ``(C, D)`` class centres (a learnable matrix; see :class:`losskit.nn.ArcFace`).
        target: ``(N,)`` class indices in ``[0, C)`` (any integer dtype).
        scale: :math:`s > 0`.
        margin: :math:`m \\in [0, \\pi)`, in radians.
        easy_margin: apply the margin only to targets with a positive cosine.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss`.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> centers = torch.eye(2)
        >>> x = torch.tensor([[1.0, 0.0]])  # on its own class centre: cos 1 before the margin
        >>> losskit.arcface_loss(x, centers, torch.tensor([0]), scale=1.0, margin=0.0)  # log(e + 1) - 1
        tensor(0.3133)
    """
    check_bool("easy_margin", easy_margin)
    check_reduction(reduction)
    target = _check_margin_inputs(input, centers, target, scale)
    check_scalar_range("margin", margin, 0.0, math.pi, high_inclusive=False)
    with _no_autocast(input):
        cos = _cosine(input, centers)
        rows = torch.arange(cos.shape[0], device=cos.device)
        cos_t = cos[rows, target]
        clamped = cos_t.clamp(-1.0 + _COS_EPS, 1.0 - _COS_EPS)
        sin_t = (1.0 - clamped.square()).sqrt()
        phi = clamped * math.cos(margin) - sin_t * math.sin(margin)
        if easy_margin:
            phi = torch.where(cos_t > 0, phi, cos_t)
        else:
            phi = torch.where(cos_t > math.cos(math.pi - margin), phi, cos_t - margin * math.sin(margin))
        out = _margin_softmax(cos, target, phi, scale, reduction, num_items)
    return restore(out, input)


def cosface_loss(
    input: Tensor,
    centers: Tensor,
    target: Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.35,
    reduction: str = "mean",
    num_items: NumItems = None,
) -> Tensor:
    """CosFace: softmax cross-entropy with an additive cosine margin on the target class
    (Wang et al., *CosFace: Large Margin Cosine Loss for Deep Face Recognition*, CVPR 2018).

    The target logit is :math:`s(\\cos\\theta_{iy_i} - m)`, the others :math:`s\\cos\\theta_{ij}`,
    with embeddings and class centres L2-normalised (by definition of the loss). Half-precision
    inputs are computed in float32 (also under autocast).

    Args:
        input: ``(N, D)`` embeddings.
        centers: ``(C, D)`` class centres (a learnable matrix; see :class:`losskit.nn.ArcFace`).
        target: ``(N,)`` class indices in ``[0, C)`` (any integer dtype).
        scale: :math:`s > 0`.
        margin: :math:`m \\ge 0`.
        reduction, num_items: see :func:`losskit._reduction.reduce_loss`.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Example:
        >>> import torch, losskit
        >>> centers, x = torch.eye(2), torch.tensor([[1.0, 0.0]])
        >>> losskit.cosface_loss(x, centers, torch.tensor([0]), scale=1.0, margin=0.0)  # log(e + 1) - 1
        tensor(0.3133)
    """
    check_reduction(reduction)
    target = _check_margin_inputs(input, centers, target, scale)
    check_scalar_range("margin", margin, 0.0)
    with _no_autocast(input):
        cos = _cosine(input, centers)
        rows = torch.arange(cos.shape[0], device=cos.device)
        out = _margin_softmax(cos, target, cos[rows, target] - margin, scale, reduction, num_items)
    return restore(out, input)
