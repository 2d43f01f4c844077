"""Training of the n-gram heads (torch, the ``train`` extra), shared by ``scripts/train_detectors.py``
and ``bench/detection.py`` (which retrains them leave-one-source-out).

``examples_*`` turn corpus rows (``scripts/build_corpora.py``) into training texts the way the
detectors read text at run time: prompts whole, supplied documents window by window (every window
of a benign document is a negative; an e-mail with a planted instruction is not trained on, its
payload is a positive of its own source already).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ngram_model import BUCKETS, NgramHeads, ngram_buckets

from shared.guardrails.text import canonical, sentence_windows

TOXICITY_HEADS = ("toxic", "harassment", "hate", "sexual", "violence", "self_harm")


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def injection_examples(rows: Sequence[dict[str, Any]]) -> tuple[list[str], np.ndarray, list[str]]:
    texts, labels, sources = [], [], []
    for row in rows:
        if row.get("kind") == "document":
            if row["label"] == 1:
                continue
            for window in sentence_windows(row["text"]):
                texts.append(window)
                labels.append([0])
                sources.append(row["source"])
        else:
            texts.append(row["text"])
            labels.append([row["label"]])
            sources.append(row["source"])
    return texts, np.asarray(labels, dtype=np.float32), sources


def toxicity_examples(rows: Sequence[dict[str, Any]]) -> tuple[list[str], np.ndarray, list[str]]:
    labels = [[float(row["label"])] + [float(c in row["categories"]) for c in TOXICITY_HEADS[1:]] for row in rows]
    return [row["text"] for row in rows], np.asarray(labels, dtype=np.float32), [row["source"] for row in rows]


def balanced_weights(labels: np.ndarray, sources: Sequence[str]) -> np.ndarray:
    """Each (source, first label) group weighs the same in total, as much as the square root of its
    size allows: a large source does not drown a small one, and a small one is not copied up."""
    keys = [(s, int(y)) for s, y in zip(sources, labels[:, 0], strict=True)]
    counts = Counter(keys)
    weights = np.array([1.0 / np.sqrt(counts[k]) for k in keys])
    positive = labels[:, 0] == 1
    # the two classes weigh the same in total
    weights[positive] *= weights[~positive].sum() / max(weights[positive].sum(), 1e-9)
    return weights * len(weights) / weights.sum()


def fit_heads(
    texts: Sequence[str],
    labels: np.ndarray,
    weights: np.ndarray,
    heads: Sequence[str],
    *,
    epochs: int = 6,
    l2: float = 2e-6,
    seed: int = 0,
    buckets: list[np.ndarray] | None = None,
) -> NgramHeads:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    features = buckets if buckets is not None else [ngram_buckets(canonical(t)) for t in texts]
    bag = torch.nn.EmbeddingBag(BUCKETS, len(heads), mode="sum", sparse=True)
    torch.nn.init.zeros_(bag.weight)
    bias = torch.zeros(len(heads), requires_grad=True)
    optimiser = torch.optim.SparseAdam(list(bag.parameters()), lr=0.05)
    bias_optimiser = torch.optim.Adam([bias], lr=0.05)
    y = torch.tensor(labels)
    w = torch.tensor(weights, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(features))
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            flat = [features[i] for i in batch]
            offsets = torch.tensor(np.cumsum([0] + [len(f) for f in flat[:-1]]), dtype=torch.int64)
            index = torch.tensor(np.concatenate(flat) if flat else np.zeros(0), dtype=torch.int64)
            per = torch.tensor(np.concatenate([np.full(len(f), 1 / np.sqrt(max(len(f), 1))) for f in flat]),
                               dtype=torch.float32)
            logits = bag(index, offsets, per_sample_weights=per) + bias
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[batch], reduction="none")
            loss = (loss.mean(1) * w[batch]).mean()
            used = bag(index, offsets, per_sample_weights=torch.ones_like(per))  # touches the same rows
            loss = loss + l2 * (used**2).sum() / len(batch)
            optimiser.zero_grad()
            bias_optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            bias_optimiser.step()
    return NgramHeads(tuple(heads), bag.weight.detach().numpy().copy(), bias.detach().numpy().astype(np.float64))


def platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Scale and shift of the logits that fit the labels best (logistic regression in one variable)."""
    a, b = 1.0, 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(a * logits + b, -30, 30)))
        g = np.array([np.sum((p - labels) * logits), np.sum(p - labels)])
        h = np.array([[np.sum(p * (1 - p) * logits**2), np.sum(p * (1 - p) * logits)],
                      [np.sum(p * (1 - p) * logits), np.sum(p * (1 - p))]]) + 1e-6 * np.eye(2)  # fmt: skip
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-7:
            break
    return float(a), float(b)
