"""Hashed word and character n-gram features and linear heads over them: the n-gram + logistic
regression model that ``bench/detection.py`` trains leave-one-source-out beside the shipped
detectors.

A text becomes the set of its hashed word unigrams and bigrams and character 3-, 4- and 5-grams
(2^18 buckets); each head is a
weight per bucket, and a text's log-odds are the mean weight of its buckets times the square root of
their number (cosine-normalised, so length by itself is no evidence) plus a bias. Computing the
features of 1 KB of text takes ~0.1 ms; every head then costs one gather. Measured across sources
it generalises poorly (see the README's detection tables), which is why no detector ships it.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BITS = 18
BUCKETS = 1 << BITS
MAX_CHARS = 8000  # longer texts: the first 6,000 and last 2,000 characters (windows cover the rest)
_WORD = re.compile(r"\w+|[^\w\s]")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - BITS)
_SALTS = {name: np.uint64(i * 0x1F3D5B79 + 7) for i, name in enumerate(("w1", "w2", "c3", "c4", "c5"), 1)}
MODEL_DIR = Path(__file__).resolve().parents[1] / "bench" / "results" / "models"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:6000] + " " + text[-2000:]


def ngram_buckets(text: str) -> np.ndarray:
    """The sorted distinct buckets of a text (int64); the text should be canonicalised already."""
    lowered = _clip(text).lower()
    parts: list[np.ndarray] = []
    words = np.fromiter((zlib.crc32(w.encode()) for w in _WORD.findall(lowered)), dtype=np.uint64)
    if len(words):
        parts.append(words + _SALTS["w1"])
        if len(words) > 1:
            parts.append(words[:-1] * np.uint64(1_000_003) + words[1:] + _SALTS["w2"])
    raw = np.frombuffer(" ".join(lowered.split()).encode("utf-8", "replace"), dtype=np.uint8).astype(np.uint64)
    for n in (3, 4, 5):
        if len(raw) >= n:
            grams = np.zeros(len(raw) - n + 1, dtype=np.uint64)
            for k in range(n):
                grams = grams * np.uint64(257) + raw[k : len(raw) - n + 1 + k]
            parts.append(grams + _SALTS[f"c{n}"])
    if not parts:
        return np.zeros(0, dtype=np.int64)
    hashed = (np.concatenate(parts) * _GOLDEN) >> _SHIFT
    return np.unique(hashed.astype(np.int64))


def cached_buckets(text: str) -> np.ndarray:
    return ngram_buckets(text)


@dataclass(frozen=True)
class NgramHeads:
    """Linear heads over ``ngram_buckets``: ``weights`` (BUCKETS, heads), ``bias`` (heads,)."""

    heads: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, buckets: np.ndarray) -> np.ndarray:
        if len(buckets) == 0:
            return self.bias.astype(np.float64)
        total = self.weights[buckets].sum(axis=0, dtype=np.float64)
        return total / np.sqrt(len(buckets)) + self.bias

    def probabilities(self, text: str) -> dict[str, float]:
        """Calibrated probability per head (Platt scaling from ``meta["calibration"]`` where present)."""
        logits = self.logits(cached_buckets(text))
        calibration = self.meta.get("calibration", {})
        out = {}
        for name, z in zip(self.heads, logits, strict=True):
            a, b = calibration.get(name, (1.0, 0.0))
            out[name] = float(1.0 / (1.0 + np.exp(-np.clip(a * z + b, -30, 30))))
        return out

    def save(self, name: str, directory: Path = MODEL_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.npz"
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            heads=np.array(self.heads),
            meta=np.array(json.dumps(self.meta)),
        )
        return path

    @classmethod
    def load(cls, name: str, directory: Path = MODEL_DIR) -> NgramHeads:
        path = directory / f"{name}.npz"
        if not path.is_file():
            raise FileNotFoundError(f"guardrail model {path} is missing: train it with scripts/detector_training.py")
        with np.load(path, allow_pickle=False) as data:
            weights = data["weights"].astype(np.float32)
            if weights.shape[0] != BUCKETS:
                raise ValueError(f"{path}: {weights.shape[0]} buckets, this code hashes into {BUCKETS}")
            return cls(
                tuple(str(h) for h in data["heads"]),
                weights,
                data["bias"].astype(np.float64),
                json.loads(str(data["meta"])),
            )
