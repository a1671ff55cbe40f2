"""losskit.integrations.transformers: a tiny randomly initialised Llama model, offline.

(a) the fused loss and its gradients equal the model's own (``lm_head`` tied and untied);
(b) ``transformers.Trainer`` with 4 gradient-accumulation micro-batches of uneven padding makes
    the same update as one batch of 4x the size, and the same as the unpatched model's;
(c) the peak memory of a CPU training step at V = 32,000 is below the unpatched model's by at
    least the size of the float32 logits.
"""

from __future__ import annotations

import copy
import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

import transformers

from losskit.integrations import transformers as integration
from losskit.integrations.transformers import apply_linear_cross_entropy, causal_lm_loss

V, L = 97, 12
VALID = [12, 3, 7, 12, 5, 9, 2, 11]  # tokens per row before the (right) padding


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(tied: bool, vocab: int = V, hidden: int = 32, layers: int = 2):
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tied, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg)
    model.config._attn_implementation = "eager"
    return model


def _rows():
    g = torch.Generator().manual_seed(1)
    rows = []
    for n in VALID:
        ids = torch.randint(0, V, (L,), generator=g)
        mask = (torch.arange(L) < n).long()
        labels = torch.where(mask.bool(), ids, torch.full_like(ids, -100))
        rows.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return rows


def _batch(rows):
    return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}


def test_docstring_examples_run():
    assert doctest.testmod(integration).failed == 0


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_loss_and_gradients_equal_the_models_own(tied):
    plain = _model(tied)
    fused = apply_linear_cross_entropy(copy.deepcopy(plain))
    assert (fused.lm_head.weight is fused.model.embed_tokens.weight) == tied
    batch = _batch(_rows()[:4])
    want = plain(**batch)
    got = fused(**batch)
    assert got.logits is None
    torch.testing.assert_close(got.loss, want.loss, rtol=1e-5, atol=1e-6)
    want.loss.backward()
    got.loss.backward()
    for (name, p), q in zip(plain.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
    # the Trainer's denominator is honoured, as by the model's own loss
    n = torch.tensor(40)
    torch.testing.assert_close(fused(**batch, num_items_in_batch=n).loss, plain(**batch, num_items_in_batch=n).loss)
    # without labels the model's own forward runs (logits for generation and evaluation)
    no_labels = {k: v for k, v in batch.items() if k != "labels"}
    torch.testing.assert_close(fused(**no_labels).logits, plain(**no_labels).logits)


def test_causal_lm_loss_shift_and_bias():
    """Position s predicts label s + 1; a biased head goes through linear_bias."""
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 30)
    h = torch.randn(3, 6, 8, dtype=torch.float64)
    head.double()
    labels = torch.randint(0, 30, (3, 6))
    labels[0, :2] = -100
    ref = torch.nn.functional.cross_entropy(head(h)[:, :-1].reshape(-1, 30), labels[:, 1:].reshape(-1))
    torch.testing.assert_close(causal_lm_loss(h, head, labels), ref)
    shifted = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)
    torch.testing.assert_close(causal_lm_loss(h, head, shift_labels=shifted), ref)


def _train_one_step(model, out_dir, batch_size, accumulation):
    args = transformers.TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=batch_size, gradient_accumulation_steps=accumulation,
        max_steps=1, learning_rate=0.5, optim="sgd", lr_scheduler_type="constant", warmup_steps=0,
        weight_decay=0.0, max_grad_norm=0.0, use_cpu=True, report_to="none", save_strategy="no",
        logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, seed=0,
    )  # fmt: skip
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_rows())
    trainer.train()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_trainer_gradient_accumulation_is_exact(tmp_path):
    """4 micro-batches of 2 rows (2 to 23 label tokens each) == one batch of 8 rows == unpatched."""
    plain = _model(tied=False)
    start = {k: v.clone() for k, v in plain.state_dict().items()}
    accumulated = _train_one_step(apply_linear_cross_entropy(copy.deepcopy(plain)), tmp_path / "a", 2, 4)
    one_batch = _train_one_step(apply_linear_cross_entropy(copy.deepcopy(plain)), tmp_path / "b", 8, 1)
    reference = _train_one_step(plain, tmp_path / "c", 8, 1)
    moved = 0.0
    for k, v in reference.items():
        torch.testing.assert_close(accumulated[k], one_batch[k], rtol=1e-5, atol=1e-6, msg=k)
        torch.testing.assert_close(one_batch[k], v, rtol=1e-5, atol=1e-6, msg=k)
        moved = max(moved, float((v - start[k]).abs().max()))
    assert moved > 1e-3  # the step did change the weights


_MEMORY_SCRIPT = r"""
import ctypes, gc, json, sys
import torch, transformers
sys.path.insert(0, sys.argv[1])
from losskit.integrations.transformers import apply_linear_cross_entropy
torch.set_num_threads(1)
cfg = transformers.LlamaConfig(vocab_size=32000, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                               num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False)
torch.manual_seed(0)
model = transformers.LlamaForCausalLM(cfg)
ids = torch.randint(0, 32000, (2, 256))
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
def peak_of_step():
    model(input_ids=ids, labels=ids).loss.backward()  # warm-up: gradients and caches allocated
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the resident-set high-water mark
    base = rss("VmRSS")
    model(input_ids=ids, labels=ids).loss.backward()
    return rss("VmHWM") - base
plain = peak_of_step()
apply_linear_cross_entropy(model)
print(json.dumps({"plain": plain, "fused": peak_of_step()}))
"""


def test_training_step_peak_memory_drops_by_the_logits():
    """Measured 2026-11-30: plain 191 MiB, fused 14 MiB above the resident set before the step."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, src], capture_output=True, text=True, timeout=300, check=True
    )
    peaks = json.loads(proc.stdout.strip().splitlines()[-1])
    logits_bytes = 2 * 256 * 32000 * 4  # float32 logits of the batch: 62.5 MiB
    assert peaks["plain"] - peaks["fused"] >= logits_bytes, peaks
