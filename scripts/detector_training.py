"""Training of the two-stage guardrail models (``shared/guardrails/cascade.py``), shared by
``scripts/train_guardrail_models.py`` (the shipped models, every source) and ``bench/detection.py``
(the same recipe retrained leave-one-source-out).

``*_examples`` turn corpus rows (``scripts/build_corpora.py``) into training texts the way the
detectors read text at run time: prompts whole, supplied documents window by window (every window
of a benign document is a negative; an e-mail with a planted instruction is not trained on, its
payload is a positive of its own source already). ``Features`` computes a text's static vector and
its MiniLM embedding once and keeps both on disk (``data/corpora/features/``), so retraining for
every held-out source costs no encoder time.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from shared.guardrails.cascade import CascadeModel, CategoryHead, static_vectors
from shared.guardrails.classifier import LinearHead, text_windows, train_logistic
from shared.guardrails.text import canonical, sentence_windows

TOXICITY_HEADS = ("toxic", "harassment", "hate", "sexual", "violence", "self_harm")
# Where the fast stage hands a window on to the full one, as a quantile of its probabilities on the
# training rows: ("benign", 0.98) passes on the 2% most suspicious benign windows (the CPU budget of the
# default policy: on benign traffic the transformer runs for few windows); ("positives", 0.05) passes
# on 95% of the training positives (recall first). Then the cleared windows' cap (None: uncapped) and,
# uncapped, the fast probability from which the full stage confirms (``cascade.py``).
Escalation = tuple[str, float, float | None, float]
FAST_L2 = 0.1
FULL_L2 = 1.0
TRAINING_WINDOWS = 4  # a long training text's MiniLM vector: the mean of its first windows


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class Examples(NamedTuple):
    texts: list[str]
    labels: np.ndarray
    sources: list[str]
    shares: list[float]  # the part of a corpus row each example is (a document's windows share one row)


def injection_examples(rows: Sequence[dict[str, Any]]) -> Examples:
    texts, labels, sources, shares = [], [], [], []
    for row in rows:
        if row.get("kind") == "document":
            if row["label"] == 1:
                continue
            windows = sentence_windows(row["text"])
            for window in windows:
                texts.append(window)
                labels.append([0])
                sources.append(row["source"])
                shares.append(1.0 / len(windows))
        else:
            texts.append(row["text"])
            labels.append([row["label"]])
            sources.append(row["source"])
            shares.append(1.0)
    return Examples(texts, np.asarray(labels, dtype=np.float32), sources, shares)


def toxicity_examples(rows: Sequence[dict[str, Any]]) -> Examples:
    labels = [[float(row["label"])] + [float(c in row["categories"]) for c in TOXICITY_HEADS[1:]] for row in rows]
    return Examples([row["text"] for row in rows], np.asarray(labels, dtype=np.float32),
                    [row["source"] for row in rows], [1.0] * len(rows))


def balanced_weights(labels: np.ndarray, sources: Sequence[str], shares: Sequence[float] | None = None) -> np.ndarray:
    """Each (source, first label) group weighs the same in total, as much as the square root of its
    size allows: a large source does not drown a small one, and a small one is not copied up. An
    example's ``share`` is the part of an item it is (a document's windows share one item), so a
    group's size counts items, not windows."""
    keys = [(s, int(y)) for s, y in zip(sources, labels[:, 0], strict=True)]
    share = np.ones(len(keys)) if shares is None else np.asarray(shares, dtype=np.float64)
    counts: Counter[tuple[str, int]] = Counter()
    for k, part in zip(keys, share, strict=True):
        counts[k] += part
    weights = np.array([part / np.sqrt(counts[k]) for k, part in zip(keys, share, strict=True)])
    positive = labels[:, 0] == 1
    # the two classes weigh the same in total
    weights[positive] *= weights[~positive].sum() / max(weights[positive].sum(), 1e-9)
    return weights * len(weights) / weights.sum()


class Features:
    """(static, MiniLM) vectors of canonicalised texts, computed once and kept in ``directory``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.npz"
        self._index: dict[str, int] = {}
        self._static = np.zeros((0, 0), dtype=np.float32)
        self._minilm = np.zeros((0, 0), dtype=np.float32)
        if self.path.exists():
            with np.load(self.path) as data:
                self._static, self._minilm = data["static"], data["minilm"]
                self._index = {str(k): i for i, k in enumerate(data["keys"])}

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def of(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        from shared.embeddings.onnx_encoder import shared_onnx_encoder

        clean = [canonical(t) for t in texts]
        missing = sorted({self.key(c): c for c in clean if self.key(c) not in self._index}.items())
        if missing:
            encoder = shared_onnx_encoder()
            fresh = [c for _, c in missing]
            minilm = np.stack([encoder.encode(text_windows(c, max_windows=TRAINING_WINDOWS)).mean(axis=0)
                               for c in fresh])
            static = static_vectors(fresh)
            base = len(self._index)
            self._static = np.vstack([self._static, static]) if base else static
            self._minilm = np.vstack([self._minilm, minilm]) if base else minilm
            self._index.update({k: base + i for i, (k, _) in enumerate(missing)})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, static=self._static, minilm=self._minilm, keys=np.array(list(self._index)))
        rows = [self._index[self.key(c)] for c in clean]
        return self._static[rows], self._minilm[rows]


def fit_cascade(static: np.ndarray, minilm: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                heads: Sequence[str], meta: dict[str, Any], escalation: Escalation,
                categories_only: np.ndarray | None = None) -> CascadeModel:
    """The fast head on static vectors, the full head on both; the escalation cut at ``escalation``'s
    quantile of the fast head's training probabilities; category heads with F1-best thresholds from
    3-fold out-of-fold probabilities of the training rows. Rows marked in ``categories_only`` train
    the category heads alone (their first label means something else, see the toxicity recipe)."""
    y = labels[:, 0].astype(np.float64)
    main = np.ones(len(y), dtype=bool) if categories_only is None else ~categories_only
    fast = LinearHead(*train_logistic(static[main], y[main], l2=FAST_L2, sample_weight=weights[main]), {})
    full_x = np.hstack([static, minilm])
    full = LinearHead(*train_logistic(full_x[main], y[main], l2=FULL_L2, sample_weight=weights[main]), {})
    which, quantile, cap, confirm = escalation
    fast_train = fast.probabilities(static[main])
    cut = float(np.quantile(fast_train[y[main] == (1 if which == "positives" else 0)], quantile))
    categories = {}
    folds = np.arange(len(y)) % 3
    for j, name in enumerate(heads[1:], 1):
        cat = labels[:, j].astype(np.float64)
        if not 0 < cat.sum() < len(cat):
            continue
        cat_weights = weights * np.where(cat == 1, 0.5 / cat.mean(), 0.5 / (1 - cat.mean()))
        held = np.zeros(len(cat))
        for fold in range(3):
            train = folds != fold
            head = LinearHead(*train_logistic(full_x[train], cat[train], l2=FULL_L2,
                                              sample_weight=cat_weights[train]), {})
            held[~train] = head.probabilities(full_x[~train])
        threshold = best_f1_threshold(held, cat)
        head = LinearHead(*train_logistic(full_x, cat, l2=FULL_L2, sample_weight=cat_weights), {})
        categories[name] = CategoryHead(head, threshold)
    meta = {**meta, "examples": int(main.sum()), "positives": int(y[main].sum()), "escalation": list(escalation)}
    return CascadeModel(fast, full, cut, meta, categories, cap, confirm)


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    best, best_t = -1.0, 0.5
    for t in np.linspace(0.05, 0.95, 91):
        flagged = scores >= t
        tp = float(np.sum(flagged & (labels == 1)))
        f1 = 2 * tp / max(float(flagged.sum()) + float(labels.sum()), 1.0)
        if f1 > best:
            best, best_t = f1, float(t)
    return best_t
