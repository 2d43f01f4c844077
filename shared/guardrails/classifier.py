"""A logistic-regression head over all-MiniLM-L6-v2 sentence embeddings (int8 ONNX): train (numpy) and score.

The injection and toxicity detectors are such heads (384 weights and a bias each, a few KB on disk,
trained by ``scripts/train_guardrail_models.py``). Long texts are scored window by window and the
text takes its worst window, so a long benign e-mail is not an attack because it is long.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.embeddings.memo import sentence_memo
from shared.guardrails.text import windows

MODEL_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class LinearHead:
    weights: np.ndarray  # (384,)
    bias: float
    meta: dict

    @classmethod
    def load(cls, name: str, directory: Path = MODEL_DIR) -> LinearHead:
        path = directory / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"guardrail model {path} is missing: run scripts/train_guardrail_models.py")
        data = json.loads(path.read_text())
        return cls(np.asarray(data["weights"], dtype=np.float32), float(data["bias"]), data.get("meta", {}))

    def save(self, name: str, directory: Path = MODEL_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.json"
        payload = {
            "weights": [round(float(w), 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "meta": self.meta,
        }
        path.write_text(json.dumps(payload, indent=1) + "\n")
        return path

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
    def of(cls, meta: dict) -> ShortTextPrior | None:
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
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


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


class WindowedHead:
    """A classifier head (loaded on first use) scored over a text's windows; the worst window counts."""

    model_name: str = ""

    def __init__(self, head: LinearHead | None = None, *, max_windows: int = 16) -> None:
        self._head = head
        self._lock = threading.Lock()
        self.max_windows = max_windows

    @property
    def head(self) -> LinearHead:
        with self._lock:
            if self._head is None:
                self._head = LinearHead.load(self.model_name)
            return self._head

    def require_models(self) -> None:
        """Fail now, with the file named, when the head or the encoder graph is missing: a detector
        without its weights must stop the start, never pass every text."""
        from shared.embeddings.onnx_encoder import DEFAULT_ONNX_MODEL

        if self._head is None and not (MODEL_DIR / f"{self.model_name}.json").is_file():
            raise FileNotFoundError(
                f"guardrail model {MODEL_DIR / self.model_name}.json is missing: run scripts/train_guardrail_models.py"
            )
        if not DEFAULT_ONNX_MODEL.is_file():
            raise FileNotFoundError(
                f"encoder graph {DEFAULT_ONNX_MODEL} is missing: run scripts/export_encoder_onnx.py"
            )

    def worst_window(self, clean: str) -> tuple[float, int]:
        """(highest window probability, number of windows scored) for canonicalised text."""
        chunks = text_windows(clean, max_windows=self.max_windows)
        return float(np.max(self.head.probabilities(embeddings.encode(chunks)))), len(chunks)
