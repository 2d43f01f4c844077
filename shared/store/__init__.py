"""Document-store port and its adapters; ``open_store(settings)`` picks one from the settings."""

from __future__ import annotations

from shared.config import Settings
from shared.store.base import (
    ConflictError,
    Document,
    DocumentStore,
    Filter,
    Increment,
    NotFoundError,
    PreconditionFailedError,
    StoreError,
    StoreUnavailableError,
)

__all__ = [
    "ConflictError",
    "Document",
    "DocumentStore",
    "Filter",
    "Increment",
    "NotFoundError",
    "PreconditionFailedError",
    "StoreError",
    "StoreUnavailableError",
    "build_store",
]


def build_store(settings: Settings) -> DocumentStore:
    """The adapter the settings ask for (not yet opened)."""
    if settings.store == "cosmos":
        from shared.store.cosmos import CosmosDocumentStore

        if not settings.cosmos_endpoint:
            raise ValueError("LLMOPS_STORE=cosmos needs COSMOS__accountEndpoint (or LLMOPS_COSMOS_ENDPOINT)")
        return CosmosDocumentStore(
            settings.cosmos_endpoint,
            settings.cosmos_database,
            key=settings.cosmos_key,
            verify_tls=settings.cosmos_verify_tls,
            create_containers=settings.cosmos_create_containers,
        )
    from shared.store.sqlite import SqliteDocumentStore

    return SqliteDocumentStore(settings.resolved_sqlite_path)
