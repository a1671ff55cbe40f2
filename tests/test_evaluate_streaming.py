"""Streaming collections: batch-wise and merged results equal the one-shot metrics."""

from __future__ import annotations

import pytest
import torch

from losskit import LossInputError
from losskit.evaluate import calibration, metrics, perplexity, streaming_metrics


def _stream(collection, preds, target, n_batches=3):
    for p, t in zip(preds.chunk(n_batches), target.chunk(n_batches), strict=True):
        collection.update(p, t)
    return {k: float(v) for k, v in collection.compute().items()}


def test_binary_matches_one_shot(gen):
    p = torch.rand(300, generator=gen, dtype=torch.float64)
    y = (torch.rand(300, generator=gen, dtype=torch.float64) < p).long()
    got = _stream(streaming_metrics("binary"), p, y)
    ref = metrics(y.numpy(), p.numpy())
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision"):
        assert got[key] == pytest.approx(ref[key], rel=1e-5), key
    assert got["ece"] == pytest.approx(calibration(y.numpy(), p.numpy()).ece, abs=1e-5)


def test_binned_curves_are_close(gen):
    p = torch.rand(2000, generator=gen)
    y = (torch.rand(2000, generator=gen) < p).long()
    got = _stream(streaming_metrics("binary", thresholds=200), p, y)
    assert got["roc_auc"] == pytest.approx(metrics(y.numpy(), p.numpy())["roc_auc"], abs=5e-3)


def test_multiclass_matches_one_shot(gen):
    proba = torch.softmax(2 * torch.randn(400, 5, generator=gen, dtype=torch.float64), dim=1)
    y = torch.multinomial(proba, 1, generator=gen).squeeze(1)
    got = _stream(streaming_metrics("multiclass", num_classes=5, top_k=2), proba, y)
    ref = metrics(y.numpy(), proba.numpy(), top_k=2)
    for key in ("accuracy", "macro_f1", "weighted_f1", "top_2_accuracy"):
        assert got[key] == pytest.approx(ref[key], rel=1e-5), key
    assert got["ece"] == pytest.approx(calibration(y.numpy(), proba.numpy()).ece, abs=1e-5)


def test_multilabel_matches_one_shot(gen):
    y = (torch.rand(200, 3, generator=gen) < 0.4).long()
    s = (0.3 * y + 0.7 * torch.rand(200, 3, generator=gen)).double()
    got = _stream(streaming_metrics("multilabel", num_labels=3), s, y)
    ref = metrics(y.numpy(), s.numpy())
    for key in ("subset_accuracy", "hamming_loss", "micro_f1", "macro_f1", "average_precision_macro"):
        assert got[key] == pytest.approx(ref[key], rel=1e-5), key


def test_regression_matches_one_shot_and_merges(gen):
    y = torch.randn(300, generator=gen, dtype=torch.float64)
    pred = y + 0.5 * torch.randn(300, generator=gen, dtype=torch.float64)
    ref = metrics(y.numpy(), pred.numpy())
    # Two "ranks" see half the data each; merging their states gives the full-data result.
    first, second = streaming_metrics("regression"), streaming_metrics("regression")
    first.update(pred[:100], y[:100])
    second.update(pred[100:], y[100:])
    for name, metric in first.items():
        metric.merge_state(second[name])
    got = {k: float(v) for k, v in first.compute().items()}
    for key in ("mae", "mse", "rmse", "r2"):
        assert got[key] == pytest.approx(ref[key], rel=1e-6), key


def test_language_matches_perplexity(gen):
    logits = torch.randn(4, 6, 30, generator=gen)
    target = torch.randint(0, 30, (4, 6), generator=gen)
    target[2, 3:] = -100
    got = _stream(streaming_metrics("language"), logits, target, n_batches=2)
    assert got["perplexity"] == pytest.approx(perplexity(logits, target), rel=1e-5)


def test_keys_are_those_of_metrics():
    assert set(streaming_metrics("binary")) <= set(metrics([0, 1], [0.2, 0.8])) | {"ece"}
    assert set(streaming_metrics("regression")) < set(metrics([0.5, 1.0], [0.4, 1.2]))
    assert set(streaming_metrics("multiclass", num_classes=3)) == {"accuracy", "macro_f1", "weighted_f1", "ece"}
    assert "top_5_accuracy" in set(streaming_metrics("multiclass", num_classes=8))


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        (("quantile",), {}, "task"),
        (("multiclass",), {}, "num_classes"),
        (("multiclass",), {"num_classes": 1}, "num_classes"),
        (("multilabel",), {}, "num_labels"),
        (("binary",), {"thresholds": 1}, "thresholds"),
        (("binary",), {"n_bins": 0}, "n_bins"),
    ],
)
def test_bad_input_names_the_argument(args, kwargs, argument):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        streaming_metrics(*args, **kwargs)
