"""Grounding sources on the real stores (SQLite and the Cosmos DB API server) with the real local
embedder (all-MiniLM-L6-v2): incremental sync by content hash, parse errors that keep the rest,
hybrid retrieval with citations, tenant scoping, removal."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from shared.embeddings.port import LocalEmbedder
from shared.grounding.search import LocalChunkSearch
from shared.grounding.service import GroundingService
from shared.grounding.sources import CHUNKS, SourceNotFoundError
from shared.store import DocumentStore, Filter

pytestmark = pytest.mark.integration

CATALOG = {"products": [
    {"id": "cx-200", "name": "Contoso CX-200", "price": 199.0, "currency": "USD", "availability": "in_stock",
     "specs": {"battery life": "12 hours", "weight": "1.2 kg"}},
    {"id": "cx-500", "name": "Contoso CX-500", "price": 499.0, "currency": "USD", "availability": "out_of_stock",
     "specs": {"battery life": "18 hours"}},
    {"id": "soundbar-s1", "name": "Contoso Soundbar S1", "price": 149.99, "availability": "discontinued"},
]}
FAQ = """# Returns

You can return any product within 30 days of delivery for a full refund.

## Damaged items

If an item arrives damaged, send us a photo and we ship a replacement at no cost.

# Shipping

Orders ship within two business days. Express delivery takes one day in most cities.
"""


class CountingEmbedder:
    """The real local embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.texts = 0

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return await self.inner.embed(texts)

    async def close(self) -> None:
        return None


@pytest.fixture(scope="module")
def local_embedder() -> LocalEmbedder:
    return LocalEmbedder()


async def test_sync_retrieve_resync_and_remove(store: DocumentStore, local_embedder: LocalEmbedder) -> None:
    embedder = CountingEmbedder(local_embedder)
    grounding = GroundingService(store, embedder, LocalChunkSearch(store), record_ttl_s=0)
    await grounding.add("contoso", "support", description="catalog and FAQ")
    files = {"catalog.json": json.dumps(CATALOG, indent=2).encode(), "faq.md": FAQ.encode()}
    report = await grounding.sync_files("contoso", "support", files)
    assert {f.path: f.status for f in report.files} == {"catalog.json": "added", "faq.md": "added"}
    assert report.revision == 1 and embedder.texts == 3 + 3

    passages = await grounding.retrieve("contoso", ["support"], "Is the CX-500 in stock?", top_k=2)
    assert passages[0].id and passages[0].title == "Contoso CX-500" and passages[0].product["availability"] == \
        "out_of_stock"
    assert passages[0].location.startswith("catalog.json#L")
    refund = await grounding.retrieve("contoso", ["support"], "my parcel came broken, what can I do?", top_k=1)
    assert refund[0].title == "Returns > Damaged items" and refund[0].location == "faq.md#L7"

    before = embedder.texts  # each retrieval embeds its question
    unchanged = await grounding.sync_files("contoso", "support", files)
    assert {f.status for f in unchanged.files} == {"unchanged"} and unchanged.revision == 1
    assert embedder.texts == before

    edited = FAQ.replace("two business days", "one business day")
    bad_catalog = b'{"products": [\n  {"id": "x", "name": "X", "price": "free"}\n]}'
    report = await grounding.sync_files("contoso", "support", {"faq.md": edited.encode(), "catalog.json": bad_catalog})
    by_path = {f.path: f for f in report.files}
    assert by_path["catalog.json"].status == "failed" and by_path["catalog.json"].error.startswith("catalog.json:2: ")
    assert by_path["faq.md"].status == "updated" and by_path["faq.md"].embedded == 1  # only the edited section
    assert embedder.texts == before + 1 and report.revision == 2
    record = await grounding.registry.require("contoso", "support")
    assert record.errors == {"catalog.json": by_path["catalog.json"].error} and record.files["catalog.json"].chunks == 3
    still = await grounding.retrieve("contoso", ["support"], "How much does the Soundbar S1 cost?", top_k=1)
    assert still[0].title == "Contoso Soundbar S1"  # the last good catalog is still served
    shipping = await grounding.retrieve("contoso", ["support"], "how fast do orders ship", top_k=1)
    assert "one business day" in shipping[0].text

    with pytest.raises(SourceNotFoundError):
        await grounding.retrieve("fabrikam", ["support"], "Is the CX-500 in stock?")
    await grounding.add("fabrikam", "support")
    assert await grounding.retrieve("fabrikam", ["support"], "Is the CX-500 in stock?") == []

    pruned = await grounding.sync_files("contoso", "support", {"faq.md": edited.encode()}, prune=True)
    assert [(f.path, f.status, f.deleted) for f in pruned.files if f.status == "removed"] == [("catalog.json",
                                                                                              "removed", 3)]
    assert not [p for p in await grounding.retrieve("contoso", ["support"], "CX-500 price", top_k=5) if p.product]
    deleted = await grounding.remove("contoso", "support")
    assert deleted == 3
    assert await store.query(CHUNKS, [Filter("source_key", "=", "contoso/support")]) == []
    assert [r.name for r in await grounding.sources()] == ["support"]  # fabrikam's own is untouched
    await grounding.close()
