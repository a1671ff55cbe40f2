"""Linear-chain CRF loss and Viterbi decoding against pytorch-crf and brute force (float64)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torchcrf import CRF

import losskit

TOL = {"atol": 1e-6, "rtol": 1e-6}


def _oracle(num_tags, gen):
    crf = CRF(num_tags, batch_first=True).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return crf


def _scores(crf):
    return crf.transitions, {"start_transitions": crf.start_transitions, "end_transitions": crf.end_transitions}


def test_matches_pytorch_crf_with_padding_and_length_one(gen):
    n, steps, c = 6, 7, 5
    crf = _oracle(c, gen)
    e = torch.randn(n, steps, c, generator=gen, dtype=torch.float64)
    tags = torch.randint(0, c, (n, steps), generator=gen)
    lengths = torch.tensor([7, 1, 3, 7, 5, 2])
    mask = torch.arange(steps) < lengths.unsqueeze(1)
    trans, ends = _scores(crf)
    ea, eb = e.clone().requires_grad_(), e.clone().requires_grad_()
    ours = losskit.crf_loss(ea, tags, trans, mask=mask, reduction="none", **ends)
    ref = -crf(eb, tags, mask=mask, reduction="none")
    torch.testing.assert_close(ours, ref, **TOL)
    # gradients on emissions and transitions
    ours.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(ea.grad, eb.grad, **TOL)
    torch.testing.assert_close(losskit.crf_loss(e, tags, trans, mask=mask, **ends), ref.mean(), **TOL)
    decoded = losskit.crf_decode(e, trans, mask=mask, **ends)
    for row, best in zip(decoded, crf.decode(e, mask=mask), strict=True):
        assert row[: len(best)].tolist() == best
        assert (row[len(best) :] == -100).all()


def test_matches_brute_force_enumeration(gen):
    c, steps = 3, 4
    e = torch.randn(1, steps, c, generator=gen, dtype=torch.float64)
    trans = torch.randn(c, c, generator=gen, dtype=torch.float64)
    start, end = torch.randn(c, generator=gen, dtype=torch.float64), torch.randn(c, generator=gen, dtype=torch.float64)

    def score(path):
        s = start[path[0]] + end[path[-1]] + sum(e[0, i, k] for i, k in enumerate(path))
        return s + sum(trans[a, b] for a, b in itertools.pairwise(path))

    paths = list(itertools.product(range(c), repeat=steps))
    scores = torch.stack([score(p) for p in paths])
    tags = torch.tensor([[2, 0, 1, 1]])
    ends = {"start_transitions": start, "end_transitions": end}
    nll = torch.logsumexp(scores, 0) - score((2, 0, 1, 1))
    torch.testing.assert_close(losskit.crf_loss(e, tags, trans, **ends), nll, **TOL)
    assert losskit.crf_decode(e, trans, **ends)[0].tolist() == list(paths[int(scores.argmax())])


def test_fully_masked_sequence_is_zero_and_does_not_count(gen):
    crf = _oracle(4, gen)
    trans, ends = _scores(crf)
    e = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    tags = torch.randint(0, 4, (3, 5), generator=gen)
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    none = losskit.crf_loss(e, tags, trans, mask=mask, reduction="none", **ends)
    assert none[1].item() == 0.0
    mean = losskit.crf_loss(e, tags, trans, mask=mask, **ends)
    torch.testing.assert_close(mean, none.sum() / 2)
    mean.backward()
    assert (e.grad[1] == 0).all()
    assert (losskit.crf_decode(e, trans, mask=mask, **ends)[1] == -100).all()
    # every sequence empty, or no steps at all: 0, connected
    for emissions, m in ((e, torch.zeros_like(mask)), (e[:, :0], mask[:, :0])):
        out = losskit.crf_loss(emissions, tags[:, : emissions.shape[1]], trans, mask=m, **ends)
        assert out.item() == 0.0 and out.requires_grad


def test_crf_layer_learns_transitions(gen):
    """A short fit: the layer's own parameters receive gradients and the decode follows the data."""
    torch.manual_seed(0)
    layer = losskit.nn.CRF(3)
    e = torch.zeros(8, 6, 3)
    tags = torch.tensor([0, 1, 2, 0, 1, 2]).repeat(8, 1)  # emissions carry no signal: only transitions can
    opt = torch.optim.Adam(layer.parameters(), lr=0.3)
    for _ in range(60):
        opt.zero_grad()
        layer(e, tags).backward()
        opt.step()
    assert layer.decode(e[:1]).tolist() == [[0, 1, 2, 0, 1, 2]]


def test_bad_num_tags():
    with pytest.raises(losskit.LossInputError, match="`num_tags`"):
        losskit.nn.CRF(0)


def test_crf_layer_is_the_function_with_its_own_scores(gen):
    layer = losskit.nn.CRF(4, reduction="sum")
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    e = torch.randn(3, 5, 4, generator=gen)
    tags = torch.randint(0, 4, (3, 5), generator=gen)
    mask = torch.arange(5) < torch.tensor([[5], [2], [4]])
    ends = {"start_transitions": layer.start_transitions, "end_transitions": layer.end_transitions}
    torch.testing.assert_close(
        layer(e, tags, mask), losskit.crf_loss(e, tags, layer.transitions, mask=mask, reduction="sum", **ends)
    )
    assert torch.equal(layer.decode(e, mask), losskit.crf_decode(e, layer.transitions, mask=mask, **ends))


def test_advisor_offers_a_crf_for_sequence_tagging():
    advice = losskit.advise([["B-PER", "I-PER", "O"], ["O", "B-LOC"], ["O"]], task="sequence")
    assert "crf_loss" in [a.name for a in advice.alternatives]
