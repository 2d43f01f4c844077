"""The grounding facade the CLI, the blob-upload function and the gateway share.

    grounding = build_grounding(settings, store)               # store: an open DocumentStore
    await grounding.add("contoso", "catalog", origins=["policies/catalogs/contoso-products.json"])
    report = await grounding.sync_origins("contoso", "catalog")   # re-read what was registered
    passages = await grounding.retrieve("contoso", ["catalog"], "Is the CX-500 in stock?", top_k=4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.embeddings.port import Embedder, build_embedder
from shared.grounding.parsing import SUPPORTED_SUFFIXES
from shared.grounding.retriever import Passage, Retriever
from shared.grounding.search import ChunkSearch, LocalChunkSearch
from shared.grounding.sources import GroundingError, SourceRecord, SourceRegistry, check_source_name
from shared.grounding.sync import SourceSync, SyncReport
from shared.store import DocumentStore


def collect_files(origins: Sequence[str]) -> dict[str, bytes]:
    """The files under each origin (a file, or a folder searched recursively for supported types),
    named relative to their folder (a file by its own name). Hidden files and folders are skipped."""
    files: dict[str, bytes] = {}
    for origin in origins:
        root = Path(origin)
        if root.is_file():
            files[root.name] = root.read_bytes()
        elif root.is_dir():
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not any(
                        part.startswith(".") for part in relative.parts):
                    files[relative.as_posix()] = path.read_bytes()
        else:
            raise GroundingError(f"{origin}: no such file or folder", param="origins")
    return files


class GroundingService:
    def __init__(self, store: DocumentStore, embedder: Embedder, search: ChunkSearch, *, chunk_tokens: int = 200,
                 overlap_tokens: int = 30, record_ttl_s: float = 5.0) -> None:
        self.store = store
        self.embedder = embedder
        self.search = search
        self.registry = SourceRegistry(store)
        self.syncer = SourceSync(store, embedder, max_tokens=chunk_tokens, overlap_tokens=overlap_tokens)
        self.retriever = Retriever(self.registry, search, embedder, record_ttl_s=record_ttl_s)

    async def add(self, tenant_id: str, name: str, *, description: str = "",
                  origins: Sequence[str] = ()) -> SourceRecord:
        """Register a source; ``origins`` (absolute paths) are what ``sync_origins`` re-reads."""
        check_source_name(name)
        return await self.registry.create(SourceRecord(tenant_id, name, description, list(origins)))

    async def sync_files(self, tenant_id: str, name: str, files: Mapping[str, bytes], *, prune: bool = False,
                         remove: Sequence[str] = ()) -> SyncReport:
        record = await self.registry.require(tenant_id, name)
        report = await self.syncer.sync(record, files, prune=prune, remove=remove)
        self.retriever.forget(tenant_id, name)
        return report

    async def sync_origins(self, tenant_id: str, name: str) -> SyncReport:
        """Re-read every registered origin; files that are gone are removed from the source."""
        record = await self.registry.require(tenant_id, name)
        if not record.origins:
            raise GroundingError(f"The source {name!r} has no registered paths (its files come from uploads).")
        return await self.sync_files(tenant_id, name, collect_files(record.origins), prune=True)

    async def remove(self, tenant_id: str, name: str) -> int:
        """Delete the source and all its chunks; the number of chunks deleted."""
        record = await self.registry.require(tenant_id, name)
        deleted = await self.syncer.delete_all(record)
        await self.registry.delete(tenant_id, name)
        self.retriever.forget(tenant_id, name)
        forget = getattr(self.search, "forget", None)
        if forget is not None:
            forget(record.key)
        return deleted

    async def sources(self, tenant_id: str | None = None) -> list[SourceRecord]:
        return await self.registry.all(tenant_id)

    async def retrieve(self, tenant_id: str, sources: Sequence[str], query: str, *, top_k: int = 4) -> list[Passage]:
        return await self.retriever.retrieve(tenant_id, sources, query, top_k=top_k)

    async def close(self) -> None:
        await self.search.close()


def build_search(settings: Any, store: DocumentStore) -> ChunkSearch:
    if settings.grounding_search == "cosmos":
        from shared.grounding.cosmos_search import CosmosChunkSearch
        from shared.grounding.sources import CHUNKS
        from shared.store.cosmos import CosmosDocumentStore

        if not isinstance(store, CosmosDocumentStore):
            raise ValueError("LLMOPS_GROUNDING_SEARCH=cosmos needs LLMOPS_STORE=cosmos")
        return CosmosChunkSearch(store.container_client(CHUNKS))
    return LocalChunkSearch(store)


def build_grounding(settings: Any, store: DocumentStore, embedder: Embedder | None = None) -> GroundingService:
    """``store`` must be open; ``embedder`` defaults to the one the settings name (shared with the cache
    when the platform passes its own)."""
    return GroundingService(store, embedder or build_embedder(settings), build_search(settings, store),
                            chunk_tokens=settings.grounding_chunk_tokens,
                            overlap_tokens=settings.grounding_chunk_overlap_tokens,
                            record_ttl_s=settings.grounding_source_cache_ttl_s)
