"""SQLite adapter of the document store: the embedded default for local runs and tests.

One table per container (``pk``, ``id``, ``etag``, ``ts``, ``expires_at``, ``body`` JSON). All
calls run on one dedicated thread so the event loop never blocks on disk. WAL mode plus
``BEGIN IMMEDIATE`` for read-modify-write makes the conditional operations (ETag replace,
conditional increment) safe across processes that share the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from shared.store.base import (
    ConflictError,
    Document,
    Filter,
    Increment,
    NotFoundError,
    PreconditionFailedError,
    StoreError,
    StoreUnavailableError,
    as_filters,
    check_field,
)
from shared.store.catalog import CONTAINERS, container

T = TypeVar("T")


def _expires_at(spec_ttl: int | None, doc: Document, now: float) -> float | None:
    ttl = doc.get("ttl", spec_ttl)
    if ttl is None or not isinstance(ttl, int | float) or ttl < 0:
        return None
    return now + float(ttl)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()




def _loads(raw: bytes | str) -> Document:
    doc: Document = orjson.loads(raw)
    return doc


def _insert(table: str) -> str:
    """Insert or replace a row, stamping it with the next change-sequence number of its table."""
    return (f'INSERT OR REPLACE INTO "{table}" (pk, id, etag, ts, expires_at, body, seq) '
            f'VALUES (?, ?, ?, ?, ?, ?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM "{table}"))')


def _json_path(field: str) -> str:
    return "$." + check_field(field)


def matches(doc: Document, condition: Filter) -> bool:
    """Evaluate a filter against a document in Python (used for conditional increments)."""
    value: Any = doc
    for part in condition.field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    target = condition.value
    try:
        if condition.op == "=":
            return bool(value == target)
        if condition.op == "!=":
            return bool(value != target)
        if condition.op == "in":
            return bool(value in target)
        if condition.op == "contains":
            return isinstance(value, list) and target in value
        if value is None:
            return False
        return bool({
            "<": value < target,
            "<=": value <= target,
            ">": value > target,
            ">=": value >= target,
        }[condition.op])
    except TypeError:
        return False


class SqliteDocumentStore:
    """Documents in one SQLite file. Safe for several processes sharing the file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._tables: set[str] = set()

    # -- plumbing -------------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._connect()
        assert self._conn is not None
        try:
            return fn(self._conn)
        except sqlite3.OperationalError as exc:
            if self._conn.in_transaction:
                self._conn.rollback()
            raise StoreUnavailableError(f"sqlite: {exc}") from exc
        except BaseException:
            if self._conn.in_transaction:
                self._conn.rollback()
            raise

    def _connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        self._conn = conn
        for name in CONTAINERS:
            self._ensure_table(conn, name)

    def _ensure_table(self, conn: sqlite3.Connection, name: str) -> str:
        container(name)  # unknown containers are a programming error
        if name not in self._tables:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" (pk TEXT NOT NULL, id TEXT NOT NULL, etag TEXT NOT NULL, '
                "ts REAL NOT NULL, expires_at REAL, body TEXT NOT NULL, seq INTEGER, PRIMARY KEY (pk, id))"
            )
            columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
            if "seq" not in columns:  # a file from before the change sequence existed
                conn.execute(f'ALTER TABLE "{name}" ADD COLUMN seq INTEGER')
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{name}_seq" ON "{name}" (seq)')
            self._tables.add(name)
        return name

    def _prepare(self, name: str, doc: Document, now: float) -> tuple[str, str, str, float, float | None, str]:
        spec = container(name)
        if "id" not in doc or not isinstance(doc["id"], str) or not doc["id"]:
            raise ValueError(f"{name}: a document needs a non-empty string 'id'")
        pk = doc.get(spec.partition_key)
        if pk is None:
            raise ValueError(f"{name}: a document needs its partition key field {spec.partition_key!r}")
        etag = uuid.uuid4().hex
        body = {k: v for k, v in doc.items() if k not in ("_etag", "_ts")}
        body["_etag"], body["_ts"] = etag, int(now)
        return str(pk), doc["id"], etag, now, _expires_at(spec.default_ttl_s, doc, now), _dumps(body)

    @staticmethod
    def _alive(row_expires: float | None, now: float) -> bool:
        return row_expires is None or row_expires > now

    # -- lifecycle ------------------------------------------------------------------------
    async def open(self) -> None:
        await self._run(lambda conn: None)

    async def close(self) -> None:
        def _close(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self._run(_close)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    # -- reads ----------------------------------------------------------------------------
    async def get(self, container_name: str, id: str, partition_key: str) -> Document | None:
        def _get(conn: sqlite3.Connection) -> Document | None:
            table = self._ensure_table(conn, container_name)
            row = conn.execute(
                f'SELECT body, expires_at FROM "{table}" WHERE pk = ? AND id = ?', (str(partition_key), id)
            ).fetchone()
            if row is None or not self._alive(row[1], time.time()):
                return None
            return _loads(row[0])

        return await self._run(_get)

    async def query(
        self,
        container_name: str,
        where: Mapping[str, Any] | Sequence[Filter] | None = None,
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Document]:
        filters = as_filters(where)

        def _query(conn: sqlite3.Connection) -> list[Document]:
            table = self._ensure_table(conn, container_name)
            clauses: list[str] = ["(expires_at IS NULL OR expires_at > ?)"]
            params: list[Any] = [time.time()]
            for flt in filters:
                expr = f"json_extract(body, '{_json_path(flt.field)}')"
                if flt.op == "in":
                    values = [_dumps(v) if isinstance(v, dict | list) else v for v in flt.value]
                    if not values:
                        return []
                    clauses.append(f"{expr} IN ({', '.join('?' for _ in values)})")
                    params.extend(values)
                elif flt.op == "contains":
                    clauses.append(
                        f"EXISTS (SELECT 1 FROM json_each(body, '{_json_path(flt.field)}') WHERE value = ?)"
                    )
                    params.append(flt.value)
                elif flt.value is None and flt.op in ("=", "!="):
                    clauses.append(f"{expr} IS {'NOT ' if flt.op == '!=' else ''}NULL")
                else:
                    clauses.append(f"{expr} {flt.op} ?")
                    params.append(flt.value)
            sql = f'SELECT body FROM "{table}" WHERE {" AND ".join(clauses)}'
            if order_by:
                sql += f" ORDER BY json_extract(body, '{_json_path(order_by)}') {'DESC' if descending else 'ASC'}"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            return [_loads(row[0]) for row in conn.execute(sql, params)]

        return await self._run(_query)

    # -- writes ---------------------------------------------------------------------------
    async def create(self, container_name: str, doc: Document) -> Document:
        def _create(conn: sqlite3.Connection) -> Document:
            table = self._ensure_table(conn, container_name)
            now = time.time()
            row = self._prepare(container_name, doc, now)
            conn.execute("BEGIN IMMEDIATE")
            existing = conn.execute(
                f'SELECT expires_at FROM "{table}" WHERE pk = ? AND id = ?', (row[0], row[1])
            ).fetchone()
            if existing is not None and self._alive(existing[0], now):
                conn.execute("ROLLBACK")
                raise ConflictError(f"{container_name}/{row[1]} exists")
            conn.execute(_insert(table), row)
            conn.execute("COMMIT")
            return _loads(row[5])

        return await self._run(_create)

    async def upsert(self, container_name: str, doc: Document) -> Document:
        def _upsert(conn: sqlite3.Connection) -> Document:
            table = self._ensure_table(conn, container_name)
            row = self._prepare(container_name, doc, time.time())
            conn.execute(_insert(table), row)
            return _loads(row[5])

        return await self._run(_upsert)

    async def upsert_many(self, container_name: str, docs: Sequence[Document]) -> None:
        if not docs:
            return

        def _upsert_many(conn: sqlite3.Connection) -> None:
            table = self._ensure_table(conn, container_name)
            now = time.time()
            rows = [self._prepare(container_name, doc, now) for doc in docs]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_insert(table), rows)
            conn.execute("COMMIT")

        await self._run(_upsert_many)

    async def replace(self, container_name: str, doc: Document, *, if_match: str | None = None) -> Document:
        def _replace(conn: sqlite3.Connection) -> Document:
            table = self._ensure_table(conn, container_name)
            now = time.time()
            row = self._prepare(container_name, doc, now)
            conn.execute("BEGIN IMMEDIATE")
            current = conn.execute(
                f'SELECT etag, expires_at FROM "{table}" WHERE pk = ? AND id = ?', (row[0], row[1])
            ).fetchone()
            if current is None or not self._alive(current[1], now):
                conn.execute("ROLLBACK")
                raise NotFoundError(f"{container_name}/{row[1]} not found")
            if if_match is not None and current[0] != if_match:
                conn.execute("ROLLBACK")
                raise PreconditionFailedError(f"{container_name}/{row[1]} changed since it was read")
            conn.execute(_insert(table), row)
            conn.execute("COMMIT")
            return _loads(row[5])

        return await self._run(_replace)

    async def delete(self, container_name: str, id: str, partition_key: str) -> bool:
        def _delete(conn: sqlite3.Connection) -> bool:
            table = self._ensure_table(conn, container_name)
            cur = conn.execute(f'DELETE FROM "{table}" WHERE pk = ? AND id = ?', (str(partition_key), id))
            return cur.rowcount > 0

        return await self._run(_delete)

    async def changes(self, container_name: str, after: int = 0, limit: int = 100) -> tuple[list[Document], int]:
        """Documents written after change number ``after``, oldest first, and the last number seen: a
        change feed for the local event runtime (latest version of each document, like Cosmos DB's)."""

        def _changes(conn: sqlite3.Connection) -> tuple[list[Document], int]:
            table = self._ensure_table(conn, container_name)
            rows = conn.execute(f'SELECT body, seq FROM "{table}" WHERE seq > ? ORDER BY seq LIMIT ?',
                                (after, int(limit))).fetchall()
            return [_loads(body) for body, _ in rows], (rows[-1][1] if rows else after)

        return await self._run(_changes)

    async def increment(
        self,
        container_name: str,
        id: str,
        partition_key: str,
        increments: Mapping[str, float],
        *,
        condition: Sequence[Filter] = (),
        defaults: Mapping[str, Any] | None = None,
    ) -> Document:
        (result,) = await self.increment_many(container_name, [
            Increment(id, partition_key, increments, condition, defaults)])
        if isinstance(result, StoreError):
            raise result
        return result

    async def increment_many(self, container_name: str, items: Sequence[Increment]) -> list[Document | StoreError]:
        for item in items:
            for name in item.increments:
                if "." in check_field(name):
                    raise ValueError("increment takes top-level fields only")

        def _all(conn: sqlite3.Connection) -> list[Document | StoreError]:
            table = self._ensure_table(conn, container_name)
            results: list[Document | StoreError] = []
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")  # one transaction for the batch; each document decided on its own
            try:
                for item in items:
                    try:
                        results.append(self._increment_one(conn, table, container_name, item, now))
                    except (NotFoundError, PreconditionFailedError) as exc:
                        results.append(exc)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return results

        return await self._run(_all)

    def _increment_one(self, conn: sqlite3.Connection, table: str, container_name: str, item: Increment,
                       now: float) -> Document:
        """Inside the caller's transaction: raise without writing when the document refuses."""
        row = conn.execute(
            f'SELECT body, expires_at FROM "{table}" WHERE pk = ? AND id = ?', (str(item.partition_key), item.id)
        ).fetchone()
        if row is None or not self._alive(row[1], now):
            if item.defaults is None:
                raise NotFoundError(f"{container_name}/{item.id} not found")
            key_field = container(container_name).partition_key
            doc: Document = {**item.defaults, "id": item.id, key_field: item.partition_key}
        else:
            doc = _loads(row[0])
        if not all(matches(doc, flt) for flt in item.condition):
            raise PreconditionFailedError(f"{container_name}/{item.id}: condition not met")
        for name, amount in item.increments.items():
            doc[name] = (doc.get(name) or 0) + amount
        prepared = self._prepare(container_name, doc, now)
        conn.execute(_insert(table), prepared)
        return _loads(prepared[5])
