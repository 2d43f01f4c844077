"""Second-stage check of a semantic-cache candidate: is the cached question the same question?

Vector similarity alone confuses questions that differ in one number, name or negation ("learn
Python" vs "learn Java"). A verifier scores each (query, cached question) pair in 0..1; the cache
serves a candidate only when that score reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class PairVerifier(Protocol):
    name: str

    async def scores(self, query: str, candidates: Sequence[str], cosines: Sequence[float]) -> list[float]:
        """One score per candidate: the probability that it asks the same as ``query``."""
        ...
