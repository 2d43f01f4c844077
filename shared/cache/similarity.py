"""The semantic cache's decision for a pair of questions, shared by the cache and offline tools.

A cached question ``a`` answers a new question ``b`` when their embeddings' cosine reaches the
candidate floor (the vector lookup) and the verifier's score reaches the threshold. ``similarity``
is the verifier's score (the cosine where no verifier is configured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared.cache.verifier import PairVerifier
from shared.embeddings.port import Embedder


def is_hit(cosine: float, similarity: float, *, floor: float, threshold: float) -> bool:
    return cosine >= floor and similarity >= threshold


@dataclass(frozen=True, slots=True)
class PairDecision:
    cosine: float
    similarity: float
    hit: bool


class SemanticMatcher:
    def __init__(
        self, embedder: Embedder, verifier: PairVerifier | None, *, floor: float, threshold: float, batch: int = 64
    ) -> None:
        self.embedder, self.verifier = embedder, verifier
        self.floor, self.threshold, self.batch = floor, threshold, batch

    async def compare(self, pairs: Sequence[tuple[str, str]]) -> list[PairDecision]:
        """For each ``(cached question a, new question b)``: cosine, similarity, and the cache's decision."""
        decisions: list[PairDecision] = []
        for start in range(0, len(pairs), self.batch):
            chunk = pairs[start : start + self.batch]
            vectors = await self.embedder.embed([text for pair in chunk for text in pair])
            cosines = np.clip(np.einsum("ij,ij->i", vectors[0::2], vectors[1::2]), -1.0, 1.0)
            cosine_list = cosines.tolist()
            if self.verifier is None:
                similarities = [max(0.0, c) for c in cosine_list]
            else:
                similarities = await self.verifier.score_pairs(list(chunk), cosine_list)
            decisions.extend(
                PairDecision(c, s, is_hit(c, s, floor=self.floor, threshold=self.threshold))
                for c, s in zip(cosine_list, similarities, strict=True)
            )
        return decisions
