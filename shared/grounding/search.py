"""Searching a source's chunks: the port, and its in-process adapter (the local default).

``ChunkSearch.candidates(record, vector, query, n, embedder)`` returns up to ``n`` hybrid candidates
(vector + keyword, fused) of one source. Two adapters:

- ``LocalChunkSearch``: loads the source's chunk documents from the document store once per source
  revision into a ``VectorIndex`` (``shared/cache/vector_index.py``: exhaustive below 4,096 chunks,
  IVF above) and a BM25 ``KeywordIndex``; searches run on one worker thread, never on the event loop.
  A sync in another process (the CLI) is picked up when the record's revision moves;
- ``CosmosChunkSearch`` (``cosmos_search.py``): Cosmos DB's hybrid query in Azure.

Only chunks embedded with the query's embedder are searched (``embedder``): vectors of two models
never meet.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shared.cache.vector_index import VectorIndex
from shared.grounding.keyword import KeywordIndex
from shared.grounding.rerank import fuse
from shared.grounding.sources import CHUNKS, SourceRecord
from shared.store import DocumentStore, Filter


@dataclass(frozen=True, slots=True)
class Candidate:
    chunk: Mapping[str, Any]  # the chunk document without its embedding
    cosine: float
    fused: float  # reciprocal-rank-fusion score of the vector and keyword lists


class ChunkSearch(Protocol):
    async def candidates(self, record: SourceRecord, vector: np.ndarray, query: str, n: int,
                         embedder: str) -> list[Candidate]: ...

    async def close(self) -> None: ...


class SourceIndex:
    """The search structures of one source at one revision (worker-thread side)."""

    def __init__(self, revision: int, embedder: str, chunks: list[dict[str, Any]], vectors: np.ndarray, *,
                 train_at: int = 4096) -> None:
        """``chunks``: chunk documents without embeddings; ``vectors``: their unit vectors, row by row."""
        self.revision = revision
        self.embedder = embedder
        self.chunks = {c["id"]: c for c in chunks}
        self.vectors = VectorIndex(int(vectors.shape[1]) if vectors.ndim == 2 and len(vectors) else 1,
                                   train_at=train_at)
        for chunk, vector in zip(chunks, vectors, strict=True):
            self.vectors.add(chunk["id"], vector)
        ids = list(self.chunks)
        self.keywords = KeywordIndex(ids, [f"{self.chunks[i].get('title', '')}\n{self.chunks[i]['text']}" for i in ids])

    @classmethod
    def from_documents(cls, revision: int, embedder: str, documents: list[dict[str, Any]], *,
                       train_at: int = 4096) -> SourceIndex:
        usable = [d for d in documents if d.get("embedder") == embedder and d.get("embedding")]
        vectors = np.asarray([d["embedding"] for d in usable], dtype=np.float32)
        chunks = [{k: v for k, v in d.items() if k != "embedding"} for d in usable]
        return cls(revision, embedder, chunks, vectors if usable else np.zeros((0, 1), dtype=np.float32),
                   train_at=train_at)

    def __len__(self) -> int:
        return len(self.chunks)

    def candidates(self, vector: np.ndarray, query: str, n: int) -> list[Candidate]:
        if not self.chunks:
            return []
        query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query_vector.shape[0] != self.vectors.dim:
            raise ValueError(f"query vector has {query_vector.shape[0]} dimensions, the source {self.vectors.dim}")
        by_vector = [m.entry_id for m in self.vectors.search(query_vector, k=n)]
        by_keyword = [entry for entry, _ in self.keywords.search(query, n)]
        fused = fuse(by_vector, by_keyword)
        ranked = sorted(fused, key=lambda entry: -fused[entry])[:n]
        out = []
        for entry in ranked:
            stored = self.vectors.get(entry)
            cosine = float(np.dot(stored, query_vector)) if stored is not None else 0.0
            out.append(Candidate(self.chunks[entry], cosine, fused[entry]))
        return out


class LocalChunkSearch:
    def __init__(self, store: DocumentStore, *, max_sources: int = 64, train_at: int = 4096) -> None:
        self.store = store
        self.max_sources = max_sources
        self.train_at = train_at
        self._indexes: OrderedDict[tuple[str, str], SourceIndex] = OrderedDict()
        self._loading: dict[tuple[str, str], asyncio.Lock] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grounding-search")

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def index(self, record: SourceRecord, embedder: str) -> SourceIndex:
        key = (record.key, embedder)
        current = self._indexes.get(key)
        if current is not None and current.revision == record.revision:
            self._indexes.move_to_end(key)
            return current
        lock = self._loading.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._indexes.get(key)
            if current is not None and current.revision == record.revision:
                return current
            documents = await self.store.query(CHUNKS, [Filter("source_key", "=", record.key)])
            built: SourceIndex = await self._run(
                lambda: SourceIndex.from_documents(record.revision, embedder, documents, train_at=self.train_at))
            self._indexes[key] = built
            self._indexes.move_to_end(key)
            while len(self._indexes) > self.max_sources:
                self._indexes.popitem(last=False)
            return built

    async def candidates(self, record: SourceRecord, vector: np.ndarray, query: str, n: int,
                         embedder: str) -> list[Candidate]:
        index = await self.index(record, embedder)
        result: list[Candidate] = await self._run(index.candidates, vector, query, n)
        return result

    def forget(self, source_key: str) -> None:
        for key in [k for k in self._indexes if k[0] == source_key]:
            del self._indexes[key]

    async def close(self) -> None:
        self._executor.shutdown(wait=False)
