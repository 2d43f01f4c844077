"""Logistic-regression heads over sentence vectors: train (numpy, Newton's method) and score.

The injection and toxicity detectors are built from such heads (``cascade.py``: a cheap one over
static word-piece vectors, a fuller one over those and the int8 MiniLM embedding), trained by
``scripts/train_guardrail_models.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.embeddings.memo import sentence_memo
from shared.guardrails.text import windows

MODEL_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class LinearHead:
    weights: np.ndarray  # (features,)
    bias: float
    meta: dict[str, Any]

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> LinearHead:
        """A head as a model file stores it (``cascade.py``): ``{"weights": [...], "bias": b}``."""
        return cls(np.asarray(spec["weights"], dtype=np.float32), float(spec["bias"]), {})

    def spec(self) -> dict[str, Any]:
        return {"weights": [round(float(w), 6) for w in self.weights], "bias": round(self.bias, 6)}

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return _sigmoid(embeddings @ self.weights + self.bias)


@dataclass(frozen=True)
class ShortTextPrior:
    """Short messages carry little evidence, and most of them are ordinary requests ("refund pls",
    "Order 4417 status"): below ``words`` word-equivalents the head's log-odds are lowered by up to
    ``logit_shift``, in proportion to how far short of ``words`` the text is. The detector applies it
    only when no rule fired, so a short attack that says what it is stays blocked.

    Stored in the head's ``meta["short_text_prior"]`` by ``scripts/train_guardrail_models.py``;
    a head without it is scored as is.
    """

    words: int
    logit_shift: float

    @classmethod
    def of(cls, meta: dict[str, Any]) -> ShortTextPrior | None:
        prior = meta.get("short_text_prior")
        return cls(int(prior["words"]), float(prior["logit_shift"])) if prior else None

    def apply(self, probability: float, text: str) -> float:
        shortfall = max(0.0, 1.0 - word_equivalents(text) / self.words)
        if not shortfall:
            return probability
        p = min(max(probability, 1e-9), 1 - 1e-9)
        return float(_sigmoid(np.log(p / (1 - p)) - self.logit_shift * shortfall))


def word_equivalents(text: str) -> int:
    """Words, or characters / 6 where that is more (scripts without spaces, long compound words)."""
    return max(len(text.split()), len(text) // 6)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    return out


def train_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, sample_weight: np.ndarray | None = None, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (exact, a few dozen iterations for 385 unknowns)."""
    n, d = x.shape
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    design = np.hstack([x.astype(np.float64), np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0  # no penalty on the bias
    for _ in range(iterations):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (weight * (p - y)) + penalty * theta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-6:
            break
    return theta[:-1].astype(np.float32), float(theta[-1])


def roc_auc(labels: np.ndarray | list[int], scores: np.ndarray | list[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def text_windows(text: str, max_chars: int = 600, max_windows: int = 16) -> list[str]:
    return windows(text, max_chars=max_chars, max_windows=max_windows)


# The per-text vector memo shared with the response cache (one encoder pass per text).
embeddings = sentence_memo
