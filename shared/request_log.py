"""The request log: one record per gateway request, success or failure, never lost once answered.

``RequestLog.record()`` serialises the record and appends it to the local journal
(``shared.request_journal``: one ``write`` into the page cache, fsynced every flush interval) before
the reply leaves, then queues it in memory; nothing waits on the store. A background task writes
batches to the ``request_log`` container every ``flush_interval_s`` (or as soon as ``batch_size``
records wait); a segment of the journal is deleted once all its records are stored. A failed write
(the store is down) keeps the records queued and retries with backoff; past ``max_buffer`` records
they are dropped from memory and replayed from the journal later. At start, and every
``drain_interval_s`` after, the journal segments of dead processes are replayed into the store
(upserts by id: a replay twice writes nothing twice).

A poison record (it cannot be serialised, or the store refuses that record itself) is quarantined to
the journal's dead-letter file with its error and counted (``dead_lettered``); it never blocks the
records behind it, of any tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any, cast

from shared.request_journal import FsyncPolicy, Journal, PoisonRecordError, Segment, encode
from shared.request_record import RequestRecord
from shared.store import Document, DocumentStore, StoreUnavailableError

log = logging.getLogger(__name__)
CONTAINER = "request_log"


class RequestLog:
    def __init__(
        self,
        store: DocumentStore,
        *,
        journal_dir: Path,
        flush_interval_s: float = 0.5,
        batch_size: int = 200,
        max_buffer: int = 50_000,
        fsync: FsyncPolicy = "interval",
        drain_interval_s: float = 30.0,
        ttl_s: int | None = None,
    ) -> None:
        self._store = store
        self.journal = Journal(journal_dir, fsync=fsync)
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._ttl_s = ttl_s  # retention: Cosmos DB's per-item TTL (SQLite honours it on read)
        self._drain_interval_s = drain_interval_s
        self._buffer: list[tuple[RequestRecord, Segment | None]] = []
        self._generation = 0  # bumped when the buffer is dropped to the journal (over max_buffer)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._backoff_s = 0.0
        self._next_drain = 0.0
        self.written = 0
        self.replayed = 0

    # -- hot path -------------------------------------------------------------------------
    def record(self, record: RequestRecord) -> None:
        """Journal and queue a record (must carry ``id`` and ``tenant_id``). Never raises: a record that
        cannot be serialised is dead-lettered, and the journal failing (disk full) is logged."""
        if self._ttl_s is not None:
            record.setdefault("ttl", self._ttl_s)
        try:
            line = encode(record)
        except PoisonRecordError as exc:
            self.journal.dead_letter(record, f"cannot be serialised: {exc}")
            return
        segment: Segment | None = None
        try:
            segment = self.journal.append(line)
        except OSError:
            log.exception("request log: the journal cannot be written; record %s is in memory only", record.get("id"))
        self._buffer.append((record, segment))
        if len(self._buffer) >= self._batch_size:
            self._wake.set()
        if len(self._buffer) > self._max_buffer:  # the store is down for long: the journal holds them
            log.warning("request log: %d records over the memory cap; replayed from the journal later",
                        len(self._buffer))
            self._buffer = []
            self._generation += 1
            self.journal.detach()
        self._ensure_task()

    def pending_record(self, tenant_id: str, request_id: str) -> RequestRecord | None:
        """A record still waiting in memory (not yet flushed), if this process holds it."""
        for index in range(len(self._buffer) - 1, -1, -1):  # newest first
            record = self._buffer[index][0]
            if record.get("id") == request_id and record.get("tenant_id") == tenant_id:
                return record
        return None

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def dead_lettered(self) -> int:
        return self.journal.dead_lettered

    # -- background -----------------------------------------------------------------------
    def _ensure_task(self) -> None:
        if self._closed or (self._task is not None and not self._task.done()):
            return
        try:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="request-log-writer")
        except RuntimeError:  # no running loop (a CLI or a test outside async): flushed on close
            pass

    async def start(self) -> None:
        """Replay what dead processes left in the journal, then start the writer."""
        await self.drain()
        self._ensure_task()

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval + self._backoff_s)
            self._wake.clear()
            await asyncio.to_thread(self.journal.sync)
            await self.flush()
            if time.monotonic() >= self._next_drain and not self._backoff_s:
                self._next_drain = time.monotonic() + self._drain_interval_s
                await self.drain()

    async def flush(self) -> None:
        """Write everything queued now (in batches); on an outage keep it queued for the next try."""
        while self._buffer:
            generation = self._generation
            batch = self._buffer[: self._batch_size]
            stored = await self._write([record for record, _ in batch])
            if generation != self._generation:  # dropped to the journal meanwhile: the drain has them
                return
            for _, segment in batch[:stored]:
                if segment is not None:
                    self.journal.settled(segment)
            del self._buffer[:stored]
            if stored < len(batch):  # the store is down: keep the rest, back off
                self._backoff_s = min(max(self._backoff_s * 2, 0.5), 30.0)
                log.warning("request log: the store is unavailable; %d records queued", len(self._buffer))
                return
            self._backoff_s = 0.0

    async def _write(self, records: list[RequestRecord]) -> int:
        """Store ``records`` in order; returns how many are settled (stored or dead-lettered) before an
        outage stopped it. A batch the store refuses is retried one by one to find the poison."""
        try:
            await self._store.upsert_many(CONTAINER, cast("list[Document]", records))  # plain dicts at run time
        except StoreUnavailableError:
            return 0
        except Exception:  # one record the store refuses for itself: isolate it
            for index, record in enumerate(records):
                try:
                    await self._store.upsert_many(CONTAINER, [cast("Document", record)])
                except StoreUnavailableError:
                    return index
                except Exception as exc:
                    self.journal.dead_letter(record, f"refused by the store: {type(exc).__name__}: {exc}")
                else:
                    self.written += 1
            return len(records)
        self.written += len(records)
        return len(records)

    async def drain(self) -> None:
        """Replay the journal segments no live process holds (dead or closed processes) into the store."""
        for path, handle in self.journal.claim_orphans():
            stored = False
            try:
                records: list[Any] = self.journal.read(path)
                done = 0
                while done < len(records):
                    batch = records[done: done + self._batch_size]
                    settled = await self._write(batch)
                    done += settled
                    if settled < len(batch):
                        break
                stored = done == len(records)
                self.replayed += done
                if stored and records:
                    log.info("request log: %d records replayed from %s", len(records), path.name)
            finally:
                self.journal.release(path, handle, delete=stored)
            if not stored:  # the store is down: the next drain tries again
                return

    async def close(self) -> None:
        """Write what is queued; what the store cannot take now stays in the journal for the next start."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()
        self.journal.close()
