"""An in-process BM25 keyword index (Okapi BM25, k1 = 1.2, b = 0.75), numpy only.

Built once from a source's chunks (``KeywordIndex(ids, texts)``): each term's postings are stored
as an array of chunk positions and an array of precomputed BM25 term weights, so a query is a few
vectorised scatter-adds, one per query term, however large the source. Rebuilt when the source is
re-synced (the index is immutable; a rebuild of 100k chunks takes a few seconds, off the request path).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from shared.grounding.text import terms

K1 = 1.2
B = 0.75


class KeywordIndex:
    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        self.ids = list(ids)
        counts = [Counter(terms(text)) for text in texts]
        lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.float32)
        average = float(lengths.mean()) if len(lengths) else 1.0
        documents: dict[str, list[int]] = {}
        frequencies: dict[str, list[int]] = {}
        for position, counter in enumerate(counts):
            for term, count in counter.items():
                documents.setdefault(term, []).append(position)
                frequencies.setdefault(term, []).append(count)
        total = len(self.ids)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, positions in documents.items():
            where = np.asarray(positions, dtype=np.int32)
            tf = np.asarray(frequencies[term], dtype=np.float32)
            idf = math.log(1 + (total - len(positions) + 0.5) / (len(positions) + 0.5))
            norm = K1 * (1 - B + B * lengths[where] / max(average, 1e-6))
            self._postings[term] = (where, (idf * tf * (K1 + 1) / (tf + norm)).astype(np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` as ``(id, bm25 score)``, best first; no shared term: none."""
        scores: np.ndarray | None = None
        for term in set(terms(query)):
            posting = self._postings.get(term)
            if posting is None:
                continue
            if scores is None:
                scores = np.zeros(len(self.ids), dtype=np.float32)
            scores[posting[0]] += posting[1]  # a term lists each chunk once: no repeated indices
        if scores is None or k <= 0:
            return []
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        ranked = sorted(hits.tolist(), key=lambda i: -float(scores[i]))
        return [(self.ids[i], float(scores[i])) for i in ranked]
