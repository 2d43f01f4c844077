"""Second-stage check of a semantic-cache candidate: is the cached question the same question?

Vector similarity alone confuses questions that differ in one number, name, negation or qualifier
("learn Python" vs "learn Java"). A verifier scores each (query, cached question) pair in 0..1; the
cache serves a candidate only when that score reaches the threshold.

``FeatureVerifier`` is a logistic regression over ``pair_features`` (sentence cosine plus
unmatched-content-word features) with all-MiniLM-L6-v2 sentence and word vectors. Its weights are
a small JSON file trained by ``scripts/train_cache_verifier.py``; the one shipped lives in
``shared/cache/models/``.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shared.cache.pair_features import FEATURES, hard_mismatch, pair_features, unmatched_words

DEFAULT_MODEL = Path(__file__).with_name("models") / "verifier.json"
_WORD_CACHE = 20_000


class PairVerifier(Protocol):
    name: str

    async def scores(self, query: str, candidates: Sequence[str], cosines: Sequence[float]) -> list[float]:
        """One score per candidate: the probability that it asks the same as ``query``."""
        ...

    async def score_pairs(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | None) -> list[float]:
        """The same for many ``(cached question, new question)`` pairs at once."""
        ...


def apply_guards(pairs: Sequence[tuple[str, str]], scores: np.ndarray) -> np.ndarray:
    """Zero the score of pairs with a hard mismatch (numbers, negation)."""
    return np.array([0.0 if hard_mismatch(a, b) else s for (a, b), s in zip(pairs, scores, strict=True)])


@dataclass(frozen=True, slots=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    metadata: dict[str, Any]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(rows) - self.mean) / self.scale) @ self.weights + self.bias
        scores: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        return scores

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic-regression",
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogisticModel:
        if data.get("kind") != "logistic-regression":
            raise ValueError(f"not a logistic-regression verifier: {data.get('kind')!r}")
        features = tuple(data["features"])
        if features != FEATURES:
            raise ValueError("verifier was trained on other features; retrain with scripts/train_cache_verifier.py")
        mean, scale, weights = (np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights"))
        if any(a.shape != (len(features),) for a in (mean, scale, weights)):
            raise ValueError("verifier weights do not match its feature list")
        return cls(features, mean, scale, weights, float(data["bias"]), dict(data.get("metadata") or {}))

    @classmethod
    def load(cls, path: Path | None = None) -> LogisticModel:
        return cls.from_json(json.loads((path or DEFAULT_MODEL).read_text()))


class FeatureVerifier:
    """``encoder``: a sentence encoder with ``encode(texts) -> unit vectors`` (all-MiniLM-L6-v2).

    ``same_space``: the cosines the cache passes come from this encoder (the local embedder), so
    they can be used as they are; otherwise (Azure embeddings) the verifier computes its own.
    """

    name = "minilm-features-lr"

    def __init__(self, encoder: Any, model: LogisticModel | None, *, same_space: bool) -> None:
        self.encoder = encoder
        self.model = model
        self.same_space = same_space
        self._words: OrderedDict[str, np.ndarray] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-verifier")

    def _vector(self, word: str) -> np.ndarray:
        return self._words[word]

    def _ensure_words(self, pairs: Sequence[tuple[str, str]]) -> None:
        missing = sorted(w for w in unmatched_words(pairs) if w not in self._words)
        if missing:
            for word, vector in zip(missing, self.encoder.encode(missing), strict=True):
                self._words[word] = vector
        for word in unmatched_words(pairs):
            self._words.move_to_end(word)
        while len(self._words) > max(_WORD_CACHE, 4 * len(missing)):
            self._words.popitem(last=False)

    def features(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | None = None) -> np.ndarray:
        if cosines is None:
            vectors = self.encoder.encode([text for pair in pairs for text in pair])
            cosines = np.einsum("ij,ij->i", vectors[0::2], vectors[1::2]).tolist()
        self._ensure_words(pairs)
        return np.stack([pair_features(a, b, float(c), self._vector) for (a, b), c in zip(pairs, cosines, strict=True)])

    def score_pairs_sync(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | None) -> np.ndarray:
        """Scores of ``(cached question, new question)`` pairs; ``cosines`` from the lookup, if any."""
        if not pairs:
            return np.zeros(0)
        if self.model is None:
            raise RuntimeError("this verifier has no model: it can only compute features")
        given = list(cosines) if cosines is not None and self.same_space else None
        return apply_guards(pairs, self.model.predict(self.features(pairs, given)))

    async def score_pairs(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | None) -> list[float]:
        loop = asyncio.get_running_loop()
        scores = await loop.run_in_executor(self._executor, self.score_pairs_sync, list(pairs), cosines)
        return [float(s) for s in scores]

    async def scores(self, query: str, candidates: Sequence[str], cosines: Sequence[float]) -> list[float]:
        return await self.score_pairs([(candidate, query) for candidate in candidates], list(cosines))

    async def close(self) -> None:
        self._executor.shutdown(wait=False)
