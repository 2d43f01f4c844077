from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

DIM = 64


class BagOfWordsEmbedder:
    """A deterministic stand-in for a sentence encoder (unit tests only): hashed word counts."""

    name = "test:bag-of-words"

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    async def close(self) -> None:
        return None


class KeywordVerifier:
    """Unit-test verifier: rejects a pair when the queries' last words differ."""

    name = "test:last-word"

    async def scores(self, query: str, candidates: Sequence[str], cosines: Sequence[float]) -> list[float]:
        last = query.lower().rstrip("?").split()[-1]
        return [0.99 if c.lower().rstrip("?").split()[-1] == last else 0.01 for c in candidates]

    async def score_pairs(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float] | None) -> list[float]:
        return [(await self.scores(b, [a], [0.0]))[0] for a, b in pairs]


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def response(text: str, *, finish: str = "stop", tokens: int = 30) -> dict:
    return {
        "id": "chatcmpl-origin",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10, "total_tokens": tokens},
    }
