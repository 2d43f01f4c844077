"""Search building blocks: BM25, fusion and reranking, the Cosmos DB hybrid query, blob addresses."""

from __future__ import annotations

import numpy as np
import pytest

from shared.grounding.cosmos_search import CosmosChunkSearch, build_hybrid_query
from shared.grounding.keyword import KeywordIndex
from shared.grounding.rerank import fuse, rerank_scores
from shared.grounding.search import SourceIndex
from shared.grounding.sources import SourceRecord
from shared.grounding.uploads import blob_address


def test_bm25_prefers_rare_terms_and_stems() -> None:
    index = KeywordIndex(["a", "b", "c"], ["Refunds are paid to the original card.",
                                           "Shipping is free. Shipping takes two days.", "The card game rules."])
    assert [i for i, _ in index.search("refund to my card", 3)][:1] == ["a"]
    assert index.search("ships", 3)[0][0] == "b"  # "ships" and "shipping" share the stem "ship"
    assert index.search("unknown words", 3) == []


def test_fusion_rewards_agreement_and_rerank_uses_coverage() -> None:
    fused = fuse(["x", "y", "z"], ["y", "w"])
    assert max(fused, key=fused.get) == "y" and fused["w"] < fused["x"]
    scores = rerank_scores("battery life of the CX-200", [
        ("Battery life: 12 hours.", "Contoso CX-200", 0.5, 0.03),
        ("Battery recycling rules.", "Recycling", 0.5, 0.03)])
    assert scores[0] > scores[1]


def test_source_index_searches_only_its_embedder_space() -> None:
    docs = [{"id": "1", "text": "refund policy", "title": "", "embedder": "m1", "embedding": [1.0, 0.0]},
            {"id": "2", "text": "shipping times", "title": "", "embedder": "m1", "embedding": [0.0, 1.0]},
            {"id": "3", "text": "refund policy", "title": "", "embedder": "m0", "embedding": [1.0, 0.0, 0.0]}]
    index = SourceIndex.from_documents(1, "m1", docs)
    found = index.candidates(np.asarray([1.0, 0.0], dtype=np.float32), "refund", 5)
    assert [c.chunk["id"] for c in found] == ["1", "2"] and found[0].cosine == pytest.approx(1.0)
    assert "embedding" not in found[0].chunk
    with pytest.raises(ValueError, match="dimensions"):
        index.candidates(np.zeros(3, dtype=np.float32), "refund", 5)
    assert SourceIndex.from_documents(1, "other", docs).candidates(np.zeros(2), "refund", 5) == []


def test_cosmos_hybrid_query_ranks_by_rrf_inside_the_source_partition() -> None:
    record = SourceRecord("contoso", "catalog")
    sql, params = build_hybrid_query(record, np.asarray([0.5, 0.5]), 'Is the "CX-500" in stock?; DROP', 12, "m1")
    assert sql.startswith("SELECT TOP 12 c.id,") and "VectorDistance(c.embedding, @embedding) AS cosine" in sql
    assert 'ORDER BY RANK RRF(VectorDistance(c.embedding, @embedding), FullTextScore(c.text, "cx-500", "stock", ' \
           '"drop"))' in sql
    assert "c.source_key = @source_key AND c.embedder = @embedder" in sql
    assert {p["name"]: p["value"] for p in params}["@source_key"] == "contoso/catalog"
    plain, _ = build_hybrid_query(record, np.asarray([0.5, 0.5]), "???", 5, "m1")
    assert plain.endswith("ORDER BY VectorDistance(c.embedding, @embedding)")
    with pytest.raises(ValueError):
        build_hybrid_query(record, np.zeros(2), "x", 0, "m1")


class _Container:
    """Unit-test stand-in for the Cosmos container client's query_items."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items
        self.calls: list[dict] = []

    def query_items(self, sql: str, parameters: list, partition_key: str):
        self.calls.append({"sql": sql, "partition_key": partition_key})

        async def rows():
            for item in self.items:
                yield dict(item)

        return rows()


async def test_cosmos_search_reads_cosine_and_rank() -> None:
    container = _Container([{"id": "a", "text": "t", "cosine": 0.9}, {"id": "b", "text": "u", "cosine": 0.4}])
    found = await CosmosChunkSearch(container).candidates(SourceRecord("t1", "s"), np.ones(2), "t", 5, "m")
    assert [(c.chunk["id"], c.cosine) for c in found] == [("a", 0.9), ("b", 0.4)] and found[0].fused > found[1].fused
    assert container.calls[0]["partition_key"] == "t1/s"


def test_blob_addresses() -> None:
    address = blob_address("/blobServices/default/containers/grounding/blobs/contoso/faq/help/returns.md")
    assert address is not None and (address.tenant_id, address.source, address.path) == ("contoso", "faq",
                                                                                         "help/returns.md")
    by_url = blob_address("", "http://127.0.0.1:10000/devstoreaccount1/grounding/contoso/faq/a%20b.md")
    assert by_url is not None and by_url.path == "a b.md"
    assert blob_address("/blobServices/default/containers/grounding/blobs/contoso/faq") is None
