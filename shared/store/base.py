"""The document-store port: a small async interface over JSON documents in named containers.

Two adapters implement it: SQLite (the embedded default, one file, safe across processes) and
Cosmos DB NoSQL. Documents are plain dicts with an ``id`` and the container's partition-key field
(see ``catalog.py``). Reads return the stored document with ``_etag`` (for optimistic concurrency)
and ``_ts`` (last write, epoch seconds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

Document = dict[str, Any]
Operator = Literal["=", "!=", "<", "<=", ">", ">=", "in", "contains"]
OPERATORS: frozenset[str] = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "contains"})
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class StoreError(Exception):
    """Base class for store failures the caller may want to handle."""


class NotFoundError(StoreError):
    """The document does not exist."""


class ConflictError(StoreError):
    """A document with this id already exists (create)."""


class PreconditionFailedError(StoreError):
    """The ETag or the patch condition no longer matches: someone else wrote first."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or answered with a server error."""


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition in a query: ``field op value``; ``field`` may be dotted (``usage.total``)."""

    field: str
    op: Operator
    value: Any

    def __post_init__(self) -> None:
        if not _FIELD.match(self.field):
            raise ValueError(f"invalid field name in filter: {self.field!r}")
        if self.op not in OPERATORS:
            raise ValueError(f"unsupported filter operator: {self.op!r}")
        if self.op == "in" and not isinstance(self.value, list | tuple):
            raise ValueError("the 'in' operator takes a list")


def as_filters(where: Mapping[str, Any] | Sequence[Filter] | None) -> list[Filter]:
    """Accept ``{"field": value}`` (equality) or a list of ``Filter`` objects."""
    if where is None:
        return []
    if isinstance(where, Mapping):
        return [Filter(key, "=", value) for key, value in where.items()]
    return list(where)


def check_field(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(f"invalid field name: {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class Increment:
    """One ``increment`` of a batch (see ``DocumentStore.increment_many``)."""

    id: str
    partition_key: str
    increments: Mapping[str, float]
    condition: Sequence[Filter] = ()
    defaults: Mapping[str, Any] | None = None


@runtime_checkable
class DocumentStore(Protocol):
    """What the core needs from a document database."""

    async def open(self) -> None:
        """Connect and make sure the containers exist where this adapter may create them."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailableError`` when the store cannot serve requests."""

    async def get(self, container: str, id: str, partition_key: str) -> Document | None: ...

    async def create(self, container: str, doc: Document) -> Document:
        """Insert; raise ``ConflictError`` if the id exists in that partition."""

    async def upsert(self, container: str, doc: Document) -> Document: ...

    async def upsert_many(self, container: str, docs: Sequence[Document]) -> None:
        """Write a batch; each document is written exactly once even if the call is retried."""

    async def replace(self, container: str, doc: Document, *, if_match: str | None = None) -> Document:
        """Replace an existing document; with ``if_match`` only if its ETag is unchanged."""

    async def delete(self, container: str, id: str, partition_key: str) -> bool: ...

    async def query(
        self,
        container: str,
        where: Mapping[str, Any] | Sequence[Filter] | None = None,
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Document]: ...

    async def increment(
        self,
        container: str,
        id: str,
        partition_key: str,
        increments: Mapping[str, float],
        *,
        condition: Sequence[Filter] = (),
        defaults: Mapping[str, Any] | None = None,
    ) -> Document:
        """Atomically add to numeric top-level fields, creating the document from ``defaults`` if absent.

        With ``condition`` the update applies only when every filter holds for the document as it is
        before the update; otherwise ``PreconditionFailedError`` is raised and nothing changes.
        """

    async def increment_many(self, container: str, items: Sequence[Increment]) -> list[Document | StoreError]:
        """Several independent ``increment`` calls at once (each atomic on its own document); a failed
        one comes back as its ``StoreError`` in its place. Cheaper than one call each on every adapter."""
