"""Registry cases for the metric-learning and ranking losses (references in ``embedding_reference.py``)."""

from __future__ import annotations

import torch

import losskit
from embedding_reference import ref_pairwise_logistic, ref_triplet
from losskit import nn as lnn
from registry import BadInput, LossCase

# --------------------------------------------------------------------------------------
# Input makers
# --------------------------------------------------------------------------------------


def _embeddings(n, dtype, gen, dim=5):
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64).to(dtype)
    labels = torch.randint(0, 3, (n,), generator=gen)
    return x, labels


def _triplet_case(mining, distance, soft_margin):
    kwargs = {"mining": mining, "distance": distance, "soft_margin": soft_margin, "margin": 0.5}

    def make(n, dtype, gen):
        return _embeddings(n, dtype, gen), dict(kwargs)

    def count(args, kw):
        return ref_triplet(args[0].double(), args[1], **kw)[1]

    return LossCase(
        f"triplet_loss[{mining},{distance}{',soft' if soft_margin else ''}]",
        losskit.triplet_loss,
        make,
        module=(lnn.TripletLoss, {}),
        count=count,
        batch_separable=False,
        fullgraph=False,
        bad=_triplet_bad() if (mining, distance, soft_margin) == ("batch_hard", "euclidean", False) else [],
    )


def _fixed_embeddings():
    return torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 0, 1, 1, 2, 2])


def _triplet_bad():
    x, y = _fixed_embeddings()
    return [
        BadInput("mining-typo", lambda: ((x, y), {"mining": "semi-hard"}), "mining"),
        BadInput("distance-typo", lambda: ((x, y), {"distance": "l2"}), "distance"),
        BadInput("float-labels", lambda: ((x, y.float()), {}), "target"),
        BadInput("labels-length", lambda: ((x, y[:4]), {}), "target"),
        BadInput("embeddings-1d", lambda: ((x[:, 0], y), {}), "input"),
        BadInput("integer-embeddings", lambda: ((x.long(), y), {}), "input"),
        BadInput("negative-margin", lambda: ((x, y), {"margin": -0.1}), "margin"),
        BadInput("reduction-typo", lambda: ((x, y), {"reduction": "avg"}), "reduction"),
    ]


def _triplet_margin(n, dtype, gen):
    a, p, q = (torch.randn(n, 6, generator=gen, dtype=torch.float64).to(dtype) for _ in range(3))
    return (a, p, q), {"margin": 1.5}


def _triplet_margin_bad():
    x = torch.randn(4, 3)
    return [
        BadInput("positive-shape", lambda: ((x, x[:3], x), {}), "positive"),
        BadInput("negative-shape", lambda: ((x, x, x[:, :2]), {}), "negative"),
        BadInput("anchor-3d", lambda: ((x[None], x[None], x[None]), {}), "anchor"),
        BadInput("negative-margin", lambda: ((x, x, x), {"margin": -1.0}), "margin"),
        BadInput("p-zero", lambda: ((x, x, x), {"p": 0.0}), "p"),
    ]


def _pairs(n, dtype, gen):
    x1 = torch.randn(n, 6, generator=gen, dtype=torch.float64).to(dtype)
    x2 = torch.randn(n, 6, generator=gen, dtype=torch.float64).to(dtype)
    same = torch.rand(n, generator=gen) < 0.5
    return (x1, x2, same), {"margin": 4.0}


def _contrastive_bad():
    x = torch.randn(4, 3)
    same = torch.tensor([1, 0, 1, 0])
    return [
        BadInput("same-not-binary", lambda: ((x, x, torch.tensor([0, 1, 2, 0])), {}), "target"),
        BadInput("same-length", lambda: ((x, x, same[:3]), {}), "target"),
        BadInput("x2-shape", lambda: ((x, x[:, :2], same), {}), "input2"),
        BadInput("distance-typo", lambda: ((x, x, same), {"distance": "cos"}), "distance"),
    ]


def _query_key(n, dtype, gen):
    q = torch.randn(n, 6, generator=gen, dtype=torch.float64)
    k = q + 0.5 * torch.randn(n, 6, generator=gen, dtype=torch.float64)
    return (q.to(dtype), k.to(dtype)), {}


def _info_nce_bad():
    q = torch.randn(4, 3)
    return [
        BadInput("key-shape", lambda: ((q, q[:3]), {}), "key"),
        BadInput("query-1d", lambda: ((q[:, 0], q[:, 0]), {}), "query"),
        BadInput("temperature-zero", lambda: ((q, q), {"temperature": 0.0}), "temperature"),
        BadInput("temperature-vector", lambda: ((q, q), {"temperature": torch.ones(2)}), "temperature"),
        BadInput("temperature-negative-tensor", lambda: ((q, q), {"temperature": torch.tensor(-1.0)}), "temperature"),
    ]


def _views(n, dtype, gen):
    v1 = torch.randn(n, 6, generator=gen, dtype=torch.float64)
    v2 = v1 + 0.5 * torch.randn(n, 6, generator=gen, dtype=torch.float64)
    return (torch.cat([v1, v2]).to(dtype),), {"temperature": 0.5}


def _margin_softmax(n, dtype, gen):
    x = torch.randn(n, 6, generator=gen, dtype=torch.float64).to(dtype)
    w = torch.randn(5, 6, generator=gen, dtype=torch.float64).to(dtype)
    return (x, w, torch.randint(0, 5, (n,), generator=gen)), {"scale": 8.0}


def _split_margin_softmax(args, kwargs, index):
    """Micro-batches slice the embeddings and targets; the class centres are shared."""
    x, w, t = args
    return (x[index], w, t[index]), dict(kwargs)


def _margin_softmax_bad():
    x, w, t = torch.randn(4, 3), torch.randn(5, 3), torch.tensor([0, 1, 2, 4])
    return [
        BadInput("target-out-of-range", lambda: ((x, w, torch.tensor([0, 1, 5, 2])), {}), "target"),
        BadInput("target-float", lambda: ((x, w, t.float()), {}), "target"),
        BadInput("weight-dim", lambda: ((x, w[:, :2], t), {}), "centers"),
        BadInput("scale-zero", lambda: ((x, w, t), {"scale": 0.0}), "scale"),
        BadInput("margin-negative", lambda: ((x, w, t), {"margin": -0.1}), "margin"),
    ]


def _ranking_pairs(n, dtype, gen):
    x1 = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)
    x2 = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)
    target = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    return (x1, x2, target), {"margin": 0.3}


def _margin_ranking_bad():
    x = torch.randn(4)
    return [
        BadInput("target-zero", lambda: ((x, x, torch.tensor([1.0, 0.0, -1.0, 1.0])), {}), "target"),
        BadInput("input2-shape", lambda: ((x, x[:3], x.sign()), {}), "input2"),
        BadInput("target-shape", lambda: ((x, x, torch.ones(3)), {}), "target"),
        BadInput("integer-input1", lambda: ((x.long(), x, x.sign()), {}), "input1"),
    ]


def _groups_2d(n, dtype, gen):
    scores = torch.randn(n, 5, generator=gen, dtype=torch.float64).to(dtype)
    relevance = torch.randint(0, 3, (n, 5), generator=gen)
    return (scores, relevance), {}


def _groups_flat(n, dtype, gen):
    scores = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)
    relevance = torch.randint(0, 3, (n,), generator=gen)
    return (scores, relevance), {"group": torch.randint(0, 3, (n,), generator=gen)}


def _pairs_2d(args, kwargs):
    return ref_pairwise_logistic(args[0], args[1], torch.arange(args[0].shape[0])[:, None].expand(args[0].shape))[1]


def _pairs_flat(args, kwargs):
    return ref_pairwise_logistic(args[0], args[1], kwargs["group"])[1]


def _pairwise_bad():
    s, r = torch.randn(6), torch.tensor([0, 1, 2, 0, 1, 2])
    return [
        BadInput("relevance-shape", lambda: ((s, r[:5]), {}), "target"),
        BadInput("group-with-2d-scores", lambda: ((s.reshape(2, 3), r.reshape(2, 3)), {"group": r}), "group"),
        BadInput("group-float", lambda: ((s, r), {"group": r.float()}), "group"),
        BadInput("group-length", lambda: ((s, r), {"group": r[:4]}), "group"),
        BadInput("sigma-zero", lambda: ((s, r), {"sigma": 0.0}), "sigma"),
        BadInput("scores-3d", lambda: ((s.reshape(1, 2, 3), r.reshape(1, 2, 3)), {}), "input"),
        # a NaN relevance was read as 0 (every comparison with NaN is False)
        BadInput("relevance-nan", lambda: ((s, torch.tensor([0.0, 1.0, float("nan"), 0.0, 1.0, 2.0])), {}), "target"),
    ]


CASES = [
    LossCase(
        "triplet_margin_loss",
        losskit.triplet_margin_loss,
        _triplet_margin,
        diff=(0, 1, 2),
        module=(lnn.TripletMarginLoss, {"swap": False}),
        bad=_triplet_margin_bad(),
    ),
    LossCase(
        "triplet_margin_loss[swap,p=1]",
        lambda *a, **k: losskit.triplet_margin_loss(*a, swap=True, p=1.0, **k),
        _triplet_margin,
        diff=(0, 1, 2),
    ),
    *(
        _triplet_case(mining, distance, soft)
        for mining, distance, soft in [
            ("batch_hard", "euclidean", False),
            ("batch_hard", "cosine", True),
            ("semi_hard", "euclidean", False),
            ("semi_hard", "squared_euclidean", True),
            ("batch_all", "euclidean", False),
            ("batch_all", "cosine", True),
        ]
    ),
    LossCase(
        "contrastive_loss",
        losskit.contrastive_loss,
        _pairs,
        diff=(0, 1),
        module=(lnn.ContrastiveLoss, {"distance": "euclidean"}),
        bad=_contrastive_bad(),
    ),
    LossCase(
        "contrastive_loss[cosine]",
        lambda *a, **k: losskit.contrastive_loss(*a, **{**k, "distance": "cosine", "margin": 0.8}),
        _pairs,
        diff=(0, 1),
    ),
    LossCase(
        "info_nce",
        losskit.info_nce,
        _query_key,
        diff=(0, 1),
        module=(lnn.InfoNCELoss, {"temperature": 0.2}),
        batch_separable=False,
        bad=_info_nce_bad(),
    ),
    LossCase(
        "info_nce[symmetric,raw]",
        lambda *a, **k: losskit.info_nce(*a, symmetric=True, normalize=False, temperature=2.0, **k),
        _query_key,
        diff=(0, 1),
        batch_separable=False,
    ),
    LossCase(
        "ntxent",
        losskit.ntxent,
        _views,
        module=(lnn.NTXentLoss, {}),
        batch_separable=False,
        bad=[
            BadInput("odd-rows", lambda: ((torch.randn(5, 3),), {}), "z"),
            BadInput("temperature-negative", lambda: ((torch.randn(4, 3),), {"temperature": -0.1}), "temperature"),
        ],
    ),
    LossCase(
        "arcface_loss",
        losskit.arcface_loss,
        _margin_softmax,
        diff=(0, 1),
        split=_split_margin_softmax,
        bad=_margin_softmax_bad(),
    ),
    LossCase(
        "arcface_loss[easy_margin]",
        lambda *a, **k: losskit.arcface_loss(*a, easy_margin=True, **k),
        _margin_softmax,
        diff=(0, 1),
        split=_split_margin_softmax,
    ),
    LossCase(
        "cosface_loss",
        losskit.cosface_loss,
        _margin_softmax,
        diff=(0, 1),
        split=_split_margin_softmax,
        bad=_margin_softmax_bad(),
    ),
    LossCase(
        "margin_ranking_loss",
        losskit.margin_ranking_loss,
        _ranking_pairs,
        diff=(0, 1),
        module=(lnn.MarginRankingLoss, {}),
        bad=_margin_ranking_bad(),
    ),
    LossCase(
        "pairwise_logistic_loss[2d]",
        losskit.pairwise_logistic_loss,
        _groups_2d,
        module=(lnn.PairwiseLogisticLoss, {"sigma": 1.0}),
        count=_pairs_2d,
        bad=_pairwise_bad(),
    ),
    LossCase(
        "pairwise_logistic_loss[groups]",
        losskit.pairwise_logistic_loss,
        _groups_flat,
        count=_pairs_flat,
        batch_separable=False,
        fullgraph=False,
    ),
]
