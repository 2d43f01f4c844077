"""Exact-match tier: a bounded in-process LRU in front of the document store (``response_cache``,
partitioned by tenant). Entries expire by their own ``expires_at`` (checked on read: the local
Cosmos-API server does not enforce TTL) and by the store's per-item ``ttl`` in Cosmos DB.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from shared.store import DocumentStore, Filter, StoreError

log = logging.getLogger(__name__)

RESPONSE_CACHE = "response_cache"
ENTRY_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class CachedResponse:
    entry_id: str
    response: dict[str, Any]
    expires_at: float
    question: str | None = None  # semantic entries: the user turn the answer was for


ENTRY_OVERHEAD_BYTES = 512  # the Python objects around an entry's JSON


def entry_bytes(response: dict[str, Any], *texts: str | None, extra: int = 0) -> int:
    """What an in-process entry holds in memory, about: its answer as JSON, its texts, ``extra`` more."""
    return len(orjson.dumps(response)) + sum(len(t) for t in texts if t) + extra + ENTRY_OVERHEAD_BYTES


def valid_entry(doc: dict[str, Any] | None, now: float) -> CachedResponse | None:
    """A stored entry if it is of the current schema, well formed and not expired; else None."""
    if not isinstance(doc, dict) or doc.get("schema") != ENTRY_SCHEMA:
        return None
    response, expires_at = doc.get("response"), doc.get("expires_at")
    if not isinstance(response, dict) or not isinstance(response.get("choices"), list) or not response["choices"]:
        return None
    if not isinstance(expires_at, int | float) or expires_at <= now:
        return None
    question = doc.get("question")
    return CachedResponse(
        str(doc.get("id")), response, float(expires_at), question if isinstance(question, str) else None
    )


class ExactCache:
    def __init__(
        self, store: DocumentStore | None, *, max_entries: int, max_bytes: int = 256 << 20,
        clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # the in-process LRU's memory, bounded whatever the answers' size
        self._clock = clock
        self._lru: OrderedDict[str, tuple[str, CachedResponse, int]] = OrderedDict()  # key -> (tenant, entry, size)
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._lru)

    def _forget(self, key: str) -> None:
        dropped = self._lru.pop(key, None)
        if dropped is not None:
            self.bytes -= dropped[2]

    def _remember(self, tenant_id: str, entry: CachedResponse) -> None:
        size = entry_bytes(entry.response, entry.question)
        self._forget(entry.entry_id)
        if size > self.max_bytes:
            return
        self._lru[entry.entry_id] = (tenant_id, entry, size)
        self.bytes += size
        while len(self._lru) > self.max_entries or self.bytes > self.max_bytes:
            self._forget(next(iter(self._lru)))

    async def get(self, tenant_id: str, key: str) -> CachedResponse | None:
        now = self._clock()
        local = self._lru.get(key)
        if local is not None:
            if local[0] == tenant_id and local[1].expires_at > now:
                self._lru.move_to_end(key)
                return local[1]
            self._forget(key)
        if self.store is None:
            return None
        try:
            doc = await self.store.get(RESPONSE_CACHE, key, tenant_id)
        except StoreError as exc:  # a cache that cannot answer is a miss, never an error
            log.warning("response cache read failed: %s", exc)
            return None
        entry = valid_entry(doc, now)
        if entry is not None:
            self._remember(tenant_id, entry)
        return entry

    async def put(self, tenant_id: str, key: str, response: dict[str, Any], ttl_s: int, labels: dict[str, Any]) -> None:
        now = self._clock()
        entry = CachedResponse(key, response, now + ttl_s)
        self._remember(tenant_id, entry)
        if self.store is None:
            return
        doc = {
            "id": key,
            "tenant_id": tenant_id,
            "schema": ENTRY_SCHEMA,
            "response": response,
            "created_at": now,
            "expires_at": now + ttl_s,
            "ttl": int(ttl_s),
            **labels,
        }
        try:
            await self.store.upsert(RESPONSE_CACHE, doc)
        except StoreError as exc:
            log.warning("response cache write failed: %s", exc)

    async def invalidate(self, tenant_id: str, **match: Any) -> int:
        """Drop a tenant's entries whose labels equal ``match`` (e.g. ``prompt_name=...``); returns the count."""
        for key, (tenant, _, _) in list(self._lru.items()):
            if tenant == tenant_id:
                self._forget(key)  # labels are not kept in process: drop the tenant's local entries
        if self.store is None:
            return 0
        filters = [Filter("tenant_id", "=", tenant_id), *(Filter(k, "=", v) for k, v in match.items())]
        docs = await self.store.query(RESPONSE_CACHE, filters)
        for doc in docs:
            await self.store.delete(RESPONSE_CACHE, doc["id"], tenant_id)
        return len(docs)
