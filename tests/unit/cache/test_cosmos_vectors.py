"""The Cosmos DB vector adapter's query, documents and container policies (the local Cosmos-API
server has no vector search, so these are checked here against a recording container client)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shared.cache.cosmos_vectors import CosmosSemanticStore, build_vector_query, vector_document, vector_policies
from shared.cache.semantic_store import SemanticEntry
from shared.store.catalog import SEMANTIC_CACHE_DIMENSIONS, container


def test_container_declares_a_diskann_vector_index() -> None:
    embedding_policy, indexing = vector_policies(container("semantic_cache"))
    assert embedding_policy == {
        "vectorEmbeddings": [
            {
                "path": "/embedding",
                "dataType": "float32",
                "distanceFunction": "cosine",
                "dimensions": SEMANTIC_CACHE_DIMENSIONS,
            }
        ]
    }
    assert indexing["vectorIndexes"] == [{"path": "/embedding", "type": "diskANN"}]
    assert {"path": "/embedding/*"} in indexing["excludedPaths"]
    assert container("semantic_cache").partition_key == "tenant_id"


def test_query_is_one_partition_scoped_and_ordered_by_vector_distance() -> None:
    sql, params = build_vector_query("contoso", "scope-1", np.array([0.6, 0.8], dtype=np.float32), k=3, now=100.0)
    assert sql.startswith("SELECT TOP 3 ")
    assert "VectorDistance(c.embedding, @embedding) AS score" in sql
    assert "WHERE c.tenant_id = @tenant AND c.scope = @scope AND c.expires_at > @now" in sql
    assert sql.endswith("ORDER BY VectorDistance(c.embedding, @embedding)")
    values = {p["name"]: p["value"] for p in params}
    assert values == {"@embedding": pytest.approx([0.6, 0.8]), "@tenant": "contoso", "@scope": "scope-1", "@now": 100.0}
    with pytest.raises(ValueError):
        build_vector_query("t", "s", np.zeros(2), k=0, now=0)


def entry(expires_at: float) -> SemanticEntry:
    return SemanticEntry(
        "e1",
        "contoso",
        "scope-1",
        "How do I reset my password?",
        np.array([0.6, 0.8]),
        {"choices": [{"index": 0, "message": {"content": "Use the link."}}]},
        expires_at,
        {"deployment": "small", "model": "m", "prompt_name": "faq", "prompt_version": "faq@abc"},
    )


def test_document_shape() -> None:
    doc = vector_document(entry(1_000.0), now=400.0)
    assert doc["id"] == "e1" and doc["tenant_id"] == "contoso" and doc["scope"] == "scope-1"
    assert doc["embedding"] == pytest.approx([0.6, 0.8]) and isinstance(doc["embedding"][0], float)
    assert doc["ttl"] == 600 and doc["schema"] == 1 and doc["prompt_name"] == "faq"


class RecordingContainer:
    """Stands in for azure.cosmos.aio.ContainerProxy (unit test only)."""

    def __init__(self, items: list[dict]) -> None:
        self.items, self.calls = items, []

    async def upsert_item(self, body: dict) -> dict:
        self.calls.append(("upsert", body))
        return body

    def query_items(self, sql: str, parameters: list, partition_key: str):
        self.calls.append(("query", sql, parameters, partition_key))

        async def rows():
            for item in self.items:
                yield item

        return rows()

    async def delete_item(self, item: str, partition_key: str) -> None:
        self.calls.append(("delete", item, partition_key))


async def test_search_keeps_valid_unexpired_entries_above_the_floor() -> None:
    now = time.time()
    good = {**vector_document(entry(now + 60), now), "score": 0.93}
    rows = [
        good,
        {**good, "id": "low", "score": 0.5},
        {**good, "id": "old-schema", "schema": 0},
        {**good, "id": "broken", "response": "text"},
        {**good, "id": "expired", "expires_at": now - 1},
    ]
    container_client = RecordingContainer(rows)
    store = CosmosSemanticStore(container_client, clock=lambda: now)
    found = await store.search("contoso", "scope-1", np.array([0.6, 0.8]), k=5, min_score=0.8)
    assert [c.entry.entry_id for c in found] == ["e1"] and found[0].cosine == pytest.approx(0.93)
    assert found[0].entry.question == "How do I reset my password?"
    assert container_client.calls[0][3] == "contoso"  # single-partition query
    await store.add(entry(now + 60))
    assert container_client.calls[-1][0] == "upsert"


async def test_invalidate_queries_by_labels_and_deletes() -> None:
    container_client = RecordingContainer([{"id": "a"}, {"id": "b"}])
    store = CosmosSemanticStore(container_client)
    assert await store.invalidate("contoso", prompt_name="faq") == 2
    _, sql, params, partition = container_client.calls[0]
    assert sql == "SELECT c.id FROM c WHERE c.tenant_id = @tenant AND c.prompt_name = @v0"
    assert params[1] == {"name": "@v0", "value": "faq"} and partition == "contoso"
    assert [c[1] for c in container_client.calls[1:]] == ["a", "b"]
    with pytest.raises(ValueError):
        await store.invalidate("contoso", **{"bad field": 1})
