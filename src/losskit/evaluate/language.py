"""Language-model and generation metrics: perplexity and corpus BLEU.

Perplexity is the exponential of the mean per-token negative log-likelihood over the tokens
that count (``target != ignore_index``):

.. math::

    \\mathrm{PPL} = \\exp\\Big(\\frac{1}{|T|} \\sum_{t \\in T} -\\log p(y_t \\mid y_{<t})\\Big)

The caller aligns logits and targets (for a causal LM: ``logits[:, :-1]`` against
``tokens[:, 1:]``). BLEU is SacreBLEU's corpus BLEU (Post, "A Call for Clarity in Reporting BLEU
Scores", WMT 2018), returned with its signature so that scores can be compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit._numerics import compute_dtype, upcast
from losskit._validation import check_float, check_integer, describe
from losskit.evaluate._inputs import undefined
from losskit.functional import cross_entropy

__all__ = ["BleuResult", "bleu", "perplexity"]


def perplexity(logits_or_nll: Tensor, target: Tensor, *, ignore_index: int = -100) -> float:
    """Perplexity of a model on the tokens of ``target``.

    Args:
        logits_or_nll: logits ``(..., V)`` with ``target`` of shape ``(...)``, or per-token
            negative log-likelihoods with the same shape as ``target``.
        target: integer token ids; positions equal to ``ignore_index`` are skipped.
        ignore_index: the id of positions that do not count (padding, prompt tokens).

    Returns:
        The perplexity as a float; NaN with a warning when every position is ignored.

    Example:
        >>> import torch
        >>> from losskit.evaluate import perplexity
        >>> round(perplexity(torch.zeros(2, 3, 10), torch.tensor([[1, 2, 3], [4, 5, -100]])), 4)
        10.0
    """
    check_float("logits_or_nll", logits_or_nll)
    if not isinstance(target, Tensor):
        raise LossInputError("target", "a torch.Tensor of token ids", type(target).__name__)
    check_integer("target", target)
    keep = target != ignore_index
    count = int(keep.sum())
    with torch.no_grad():
        if logits_or_nll.shape == target.shape:
            nll = logits_or_nll[keep].double()
            if not bool(torch.isfinite(nll).all()) or bool((nll < 0).any()):
                raise LossInputError(
                    "logits_or_nll",
                    "per-token negative log-likelihoods (finite, >= 0)",
                    "negative or non-finite values",
                )
            total = float(nll.sum())
        elif logits_or_nll.ndim >= 1 and logits_or_nll.shape[:-1] == target.shape:
            if not bool(torch.isfinite(logits_or_nll).all()):
                raise LossInputError("logits_or_nll", "finite logits (no NaN or inf)", "non-finite values")
            vocab = logits_or_nll.shape[-1]
            logits = upcast(logits_or_nll, compute_dtype(logits_or_nll))  # per-token NLL in >= float32
            per_token = cross_entropy(
                logits.reshape(-1, vocab), target.reshape(-1), ignore_index=ignore_index, reduction="none"
            )
            total = float(per_token.double().sum())  # accumulate in float64: long corpora
        else:
            raise LossInputError(
                "target",
                f"of shape {tuple(logits_or_nll.shape[:-1])} (logits without the vocabulary dim) "
                f"or {tuple(logits_or_nll.shape)} (per-token NLL)",
                describe(target),
            )
    if count == 0:
        return undefined("perplexity", f"every target equals ignore_index={ignore_index}")
    return math.exp(total / count)


@dataclass(frozen=True)
class BleuResult:
    """Corpus BLEU (0-100), its SacreBLEU signature, the n-gram precisions and the brevity penalty."""

    score: float
    signature: str
    precisions: tuple[float, ...]
    brevity_penalty: float


def _strings(name: str, items: object) -> list[str]:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise LossInputError(name, "a sequence of strings, one per segment", type(items).__name__)
    if not all(isinstance(s, str) for s in items):
        raise LossInputError(name, "a sequence of strings", "non-string items")
    return list(items)


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    lowercase: bool = False,
    tokenize: str | None = None,
) -> BleuResult:
    """Corpus BLEU with SacreBLEU (optional extra ``losskit[bleu]``).

    Args:
        hypotheses: one system output per segment.
        references: one reference per segment (a sequence of strings), or several per segment (a
            sequence of sequences of strings; segments may have different numbers).
        lowercase: lowercase before scoring.
        tokenize: SacreBLEU tokenizer name (its default ``"13a"`` when None).

    Returns:
        :class:`BleuResult`; report ``score`` together with ``signature``.
    """
    try:
        from sacrebleu.metrics import BLEU
    except ImportError as exc:  # optional dependency
        raise ImportError("bleu needs SacreBLEU: pip install 'losskit[bleu]'") from exc
    hyps = _strings("hypotheses", hypotheses)
    if not hyps:
        raise LossInputError("hypotheses", "at least one segment", "an empty sequence")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise LossInputError(
            "references", "a sequence of strings or of sequences of strings", type(references).__name__
        )
    if len(references) != len(hyps):
        raise LossInputError("references", f"of length {len(hyps)} (one entry per hypothesis)", len(references))
    per_segment = [[r] if isinstance(r, str) else _strings("references", r) for r in references]
    if any(len(refs) == 0 for refs in per_segment):
        raise LossInputError("references", "at least one reference per hypothesis", "an empty entry")
    n_streams = max((len(refs) for refs in per_segment), default=1)
    streams = [[refs[k] if k < len(refs) else None for refs in per_segment] for k in range(n_streams)]
    metric = BLEU(lowercase=lowercase, tokenize=tokenize)
    result = metric.corpus_score(hyps, streams)
    return BleuResult(
        score=float(result.score),
        signature=str(metric.get_signature()),
        precisions=tuple(float(p) for p in result.precisions),
        brevity_penalty=float(result.bp),
    )
