"""Syncing a source's files into chunks, incrementally by content hash.

For each file given: when its SHA-256 equals the one recorded, nothing happens. Otherwise it is parsed
and chunked; chunks whose id (a hash of their text) is already stored keep their vector, new ones are
embedded through the embeddings port in batches, and chunks the file no longer has are deleted. A file
that fails to parse is reported as ``path:line: problem``, its previously synced chunks stay searchable,
and the other files are synced all the same. ``prune`` (a whole folder re-read) removes the files that
are gone; ``remove`` removes named ones (a deleted blob). A file last synced with another embedder
(another model, another vector space) is embedded again even when its bytes are unchanged; until
then search leaves its chunks out.

The source record is written last with its ETag, retried against a concurrent writer, and its
revision moves only when chunks changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shared.embeddings.port import Embedder
from shared.grounding.chunking import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS, Chunk, chunk_file
from shared.grounding.parsing import SourceParseError, parse_file
from shared.grounding.sources import CHUNKS, FileState, SourceRecord, SourceRegistry
from shared.store import DocumentStore, Filter, PreconditionFailedError

log = logging.getLogger(__name__)
Status = Literal["added", "updated", "unchanged", "failed", "removed"]
_DELETE_CONCURRENCY = 16


@dataclass
class FileReport:
    path: str
    status: Status
    chunks: int = 0
    embedded: int = 0
    deleted: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class SyncReport:
    source: str
    revision: int = 0
    files: list[FileReport] = field(default_factory=list)

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def changed(self) -> bool:
        return any(f.status in ("added", "updated", "removed") for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "revision": self.revision, "files": [f.to_dict() for f in self.files]}


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_document(record: SourceRecord, chunk: Chunk, vector: np.ndarray, embedder: str) -> dict[str, Any]:
    return {"id": chunk.id, "source_key": record.key, "tenant_id": record.tenant_id, "source": record.name,
            "file": chunk.file, "title": chunk.title, "text": chunk.text, "line_start": chunk.line_start,
            "line_end": chunk.line_end, "unit": chunk.unit, "tokens": chunk.tokens, "product": chunk.product,
            "embedder": embedder, "embedding": [float(x) for x in vector]}


class SourceSync:
    def __init__(self, store: DocumentStore, embedder: Embedder, *, max_tokens: int = DEFAULT_MAX_TOKENS,
                 overlap_tokens: int = DEFAULT_OVERLAP_TOKENS, batch_size: int = 64) -> None:
        self.store = store
        self.registry = SourceRegistry(store)
        self.embedder = embedder
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.batch_size = batch_size

    async def sync(self, record: SourceRecord, files: Mapping[str, bytes], *, prune: bool = False,
                   remove: Sequence[str] = ()) -> SyncReport:
        report = SyncReport(record.name)
        states: dict[str, FileState | None] = {}  # what this sync decided per file (None: removed)
        for path, data in sorted(files.items()):
            previous = record.files.get(path)
            digest = content_hash(data)
            if (previous is not None and previous.hash == digest and previous.error is None
                    and previous.embedder == self.embedder.name):
                report.files.append(FileReport(path, "unchanged", previous.chunks))
                continue
            try:
                chunks = chunk_file(parse_file(path, data), max_tokens=self.max_tokens,
                                    overlap_tokens=self.overlap_tokens)
            except SourceParseError as exc:
                kept = previous.chunks if previous is not None else 0
                states[path] = FileState(previous.hash if previous else None, kept,
                                         previous.synced_at if previous else None, str(exc), len(data),
                                         previous.embedder if previous else None)
                report.files.append(FileReport(path, "failed", kept, error=str(exc)))
                continue
            embedded, deleted = await self._replace_file(record, path, chunks)
            states[path] = FileState(digest, len(chunks), time.time(), None, len(data), self.embedder.name)
            status: Status = "added" if path not in record.files else "updated"
            report.files.append(FileReport(path, status, len(chunks), embedded, deleted))
        gone = set(remove) | ({p for p in record.files if p not in files} if prune else set())
        for path in sorted(gone):
            if path in record.files or path in states:
                deleted = await self._delete_where(record, [Filter("file", "=", path)])
                states[path] = None
                report.files.append(FileReport(path, "removed", deleted=deleted))
        saved = await self._save(record, states, changed=report.changed)
        report.revision = saved.revision
        return report

    async def delete_all(self, record: SourceRecord) -> int:
        """Every chunk of the source (``llmops sources rm``)."""
        return await self._delete_where(record, [])

    async def _replace_file(self, record: SourceRecord, path: str, chunks: list[Chunk]) -> tuple[int, int]:
        existing = {d["id"]: d for d in await self.store.query(
            CHUNKS, [Filter("source_key", "=", record.key), Filter("file", "=", path)])}
        fresh = [c for c in chunks if existing.get(c.id, {}).get("embedder") != self.embedder.name]
        fresh_ids = {c.id for c in fresh}
        for start in range(0, len(fresh), self.batch_size):
            batch = fresh[start:start + self.batch_size]
            vectors = await self.embedder.embed([c.embedding_text for c in batch])
            await self.store.upsert_many(CHUNKS, [chunk_document(record, c, v, self.embedder.name)
                                                  for c, v in zip(batch, vectors, strict=True)])
        # kept chunks that moved (an edit above them shifted the lines): new location, same vector
        moved = [chunk_document(record, c, np.asarray(existing[c.id]["embedding"]), self.embedder.name)
                 for c in chunks if c.id in existing and c.id not in fresh_ids
                 and (existing[c.id].get("line_start"), existing[c.id].get("line_end")) != (c.line_start, c.line_end)]
        if moved:
            await self.store.upsert_many(CHUNKS, moved)
        wanted = {c.id for c in chunks}
        doomed = [i for i in existing if i not in wanted]
        await self._delete_ids(record, doomed)
        return len(fresh), len(doomed)

    async def _delete_where(self, record: SourceRecord, filters: list[Filter]) -> int:
        ids = [d["id"] for d in await self.store.query(CHUNKS, [Filter("source_key", "=", record.key), *filters])]
        await self._delete_ids(record, ids)
        return len(ids)

    async def _delete_ids(self, record: SourceRecord, ids: Sequence[str]) -> None:
        gate = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def one(chunk: str) -> None:
            async with gate:
                await self.store.delete(CHUNKS, chunk, record.key)

        await asyncio.gather(*(one(i) for i in ids))

    async def _save(self, record: SourceRecord, states: Mapping[str, FileState | None], *,
                    changed: bool) -> SourceRecord:
        current = record
        for _ in range(8):
            for path, state in states.items():
                if state is None:
                    current.files.pop(path, None)
                else:
                    current.files[path] = state
            if changed:
                current.revision += 1
            current.embedder = self.embedder.name if current.files else current.embedder
            try:
                return await self.registry.save(current)
            except PreconditionFailedError:  # another sync of this source wrote first: apply ours on top
                current = await self.registry.require(record.tenant_id, record.name)
        raise PreconditionFailedError(f"source {record.name}: too many concurrent updates")
