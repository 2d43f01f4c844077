"""Fine-tune all-MiniLM-L6-v2 end to end for a detector, on the CPU (the toxicity recipe's full stage).

``finetune_encoder(texts, labels, weights, main_rows)`` trains the transformer and one linear head
per label column together: column 0 (toxic / not) on the ``main_rows`` only, the category columns
on every row, each row weighted as ``detector_training.balanced_weights`` says and each category
balanced between its positives and negatives. The heads are discarded afterwards: the encoder is
exported mean-pooled and L2-normalised as an int8 ONNX graph (``export_encoder_onnx.export_model``),
and the cascade's logistic heads are fitted over its vectors like over the stock encoder's.

Cost on 2 cores: ~0.7 s per batch of 32 short texts (batches are drawn from texts of similar
length, so a tweet is not padded to an e-mail); one epoch over the toxicity corpus is ~4 minutes.
Deterministic for a given seed, machine and torch build.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TRAIN_TOKENS = 96  # a training text's first word pieces (the detector scores long texts window by window)
BATCH = 32
LEARNING_RATE = 4e-5
WARMUP_STEPS = 30
POOLED_SCALE = 10.0  # the heads read the unit vector times this (cosines span a narrow range)


def length_batches(lengths: Sequence[int], rng: np.random.Generator, batch: int = BATCH) -> list[np.ndarray]:
    """Batches of row indices in random order, each drawn from rows of about the same length: rows are
    shuffled, sorted by length within chunks of 50 batches and cut into batches."""
    order = rng.permutation(len(lengths))
    span = batch * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), span):
        chunk = order[start:start + span]
        chunk = chunk[np.argsort(np.asarray(lengths)[chunk], kind="stable")]
        batches += [chunk[b:b + batch] for b in range(0, len(chunk), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def finetune_encoder(texts: Sequence[str], labels: np.ndarray, weights: np.ndarray, main_rows: np.ndarray,
                     *, model_dir: Path | None = None, epochs: float = 1.0, seed: int = 0,
                     log: Any = None) -> Any:
    """The fine-tuned ``BertModel`` (eval mode). ``labels``: (n, heads) in {0, 1}; ``main_rows``: the
    rows that train head 0 (the others train the category heads only)."""
    import torch
    from transformers import BertModel, BertTokenizerFast

    from shared.embeddings.minilm import default_model_dir

    directory = model_dir or default_model_dir()
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)  # the benches cap BLAS at one thread for scoring
    tokenizer = BertTokenizerFast.from_pretrained(str(directory))
    bert = BertModel.from_pretrained(str(directory), add_pooling_layer=False)
    heads = torch.nn.Linear(bert.config.hidden_size, labels.shape[1])
    parameters = [*bert.parameters(), *heads.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=LEARNING_RATE, weight_decay=0.01)
    encoded = tokenizer(list(texts), truncation=True, max_length=TRAIN_TOKENS)["input_ids"]
    batches = length_batches([len(ids) for ids in encoded], np.random.default_rng(seed))
    steps = max(1, int(len(batches) * epochs))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / WARMUP_STEPS) * max(0.0, 1.0 - step / steps))
    column_weights = _column_weights(labels, weights, main_rows)
    y = torch.tensor(labels, dtype=torch.float32)
    bert.train()
    for step in range(steps):
        rows = batches[step % len(batches)]
        ids, mask = _padded([encoded[i] for i in rows])
        hidden = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = _mean_pool(hidden, mask)
        logits = heads(torch.nn.functional.normalize(pooled, dim=-1) * POOLED_SCALE)
        losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[rows], reduction="none")
        loss = (losses * torch.tensor(column_weights[rows], dtype=torch.float32)).sum(1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if log is not None and step % 100 == 0:
            log(f"fine-tune step {step}/{steps} loss {loss.item():.3f}")
    return bert.eval()


def _column_weights(labels: np.ndarray, weights: np.ndarray, main_rows: np.ndarray) -> np.ndarray:
    """Per row and head: head 0 the row's weight on the main rows (0 elsewhere); a category the row's
    weight scaled so that its positives and negatives weigh the same in total, the categories together
    as much as head 0."""
    out = np.zeros(labels.shape, dtype=np.float64)
    out[:, 0] = np.where(main_rows, weights, 0.0)
    for j in range(1, labels.shape[1]):
        share = float(labels[:, j].mean())
        if 0.0 < share < 1.0:
            out[:, j] = weights * np.where(labels[:, j] == 1, 0.5 / share, 0.5 / (1 - share))
    out[:, 1:] /= max(labels.shape[1] - 1, 1)
    return out


def _padded(rows: list[list[int]]) -> tuple[Any, Any]:
    import torch

    length = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), length), dtype=torch.int64)
    mask = torch.zeros((len(rows), length), dtype=torch.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


def _mean_pool(hidden: Any, mask: Any) -> Any:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
