"""Where semantic-cache entries (question, its embedding, the answer) live and are searched.

- ``InProcessSemanticStore``: the local default: one ``VectorIndex`` per scope, all on one worker
  thread (the event loop never runs a scan), bounded in size (oldest entries go first) and by TTL.
- ``CosmosSemanticStore`` (``cosmos_vectors.py``): Cosmos DB vector search in Azure.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from shared.cache.exact import CachedResponse, entry_bytes
from shared.cache.vector_index import VectorIndex

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SemanticEntry:
    entry_id: str
    tenant_id: str
    scope_key: str
    question: str
    vector: np.ndarray
    response: dict[str, Any]
    expires_at: float
    labels: dict[str, Any]  # deployment, model, prompt_name, prompt_version (for invalidation)


@dataclass(frozen=True, slots=True)
class SemanticCandidate:
    entry: CachedResponse
    cosine: float


class SemanticStore(Protocol):
    async def add(self, entry: SemanticEntry) -> None: ...

    async def search(
        self, tenant_id: str, scope_key: str, vector: np.ndarray, *, k: int, min_score: float
    ) -> list[SemanticCandidate]: ...

    async def invalidate(self, tenant_id: str, **match: Any) -> int: ...

    async def close(self) -> None: ...


class InProcessSemanticStore:
    def __init__(self, *, max_entries: int, max_bytes: int = 256 << 20, clock: Callable[[], float] = time.time,
                 train_at: int = 4096) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # answers, questions and vectors, bounded whatever their size
        self.bytes = 0
        self._sizes: dict[str, int] = {}
        self._clock = clock
        self._train_at = train_at
        self._indexes: dict[str, VectorIndex] = {}
        self._entries: OrderedDict[str, SemanticEntry] = OrderedDict()  # oldest first
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semantic-cache")

    def __len__(self) -> int:
        return len(self._entries)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- worker-thread side ---------------------------------------------------------------
    def _index_key(self, tenant_id: str, scope_key: str) -> str:
        return f"{tenant_id}\x1f{scope_key}"

    def _drop(self, entry_id: str) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return
        self.bytes -= self._sizes.pop(entry_id, 0)
        key = self._index_key(entry.tenant_id, entry.scope_key)
        index = self._indexes.get(key)
        if index is not None:
            index.remove(entry_id)
            if not len(index):
                del self._indexes[key]

    def add_sync(self, entry: SemanticEntry) -> None:
        self._drop(entry.entry_id)
        size = entry_bytes(entry.response, entry.question, extra=int(entry.vector.nbytes))
        if size > self.max_bytes:
            return
        key = self._index_key(entry.tenant_id, entry.scope_key)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = VectorIndex(int(entry.vector.shape[-1]), train_at=self._train_at)
        index.add(entry.entry_id, entry.vector)
        self._entries[entry.entry_id] = entry
        self._sizes[entry.entry_id] = size
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def search_sync(
        self, tenant_id: str, scope_key: str, vector: np.ndarray, k: int, min_score: float
    ) -> list[SemanticCandidate]:
        index = self._indexes.get(self._index_key(tenant_id, scope_key))
        if index is None:
            return []
        now = self._clock()
        found = []
        for match in index.search(vector, k=k, min_score=min_score):
            entry = self._entries.get(match.entry_id)
            if entry is None:
                continue
            if entry.expires_at <= now:
                self._drop(entry.entry_id)
                continue
            cached = CachedResponse(entry.entry_id, entry.response, entry.expires_at, entry.question)
            found.append(SemanticCandidate(cached, match.score))
        return found

    def invalidate_sync(self, tenant_id: str, match: dict[str, Any]) -> int:
        doomed = [
            e.entry_id
            for e in self._entries.values()
            if e.tenant_id == tenant_id and all(e.labels.get(k) == v for k, v in match.items())
        ]
        for entry_id in doomed:
            self._drop(entry_id)
        return len(doomed)

    # -- async API ------------------------------------------------------------------------
    async def add(self, entry: SemanticEntry) -> None:
        await self._run(self.add_sync, entry)

    async def search(
        self, tenant_id: str, scope_key: str, vector: np.ndarray, *, k: int, min_score: float
    ) -> list[SemanticCandidate]:
        return await self._run(self.search_sync, tenant_id, scope_key, vector, k, min_score)

    async def invalidate(self, tenant_id: str, **match: Any) -> int:
        return await self._run(self.invalidate_sync, tenant_id, match)

    async def close(self) -> None:
        self._executor.shutdown(wait=False)
