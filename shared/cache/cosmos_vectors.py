"""Semantic-cache entries in Cosmos DB NoSQL with vector search (Azure).

The ``semantic_cache`` container (partition key ``tenant_id``) declares a vector embedding policy
and a DiskANN index on ``/embedding`` (``vector_policies`` below, from ``shared/store/catalog.py``;
Pulumi creates it in Azure). A lookup is one single-partition query ordered by
``VectorDistance`` (cosine similarity: larger is closer), filtered to the scope and unexpired items.

The local Cosmos-API server has no vector search, so this adapter's query building and document
shape are unit-tested (tests/unit/cache/test_cosmos_vectors.py) and locally the in-process store runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from shared.cache.exact import ENTRY_SCHEMA, valid_entry
from shared.cache.semantic_store import SemanticCandidate, SemanticEntry
from shared.store.catalog import ContainerSpec, container

log = logging.getLogger(__name__)

SEMANTIC_CACHE = "semantic_cache"
_SELECTED = "c.id, c.schema, c.question, c.response, c.expires_at"


def vector_policies(spec: ContainerSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(vector_embedding_policy, indexing_policy)`` for ``create_container_if_not_exists``."""
    embeddings = [
        {"path": v.path, "dataType": v.data_type, "distanceFunction": v.distance, "dimensions": v.dimensions}
        for v in spec.vector_indexes
    ]
    indexing = {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/*"}],
        # Vectors are searched through their vector index only; keep them out of the range index.
        "excludedPaths": [{"path": '/"_etag"/?'}, *({"path": f"{v.path}/*"} for v in spec.vector_indexes)],
        "vectorIndexes": [{"path": v.path, "type": v.index_type} for v in spec.vector_indexes],
    }
    return {"vectorEmbeddings": embeddings}, indexing


def vector_document(entry: SemanticEntry, now: float) -> dict[str, Any]:
    return {
        "id": entry.entry_id,
        "tenant_id": entry.tenant_id,
        "scope": entry.scope_key,
        "schema": ENTRY_SCHEMA,
        "question": entry.question,
        "embedding": [float(x) for x in np.asarray(entry.vector, dtype=np.float32).reshape(-1)],
        "response": entry.response,
        "created_at": now,
        "expires_at": entry.expires_at,
        "ttl": max(1, int(entry.expires_at - now)),  # Cosmos DB deletes the item itself after this
        **entry.labels,
    }


def build_vector_query(
    tenant_id: str, scope_key: str, vector: np.ndarray, *, k: int, now: float
) -> tuple[str, list[dict[str, Any]]]:
    """The top-``k`` nearest entries of one scope; the partition key is also filtered in WHERE
    (the local Cosmos-API server needs it there; it costs nothing in Azure)."""
    if not 1 <= k <= 100:
        raise ValueError("k must be between 1 and 100")
    sql = (
        f"SELECT TOP {int(k)} {_SELECTED}, VectorDistance(c.embedding, @embedding) AS score FROM c "
        "WHERE c.tenant_id = @tenant AND c.scope = @scope AND c.expires_at > @now "
        "ORDER BY VectorDistance(c.embedding, @embedding)"
    )
    params: list[dict[str, Any]] = [
        {"name": "@embedding", "value": [float(x) for x in np.asarray(vector, dtype=np.float32).reshape(-1)]},
        {"name": "@tenant", "value": tenant_id},
        {"name": "@scope", "value": scope_key},
        {"name": "@now", "value": now},
    ]
    return sql, params


class CosmosSemanticStore:
    """``container``: an ``azure.cosmos.aio.ContainerProxy`` for ``semantic_cache``."""

    def __init__(self, container_client: Any, *, clock: Callable[[], float] = time.time) -> None:
        container(SEMANTIC_CACHE)
        self.container = container_client
        self._clock = clock

    async def add(self, entry: SemanticEntry) -> None:
        await self.container.upsert_item(vector_document(entry, self._clock()))

    async def search(
        self, tenant_id: str, scope_key: str, vector: np.ndarray, *, k: int, min_score: float
    ) -> list[SemanticCandidate]:
        now = self._clock()
        sql, params = build_vector_query(tenant_id, scope_key, vector, k=k, now=now)
        found = []
        async for item in self.container.query_items(sql, parameters=params, partition_key=tenant_id):
            score = item.get("score")
            entry = valid_entry(item, now)  # old-schema or malformed items are skipped
            if entry is not None and isinstance(score, int | float) and score >= min_score:
                found.append(SemanticCandidate(entry, float(score)))
        return found

    async def invalidate(self, tenant_id: str, **match: Any) -> int:
        clauses = ["c.tenant_id = @tenant"]
        params: list[dict[str, Any]] = [{"name": "@tenant", "value": tenant_id}]
        for i, (field, value) in enumerate(sorted(match.items())):
            if not field.isidentifier():
                raise ValueError(f"invalid field {field!r}")
            clauses.append(f"c.{field} = @v{i}")
            params.append({"name": f"@v{i}", "value": value})
        sql = f"SELECT c.id FROM c WHERE {' AND '.join(clauses)}"
        ids = [item["id"] async for item in self.container.query_items(sql, parameters=params, partition_key=tenant_id)]
        for entry_id in ids:
            await self.container.delete_item(entry_id, partition_key=tenant_id)
        return len(ids)

    async def close(self) -> None:
        return None
