"""The request log: one record per gateway request, success or failure.

``RequestLog.record()`` only appends to memory, so logging adds no round trip to the hot path.
A background task writes batches to the ``request_log`` container every
``flush_interval_s`` (or as soon as ``batch_size`` records wait). Records are never dropped:
a failed write keeps them queued and retries with backoff; past ``max_buffer`` records, or
when the process stops and the store cannot take them, they are appended to a local spill file
(JSON lines) that the next start replays first. ``close()`` drains everything.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import cast

import orjson

from shared.request_record import RequestRecord
from shared.store import Document, DocumentStore

log = logging.getLogger(__name__)
CONTAINER = "request_log"


class RequestLog:
    def __init__(
        self,
        store: DocumentStore,
        *,
        spill_path: Path,
        flush_interval_s: float = 0.5,
        batch_size: int = 200,
        max_buffer: int = 50_000,
        ttl_s: int | None = None,
    ) -> None:
        self._store = store
        self._spill_path = Path(spill_path)
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._ttl_s = ttl_s  # retention: Cosmos DB's per-item TTL (SQLite honours it on read)
        self._buffer: list[RequestRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._backoff_s = 0.0
        self.written = 0
        atexit.register(self._spill_sync)

    # -- hot path -------------------------------------------------------------------------
    def record(self, record: RequestRecord) -> None:
        """Queue a record (must carry ``id`` and ``tenant_id``). Never blocks, never raises."""
        if self._ttl_s is not None:
            record.setdefault("ttl", self._ttl_s)
        self._buffer.append(record)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()
        if len(self._buffer) > self._max_buffer:
            self._spill_sync()
        self._ensure_task()

    def pending_record(self, tenant_id: str, request_id: str) -> RequestRecord | None:
        """A record still waiting in memory (not yet flushed), if this process holds it."""
        for index in range(len(self._buffer) - 1, -1, -1):  # newest first
            record = self._buffer[index]
            if record.get("id") == request_id and record.get("tenant_id") == tenant_id:
                return record
        return None

    # -- background -----------------------------------------------------------------------
    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._run(), name="request-log-writer")
            except RuntimeError:  # no running loop (a CLI or a test outside async): flushed on close
                pass

    async def start(self) -> None:
        await self._replay_spill()
        self._ensure_task()

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval + self._backoff_s)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued now (in batches); on failure keep it queued for the next try."""
        while self._buffer:
            batch = self._buffer[: self._batch_size]
            try:
                await self._store.upsert_many(CONTAINER, cast("list[Document]", batch))  # plain dicts at run time
            except Exception as exc:  # store down: keep the records, back off
                self._backoff_s = min(max(self._backoff_s * 2, 0.5), 30.0)
                log.warning("request log write failed (%s); %d records queued", exc, len(self._buffer))
                return
            del self._buffer[: len(batch)]
            self.written += len(batch)
            self._backoff_s = 0.0

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()
        self._spill_sync()
        atexit.unregister(self._spill_sync)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- spill file -----------------------------------------------------------------------
    def _spill_sync(self) -> None:
        if not self._buffer:
            return
        records, self._buffer = self._buffer, []
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._spill_path, "ab") as handle:
            for record in records:
                handle.write(orjson.dumps(record) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        log.warning("request log: %d records spilled to %s", len(records), self._spill_path)

    async def _replay_spill(self) -> None:
        if not self._spill_path.exists():
            return
        claimed = self._spill_path.with_suffix(f".replay-{os.getpid()}-{time.time_ns()}")
        try:
            self._spill_path.rename(claimed)  # atomic: one process replays a given spill file
        except OSError:
            return
        records: list[RequestRecord] = []
        for line in claimed.read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                records.append(orjson.loads(line))
        self._buffer[:0] = records
        await self.flush()
        if self._buffer:  # still failing: put them back on disk before forgetting the claimed file
            self._spill_sync()
        claimed.unlink(missing_ok=True)
