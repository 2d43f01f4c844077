"""Hybrid search of grounding chunks in Cosmos DB for NoSQL (Azure).

The ``grounding_chunks`` container declares a DiskANN vector index on ``/embedding`` and a full-text
index on ``/text`` (``shared/store/catalog.py``; the Pulumi program creates them). One query per
retrieval, inside the source's partition, ranks by ``RRF(VectorDistance(...), FullTextScore(...))``:
vector similarity and BM25 fused by reciprocal rank, as the local index does, and projects the
cosine for the reranker. ``FullTextScore`` cannot be projected, so the fused score is taken from the
rank Cosmos DB returns (``1 / (60 + rank)``, the same scale as ``rerank.fuse``).

The local Cosmos-API server has neither index, so this adapter's query is unit-tested
(tests/unit/grounding/test_cosmos_search.py) and locally ``LocalChunkSearch`` runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.grounding.rerank import RRF_K
from shared.grounding.search import Candidate
from shared.grounding.sources import CHUNKS, SourceRecord
from shared.grounding.text import terms
from shared.store.catalog import container

_FIELDS = "c.id, c.file, c.title, c.text, c.line_start, c.line_end, c.unit, c.product, c.source, c.tokens"
MAX_TERMS = 16


def build_hybrid_query(record: SourceRecord, vector: np.ndarray, query: str, n: int,
                       embedder: str) -> tuple[str, list[dict[str, Any]]]:
    """The top-``n`` hybrid query of one source; terms are lowercase word characters only, so they
    are safe as literals (``FullTextScore`` takes string literals, not parameters)."""
    if not 1 <= n <= 100:
        raise ValueError("n must be between 1 and 100")
    words = list(dict.fromkeys(t for t in terms(query) if t.replace("-", "").replace(".", "").isalnum()))[:MAX_TERMS]
    vector_distance = "VectorDistance(c.embedding, @embedding)"
    if words:
        literals = ", ".join(f'"{w}"' for w in words)
        rank = f"ORDER BY RANK RRF({vector_distance}, FullTextScore(c.text, {literals}))"
    else:
        rank = f"ORDER BY {vector_distance}"
    sql = (f"SELECT TOP {int(n)} {_FIELDS}, {vector_distance} AS cosine FROM c "
           "WHERE c.source_key = @source_key AND c.embedder = @embedder " + rank)
    params: list[dict[str, Any]] = [
        {"name": "@embedding", "value": [float(x) for x in np.asarray(vector, dtype=np.float32).reshape(-1)]},
        {"name": "@source_key", "value": record.key},
        {"name": "@embedder", "value": embedder},
    ]
    return sql, params


class CosmosChunkSearch:
    """``container_client``: an ``azure.cosmos.aio.ContainerProxy`` for ``grounding_chunks``."""

    def __init__(self, container_client: Any) -> None:
        container(CHUNKS)
        self.container = container_client

    async def candidates(self, record: SourceRecord, vector: np.ndarray, query: str, n: int,
                         embedder: str) -> list[Candidate]:
        sql, params = build_hybrid_query(record, vector, query, n, embedder)
        out: list[Candidate] = []
        rank = 0
        async for item in self.container.query_items(sql, parameters=params, partition_key=record.key):
            rank += 1
            cosine = item.pop("cosine", 0.0)
            out.append(Candidate(item, float(cosine) if isinstance(cosine, int | float) else 0.0,
                                 1.0 / (RRF_K + rank)))
        return out

    async def close(self) -> None:
        return None
