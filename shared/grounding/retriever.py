"""Retrieval: a question in, the best passages of a tenant's sources out, with what to cite.

    passages = await retriever.retrieve(tenant_id, ["catalog", "faq"], "Is the CX-500 in stock?", top_k=4)

The question is embedded once through the embeddings port; each named source gives hybrid
candidates (``ChunkSearch``: vector + BM25, fused); all are reranked together (``rerank.py``) and the
``top_k`` best returned as ``Passage``s. Source records are cached for ``record_ttl_s`` so that a
request costs no store read in the steady state; a sync elsewhere is seen within that time.
Sources are looked up in the caller's tenant only: another tenant's source of the same name does
not exist for it (404 ``source_not_found``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.embeddings.port import Embedder
from shared.grounding.rerank import DEFAULT_WEIGHTS, RerankWeights, rerank_scores
from shared.grounding.search import Candidate, ChunkSearch
from shared.grounding.sources import GroundingError, SourceRecord, SourceRegistry, check_source_name

MAX_TOP_K = 20
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk, numbered for citation in the prompt (``[1]``, ``[2]``...)."""

    id: str
    source: str
    file: str
    title: str
    text: str
    location: str  # file#L12-18 or file#p.3
    score: float
    cosine: float
    product: dict[str, Any] | None = None

    def citation(self, number: int) -> dict[str, Any]:
        return {"index": number, "source": self.source, "chunk_id": self.id, "file": self.file,
                "title": self.title, "location": self.location, "score": round(self.score, 4)}


def passage_from(candidate: Candidate, score: float) -> Passage:
    chunk = candidate.chunk
    unit = "p." if chunk.get("unit") == "page" else "L"
    start, end = chunk.get("line_start"), chunk.get("line_end")
    span = f"{start}" if start == end else f"{start}-{end}"
    return Passage(str(chunk["id"]), str(chunk.get("source") or ""), str(chunk.get("file") or ""),
                   str(chunk.get("title") or ""), str(chunk.get("text") or ""), f"{chunk.get('file')}#{unit}{span}",
                   score, candidate.cosine, chunk.get("product"))


class Retriever:
    def __init__(self, registry: SourceRegistry, search: ChunkSearch, embedder: Embedder, *,
                 weights: RerankWeights = DEFAULT_WEIGHTS, record_ttl_s: float = 5.0) -> None:
        self.registry = registry
        self.search = search
        self.embedder = embedder
        self.weights = weights
        self.record_ttl_s = record_ttl_s
        self._records: dict[tuple[str, str], tuple[float, SourceRecord]] = {}

    async def source(self, tenant_id: str, name: str) -> SourceRecord:
        key = (tenant_id, check_source_name(name))
        cached = self._records.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.record_ttl_s:
            return cached[1]
        record = await self.registry.require(tenant_id, name)
        self._records[key] = (now, record)
        return record

    def forget(self, tenant_id: str, name: str) -> None:
        """Drop a cached record (this process just synced or removed the source)."""
        self._records.pop((tenant_id, name), None)

    async def retrieve(self, tenant_id: str, sources: Sequence[str], query: str, *, top_k: int = 4) -> list[Passage]:
        if not 1 <= top_k <= MAX_TOP_K:
            raise GroundingError(f"grounding.top_k must be between 1 and {MAX_TOP_K}", param="grounding.top_k")
        records = [await self.source(tenant_id, name) for name in dict.fromkeys(sources)]
        if not query.strip():
            return []
        vector = (await self.embedder.embed([query]))[0]
        wanted = max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * top_k)
        candidates: list[Candidate] = []
        for record in records:
            if record.chunk_count:
                candidates.extend(await self.search.candidates(record, vector, query, wanted, self.embedder.name))
        if not candidates:
            return []
        scores = rerank_scores(query, [(str(c.chunk.get("text") or ""), str(c.chunk.get("title") or ""), c.cosine,
                                        c.fused) for c in candidates], self.weights)
        ranked = sorted(zip(scores, range(len(candidates)), candidates, strict=True), key=lambda s: (-s[0], s[1]))
        return [passage_from(candidate, score) for score, _, candidate in ranked[:top_k]]
