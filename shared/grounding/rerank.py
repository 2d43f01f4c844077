"""Fusing the vector and keyword candidate lists, and reranking what they found.

``fuse`` is reciprocal rank fusion (RRF, k = 60): a chunk's fused score is the sum of
``1 / (60 + rank)`` over the lists it appears in, so agreement between the two searches counts and
neither score scale matters. Cosmos DB's hybrid query (``ORDER BY RANK RRF(...)``) computes the same.

``rerank`` then orders the fused candidates by a linear score over four features that both the local
index and Cosmos DB can provide:

- ``cosine``: the question's embedding against the chunk's;
- ``fused``: the RRF score, relative to the best candidate's;
- ``coverage``: the share of the question's distinct terms the chunk contains (``text.terms``);
- ``title``: the share found in the chunk's title (its heading path or product name).

The default weights were chosen by ``bench/retrieval.py --tune`` on its training articles only (see
the README); the benchmark reports recall and MRR on the other articles with these weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.grounding.text import terms

RRF_K = 60


@dataclass(frozen=True, slots=True)
class RerankWeights:
    cosine: float = 1.0
    fused: float = 0.25
    coverage: float = 0.75
    title: float = 0.0  # tuned to 0 on SQuAD, whose titles are article names; product names are in the text too

    def score(self, cosine: float, fused: float, coverage: float, title: float) -> float:
        return self.cosine * cosine + self.fused * fused + self.coverage * coverage + self.title * title


DEFAULT_WEIGHTS = RerankWeights()


def fuse(*ranked: Iterable[str]) -> dict[str, float]:
    """Reciprocal rank fusion of lists of ids (best first)."""
    fused: dict[str, float] = {}
    for ids in ranked:
        for rank, entry in enumerate(ids, start=1):
            fused[entry] = fused.get(entry, 0.0) + 1.0 / (RRF_K + rank)
    return fused


@dataclass(frozen=True, slots=True)
class Features:
    cosine: float
    fused: float
    coverage: float
    title: float


def features(query_terms: Sequence[str], text: str, title: str, cosine: float, fused: float,
             best_fused: float) -> Features:
    wanted = set(query_terms)
    if not wanted:
        return Features(cosine, fused / best_fused if best_fused else 0.0, 0.0, 0.0)
    in_text = set(terms(text))
    in_title = set(terms(title))
    return Features(cosine, fused / best_fused if best_fused else 0.0, len(wanted & in_text) / len(wanted),
                    len(wanted & in_title) / len(wanted))


def rerank_scores(query: str, items: Sequence[tuple[str, str, float, float]],
                  weights: RerankWeights = DEFAULT_WEIGHTS) -> list[float]:
    """Scores for ``(text, title, cosine, fused)`` items, in their order."""
    query_terms = terms(query)
    best = max((fused for _, _, _, fused in items), default=0.0)
    out = []
    for text, title, cosine, fused in items:
        f = features(query_terms, text, title, cosine, fused, best)
        out.append(weights.score(f.cosine, f.fused, f.coverage, f.title))
    return out
