"""The document-store contract, run against SQLite and against the real Cosmos-API server
(``@vercel/cosmosdb-server`` from npm) through the real ``azure-cosmos`` async SDK."""

from __future__ import annotations

import asyncio

import pytest

from shared.store import ConflictError, DocumentStore, Filter, NotFoundError, PreconditionFailedError

pytestmark = pytest.mark.integration


def log_record(tenant: str, n: int, **extra) -> dict:
    return {"id": f"{tenant}-{n}", "tenant_id": tenant, "n": n, **extra}


async def test_create_get_and_conflict(store: DocumentStore) -> None:
    created = await store.create("request_log", log_record("contoso", 1, tags=["a"]))
    assert created["_etag"]
    got = await store.get("request_log", "contoso-1", "contoso")
    assert got is not None and got["n"] == 1 and got["tags"] == ["a"]
    with pytest.raises(ConflictError):
        await store.create("request_log", log_record("contoso", 1))


async def test_missing_document_reads_as_none(store: DocumentStore) -> None:
    assert await store.get("request_log", "nope", "contoso") is None
    assert await store.delete("request_log", "nope", "contoso") is False


async def test_replace_with_etag_detects_concurrent_write(store: DocumentStore) -> None:
    first = await store.upsert("tenants", {"id": "contoso", "name": "Contoso"})
    second = await store.replace("tenants", {**first, "name": "Contoso Ltd"}, if_match=first["_etag"])
    assert second["name"] == "Contoso Ltd"
    with pytest.raises(PreconditionFailedError):
        await store.replace("tenants", {**first, "name": "stale"}, if_match=first["_etag"])
    current = await store.get("tenants", "contoso", "contoso")
    assert current is not None and current["name"] == "Contoso Ltd"


async def test_replace_missing_raises_not_found(store: DocumentStore) -> None:
    with pytest.raises((NotFoundError, PreconditionFailedError)):
        await store.replace("tenants", {"id": "ghost", "name": "x"}, if_match="etag")


async def test_query_filters_order_and_limit(store: DocumentStore) -> None:
    await store.upsert_many(
        "request_log",
        [log_record("contoso", i, app="mobile" if i % 2 else "crm", tags=["t"] if i == 3 else []) for i in range(6)]
        + [log_record("fabrikam", 9, app="mobile")],
    )
    rows = await store.query("request_log", {"tenant_id": "contoso"}, order_by="n", descending=True, limit=3)
    assert [r["n"] for r in rows] == [5, 4, 3]
    rows = await store.query(
        "request_log", [Filter("tenant_id", "=", "contoso"), Filter("n", ">=", 2), Filter("app", "=", "crm")]
    )
    assert sorted(r["n"] for r in rows) == [2, 4]
    rows = await store.query("request_log", [Filter("app", "in", ["mobile"])])
    assert sorted(r["n"] for r in rows) == [1, 3, 5, 9]
    rows = await store.query("request_log", [Filter("tags", "contains", "t")])
    assert [r["n"] for r in rows] == [3]
    assert await store.query("request_log", [Filter("app", "in", [])]) == []


async def test_increment_is_atomic_under_concurrency(store: DocumentStore) -> None:
    async def bump() -> None:
        await store.increment("tenants", "counter", "counter", {"hits": 1}, defaults={"hits": 0})

    await asyncio.gather(*(bump() for _ in range(20)))
    doc = await store.get("tenants", "counter", "counter")
    assert doc is not None and doc["hits"] == 20


async def test_conditional_increment_refuses_past_the_limit(store: DocumentStore) -> None:
    accepted = 0
    for _ in range(5):
        try:
            await store.increment(
                "tenants",
                "budget",
                "budget",
                {"used": 30},
                condition=[Filter("used", "<=", 70)],
                defaults={"used": 0},
            )
            accepted += 1
        except PreconditionFailedError:
            pass
    doc = await store.get("tenants", "budget", "budget")
    assert accepted == 3 and doc is not None and doc["used"] == 90


async def test_increment_missing_without_defaults(store: DocumentStore) -> None:
    with pytest.raises(NotFoundError):
        await store.increment("tenants", "absent", "absent", {"hits": 1})


async def test_ping_and_unknown_container(store: DocumentStore) -> None:
    await store.ping()
    with pytest.raises(KeyError):
        await store.get("no_such_container", "a", "a")


async def test_increment_many_takes_each_document_on_its_own(store: DocumentStore) -> None:
    from shared.store import Increment, PreconditionFailedError

    await store.increment("tenants", "full", "full", {"used": 10}, defaults={"used": 0})
    results = await store.increment_many("tenants", [
        Increment("a", "a", {"used": 5}, [Filter("used", "<=", 5)], {"used": 0}),
        Increment("full", "full", {"used": 5}, [Filter("used", "<=", 5)], {"used": 0}),
        Increment("missing", "missing", {"used": 1}),
    ])
    assert results[0]["used"] == 5
    assert isinstance(results[1], PreconditionFailedError)
    assert isinstance(results[2], NotFoundError)
    assert (await store.get("tenants", "full", "full"))["used"] == 10
