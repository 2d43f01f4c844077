"""The registry of grounding sources: one record per tenant and source name.

A record (container ``grounding_sources``, partition ``tenant_id``, id = the source name) says what a
source holds: its files with their content hashes and chunk counts, the last problem of each file
that failed to parse, the embedder whose vector space its chunks are in, and a ``revision`` that
grows whenever its chunks change (search indexes kept in memory reload when it moves). The chunks
themselves live in ``grounding_chunks``, partitioned by ``source_key`` (``tenant/source``), so one
source is one partition and nothing of one tenant is ever searched for another.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.store import DocumentStore, PreconditionFailedError

SOURCES = "grounding_sources"
CHUNKS = "grounding_chunks"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class GroundingError(Exception):
    """A grounding problem a client or operator caused; ``status`` and ``code`` for the API."""

    status = 400
    code = "invalid_grounding"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class SourceNotFoundError(GroundingError):
    status = 404
    code = "source_not_found"


class SourceExistsError(GroundingError):
    status = 409
    code = "source_exists"


def check_source_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise GroundingError(f"invalid source name {name!r}: use 1-64 lowercase letters, digits, '.', '_' or '-', "
                             "starting with a letter or digit", param="source")
    return name


def source_key(tenant_id: str, name: str) -> str:
    return f"{tenant_id}/{name}"


@dataclass
class FileState:
    hash: str | None = None  # sha256 of the bytes last synced successfully
    chunks: int = 0
    synced_at: float | None = None
    error: str | None = None  # "path:line: problem" of the last failed attempt (old chunks are kept)
    size: int = 0
    embedder: str | None = None  # the vector space of this file's chunks

    def to_doc(self) -> dict[str, Any]:
        return {"hash": self.hash, "chunks": self.chunks, "synced_at": self.synced_at, "error": self.error,
                "size": self.size, "embedder": self.embedder}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> FileState:
        return cls(doc.get("hash"), int(doc.get("chunks") or 0), doc.get("synced_at"), doc.get("error"),
                   int(doc.get("size") or 0), doc.get("embedder"))


@dataclass
class SourceRecord:
    tenant_id: str
    name: str
    description: str = ""
    origins: list[str] = field(default_factory=list)  # where `llmops sources sync` reads from (paths)
    files: dict[str, FileState] = field(default_factory=dict)
    embedder: str | None = None  # the vector space of the last sync (Embedder.name); files record their own
    revision: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    etag: str | None = None

    @property
    def key(self) -> str:
        return source_key(self.tenant_id, self.name)

    @property
    def chunk_count(self) -> int:
        return sum(f.chunks for f in self.files.values())

    @property
    def errors(self) -> dict[str, str]:
        return {path: state.error for path, state in self.files.items() if state.error}

    def to_doc(self) -> dict[str, Any]:
        doc = {"id": self.name, "tenant_id": self.tenant_id, "name": self.name, "description": self.description,
               "origins": list(self.origins), "files": {p: f.to_doc() for p, f in sorted(self.files.items())},
               "embedder": self.embedder, "revision": self.revision, "chunk_count": self.chunk_count,
               "created_at": self.created_at, "updated_at": self.updated_at}
        if self.etag:
            doc["_etag"] = self.etag
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> SourceRecord:
        return cls(str(doc["tenant_id"]), str(doc["name"]), str(doc.get("description") or ""),
                   [str(o) for o in doc.get("origins") or []],
                   {str(p): FileState.from_doc(f) for p, f in (doc.get("files") or {}).items()},
                   doc.get("embedder"), int(doc.get("revision") or 0), float(doc.get("created_at") or 0),
                   float(doc.get("updated_at") or 0), doc.get("_etag"))

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "tenant": self.tenant_id, "description": self.description,
                "files": len(self.files), "chunks": self.chunk_count, "revision": self.revision,
                "embedder": self.embedder, "updated_at": self.updated_at, "errors": self.errors}


class SourceRegistry:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def get(self, tenant_id: str, name: str) -> SourceRecord | None:
        doc = await self.store.get(SOURCES, check_source_name(name), tenant_id)
        return SourceRecord.from_doc(doc) if doc is not None else None

    async def require(self, tenant_id: str, name: str) -> SourceRecord:
        record = await self.get(tenant_id, name)
        if record is None:
            raise SourceNotFoundError(f"No grounding source named {name!r} in this tenant.", param="grounding.source")
        return record

    async def all(self, tenant_id: str | None = None) -> list[SourceRecord]:
        where = {"tenant_id": tenant_id} if tenant_id is not None else None
        return sorted((SourceRecord.from_doc(d) for d in await self.store.query(SOURCES, where)),
                      key=lambda r: (r.tenant_id, r.name))

    async def create(self, record: SourceRecord) -> SourceRecord:
        from shared.store import ConflictError

        check_source_name(record.name)
        try:
            saved = await self.store.create(SOURCES, record.to_doc())
        except ConflictError:
            raise SourceExistsError(f"The source {record.name!r} already exists in tenant {record.tenant_id!r}.",
                                    param="source") from None
        return SourceRecord.from_doc(saved)

    async def save(self, record: SourceRecord) -> SourceRecord:
        """Replace the record if nobody else wrote it since it was read (else ``PreconditionFailedError``)."""
        record.updated_at = time.time()
        doc = record.to_doc()
        if record.etag:
            saved = await self.store.replace(SOURCES, doc, if_match=record.etag)
        else:
            saved = await self.store.upsert(SOURCES, doc)
        return SourceRecord.from_doc(saved)

    async def delete(self, tenant_id: str, name: str) -> bool:
        return await self.store.delete(SOURCES, check_source_name(name), tenant_id)


__all__ = ["CHUNKS", "SOURCES", "FileState", "GroundingError", "PreconditionFailedError", "SourceExistsError",
           "SourceNotFoundError", "SourceRecord", "SourceRegistry", "check_source_name", "source_key"]
