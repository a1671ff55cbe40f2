"""Hugging Face causal language models whose training loss never builds the N x V logits.

A ``*ForCausalLM`` model computes ``logits = lm_head(hidden_states)`` (batch x sequence x V) and
then the cross-entropy. :func:`apply_linear_cross_entropy` replaces the model's ``forward`` so
that, whenever ``labels`` are given, the loss is computed from the decoder's final hidden states
and the ``lm_head`` weight (tied to the input embeddings or not, bias or not) by
:func:`losskit.linear_cross_entropy`, with the same shift and ignore rule as transformers'
``ForCausalLMLoss``. Without ``labels`` (generation, evaluation that needs logits) the model's
own forward runs unchanged.

Gradient accumulation: ``transformers.Trainer`` passes ``num_items_in_batch`` (the number of
label tokens of the whole optimiser step) to models whose ``forward`` takes ``**kwargs``; the
replaced forward does and uses it as ``num_items``, so the summed micro-batch losses equal the
loss of one batch of the whole step (huggingface/transformers PR #34191).

Requires the ``transformers`` package (``pip install losskit[transformers]``).
"""

from __future__ import annotations

import types
from typing import Any

import torch
from torch import Tensor

from losskit._errors import LossInputError
from losskit.functional.fused import linear_cross_entropy

__all__ = ["apply_linear_cross_entropy", "causal_lm_loss"]


def causal_lm_loss(
    hidden_states: Tensor,
    lm_head: torch.nn.Linear,
    labels: Tensor | None = None,
    *,
    shift_labels: Tensor | None = None,
    num_items_in_batch: int | Tensor | None = None,
    ignore_index: int = -100,
    **options: Any,
) -> Tensor:
    r"""Next-token cross-entropy of a causal LM from its final hidden states, fused with ``lm_head``.

    Position ``s`` predicts ``labels[:, s + 1]`` (the last position predicts nothing), exactly as
    transformers' ``ForCausalLMLoss``; ``shift_labels`` (already shifted, as some transformers
    versions pass them) replaces ``labels``. The loss is

    .. math::
        \frac{1}{D} \sum_{b,s:\ y_{b,s+1} \ne \mathrm{ignore}} \mathrm{CE}(W h_{b,s} + c,\ y_{b,s+1})

    with ``D = num_items_in_batch`` when given (the Trainer's count for the whole optimiser step)
    and the number of counted tokens otherwise.

    Args:
        hidden_states: ``(batch, seq, H)`` final hidden states (after the last norm).
        lm_head: the output projection ``nn.Linear(H, V)`` (its weight may be tied to the
            input embeddings).
        labels: ``(batch, seq)`` token ids, ``ignore_index`` where no loss is wanted.
        shift_labels: ``(batch, seq)`` labels already shifted left by one (instead of ``labels``).
        num_items_in_batch: denominator of the mean (gradient accumulation).
        ignore_index: label value that does not count.
        **options: passed on to :func:`losskit.linear_cross_entropy` (``z_loss``,
            ``label_smoothing``, ``softcap``, ``chunk_size``, ``process_group``, ...).

    Returns:
        The scalar loss, in the hidden states' dtype.

    Example:
        >>> import torch
        >>> head = torch.nn.Linear(8, 50, bias=False)
        >>> h = torch.randn(2, 5, 8)
        >>> labels = torch.tensor([[1, 2, 3, -100, -100], [4, 5, 6, 7, 8]])
        >>> ref = torch.nn.functional.cross_entropy(head(h)[:, :-1].reshape(-1, 50), labels[:, 1:].reshape(-1))
        >>> torch.allclose(causal_lm_loss(h, head, labels), ref)
        True
    """
    if shift_labels is None:
        if labels is None:
            raise LossInputError("labels", "a tensor of token ids (or shift_labels)", "None")
        shift_labels = torch.nn.functional.pad(labels, (0, 1), value=ignore_index)[..., 1:]
    shift_labels = shift_labels.to(hidden_states.device)
    return linear_cross_entropy(
        hidden_states,
        lm_head.weight,
        shift_labels,
        linear_bias=lm_head.bias,
        ignore_index=ignore_index,
        num_items=num_items_in_batch,
        **options,
    )


def apply_linear_cross_entropy(model: torch.nn.Module, **options: Any) -> torch.nn.Module:
    """Make a transformers ``*ForCausalLM`` model compute its training loss with the fused loss.

    The model's ``forward`` is replaced on this instance (the class and other instances are left
    alone). With ``labels`` the new forward runs the decoder (``model.get_decoder()``), takes
    ``last_hidden_state`` and returns ``CausalLMOutputWithPast(loss=..., logits=None, ...)``: no
    logits are built. Without ``labels`` it calls the original forward. ``options`` go to
    :func:`losskit.linear_cross_entropy` (``z_loss``, ``label_smoothing``, ``softcap``, ...).

    Works with Llama-style models (a decoder returning ``last_hidden_state`` and an ``lm_head``
    from ``get_output_embeddings()``); models that scale or soft-cap their logits inside
    ``forward`` (Gemma 2's ``final_logit_softcapping``) need the matching ``softcap=`` option.

    Returns:
        ``model`` itself, for chaining.

    Example:
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...                   num_attention_heads=2, num_key_value_heads=2)
        >>> model = apply_linear_cross_entropy(LlamaForCausalLM(cfg))
        >>> ids = torch.randint(0, 64, (2, 6))
        >>> out = model(input_ids=ids, labels=ids)
        >>> out.logits is None, out.loss.shape
        (True, torch.Size([]))
    """
    if not hasattr(model, "get_decoder") or not hasattr(model, "get_output_embeddings"):
        raise LossInputError("model", "a transformers *ForCausalLM model", type(model).__name__)
    if not isinstance(model.get_output_embeddings(), torch.nn.Linear):
        raise LossInputError("model", "an lm_head that is an nn.Linear", type(model.get_output_embeddings()).__name__)
    original = model.forward

    def forward(
        self: torch.nn.Module,
        input_ids: Tensor | None = None,
        *args: Any,
        labels: Tensor | None = None,
        num_items_in_batch: int | Tensor | None = None,
        shift_labels: Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        if labels is None and shift_labels is None:
            return original(input_ids, *args, **kwargs)
        from transformers.modeling_outputs import CausalLMOutputWithPast

        kwargs.pop("logits_to_keep", None)
        outputs = self.get_decoder()(input_ids, *args, **kwargs)
        loss = causal_lm_loss(
            outputs.last_hidden_state,
            self.get_output_embeddings(),
            labels,
            shift_labels=shift_labels,
            num_items_in_batch=num_items_in_batch,
            **options,
        )
        return CausalLMOutputWithPast(
            loss=loss,
            logits=None,
            hidden_states=getattr(outputs, "hidden_states", None),
            attentions=getattr(outputs, "attentions", None),
        )

    model.forward = types.MethodType(forward, model)
    model.accepts_loss_kwargs = True  # the Trainer then passes num_items_in_batch
    return model
