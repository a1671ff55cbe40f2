"""Perplexity against PyTorch's cross-entropy, BLEU against SacreBLEU."""

from __future__ import annotations

import math

import pytest
import torch

from losskit import LossInputError
from losskit.evaluate import bleu, perplexity


def test_uniform_logits_give_vocabulary_size():
    # A uniform distribution over V tokens has perplexity exactly V.
    target = torch.tensor([[1, 2, 3], [4, 5, -100]])
    assert perplexity(torch.zeros(2, 3, 10), target) == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_matches_torch_cross_entropy_with_ignored_positions(dtype, gen):
    logits = torch.randn(3, 7, 50, generator=gen).to(dtype)
    target = torch.randint(0, 50, (3, 7), generator=gen)
    target[0, :3] = -1
    expected = torch.nn.functional.cross_entropy(logits.double().reshape(-1, 50), target.reshape(-1), ignore_index=-1)
    assert perplexity(logits, target, ignore_index=-1) == pytest.approx(math.exp(float(expected)), rel=1e-5)


def test_nll_form_equals_logits_form(gen):
    logits = torch.randn(4, 6, 20, generator=gen)
    target = torch.randint(0, 20, (4, 6), generator=gen)
    target[1, 4:] = -100
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    assert perplexity(nll, target) == pytest.approx(perplexity(logits, target), rel=1e-6)


def test_all_ignored_is_nan_with_warning():
    with pytest.warns(UserWarning, match="every target equals ignore_index"):
        assert math.isnan(perplexity(torch.zeros(2, 5), torch.full((2,), -100)))


@pytest.mark.parametrize(
    ("x", "target", "argument"),
    [
        (torch.zeros(2, 5), torch.zeros(2), "target"),  # float targets
        (torch.zeros(2, 5), torch.zeros(3, dtype=torch.long), "target"),  # shapes do not line up
        (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, dtype=torch.long), "logits_or_nll"),
        (torch.tensor([-0.5, 1.0]), torch.tensor([1, 2]), "logits_or_nll"),  # log-probs, not NLL
        (torch.tensor([[0.0, float("nan")]]), torch.tensor([1]), "logits_or_nll"),
        (torch.zeros(2, 5), [1, 2], "target"),
    ],
)
def test_perplexity_bad_input(x, target, argument):
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        perplexity(x, target)


def test_bleu_matches_sacrebleu_and_reports_signature():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps = ["the cat sat on the mat", "a quick brown fox jumps"]
    refs = ["the cat sat on a mat", "the quick brown fox jumped"]
    r = bleu(hyps, refs)
    expected = sacrebleu.corpus_bleu(hyps, [refs])
    assert r.score == pytest.approx(expected.score)
    assert r.precisions == pytest.approx(tuple(expected.precisions))
    assert "nrefs:1" in r.signature and "tok:13a" in r.signature
    assert bleu(hyps, hyps).score == pytest.approx(100.0)


def test_bleu_several_references_per_segment():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps = ["the cat sat on the mat", "a quick brown fox jumps"]
    refs = [["the cat sat on a mat", "there is a cat on the mat"], ["a fast brown fox jumps"]]
    r = bleu(hyps, refs)
    expected = sacrebleu.corpus_bleu(hyps, [[refs[0][0], refs[1][0]], [refs[0][1], None]])
    assert r.score == pytest.approx(expected.score)
    assert "nrefs:var" in r.signature or "nrefs:2" in r.signature


@pytest.mark.parametrize(
    ("hyps", "refs", "argument"),
    [
        ("the cat", ["the cat"], "hypotheses"),
        (["the cat", "a dog"], ["the cat"], "references"),
        (["the cat"], [[]], "references"),
        (["the cat"], [3], "references"),
        ([1], ["the cat"], "hypotheses"),
        ([], [], "hypotheses"),
    ],
)
def test_bleu_bad_input(hyps, refs, argument):
    pytest.importorskip("sacrebleu")
    with pytest.raises(LossInputError, match=f"`{argument}`"):
        bleu(hyps, refs)
