"""The store-backed parts of the prompt registry and of the response cache, against SQLite and the
real Cosmos-API server (``@vercel/cosmosdb-server``) through the ``azure-cosmos`` SDK.

The local Cosmos-API server has no vector search: the Cosmos semantic store's query and documents
are unit-tested (tests/unit/cache/test_cosmos_vectors.py); here its plain document operations run.
The ``store`` fixture (tests/integration/conftest.py) runs each test on both."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from shared.cache.cosmos_vectors import SEMANTIC_CACHE, vector_document
from shared.cache.exact import ExactCache
from shared.cache.keys import CacheScope
from shared.cache.policy import CachePolicy
from shared.cache.semantic_store import SemanticEntry
from shared.cache.service import CacheConfig, CacheRequest, ResponseCache
from shared.prompts.files import parse_prompt_text
from shared.prompts.registry import PromptNotFoundError, PromptRegistry
from shared.store import DocumentStore

pytestmark = pytest.mark.integration


def spec(system: str):
    return parse_prompt_text(
        f"name: faq\ntemplate:\n  - {{role: system, content: '{system}'}}\n  - {{role: user, content: '{{{{ q }}}}'}}\n"
        "variables: {q: string}\n",
        "prompts/faq.yaml",
    )


async def test_registry_versions_labels_split_rollback_audit(store: DocumentStore) -> None:
    registry = PromptRegistry(store)
    [v1] = await registry.push([spec("One.")], actor="ana")
    assert not (await registry.push([spec("One.")], actor="ana"))[0].created  # idempotent
    [v2] = await registry.push([spec("Two.")], actor="ana")
    assert (v1.number, v2.number) == (1, 2)
    assert (await registry.get_version("faq", v2.version[:8])).number == 2
    await registry.move_label("faq", "production", v1.version, actor="ana")
    await registry.move_label("faq", "production", v2.version, weight=30, actor="bo")
    chosen = {(await registry.resolve("faq", ab_key=f"user{i}")).version for i in range(40)}
    assert chosen == {v1.version, v2.version}
    await registry.rollback("faq", "production", actor="cy")
    assert (await registry.resolve("faq")).version == v1.version
    audit = await registry.audit("faq")
    assert [a["action"] for a in audit] == ["rollback", "split", "promote", "push", "push"]
    assert audit[1]["actor"] == "bo" and audit[1]["to"][0] == {"version": v2.version, "weight": 30}
    assert await registry.names() == ["faq"]
    await store.delete("prompts", f"v:{v1.version}", "faq")
    with pytest.raises(PromptNotFoundError, match="points at version"):
        await registry.resolve("faq")


async def test_concurrent_label_moves_all_land_in_the_audit(store: DocumentStore) -> None:
    registry = PromptRegistry(store)
    [v1] = await registry.push([spec("One.")], actor="ana")
    [v2] = await registry.push([spec("Two.")], actor="ana")
    await asyncio.gather(*(registry.move_label("faq", f"l{i}", (v1, v2)[i % 2].version, actor="x") for i in range(6)))
    labels = await registry.labels("faq")
    assert len(labels) == 6
    assert sum(1 for a in await registry.audit("faq") if a["action"] == "promote") == 6


def ask(text: str) -> CacheRequest:
    return CacheRequest.from_body(
        {"model": "m", "temperature": 0, "messages": [{"role": "user", "content": text}]},
        policy=CachePolicy(semantic=False),
    )


async def test_exact_tier_round_trip_ttl_and_invalidation(store: DocumentStore) -> None:
    now = [time.time()]
    cache = ResponseCache(
        CacheConfig(ttl_s=60), ExactCache(store, max_entries=10, clock=lambda: now[0]), clock=lambda: now[0]
    )
    request = ask("What is the returns window?")
    scope = CacheScope.for_request("contoso", "small", "gpt-4o-mini", request.messages, "faq@abc")
    body = {
        "id": "x",
        "model": "gpt-4o-mini",
        "usage": {"total_tokens": 12},
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "30 days."}, "finish_reason": "stop"}],
    }
    assert await cache.lookup(scope, request) is None
    assert await cache.store(scope, request, body)
    # a second process (cold in-process tier) reads it from the store
    other = ResponseCache(
        CacheConfig(ttl_s=60), ExactCache(store, max_entries=10, clock=lambda: now[0]), clock=lambda: now[0]
    )
    hit = await other.lookup(scope, ask("What is the returns window?"))
    assert hit is not None and hit.kind == "hit-exact" and hit.saved_usage == {"total_tokens": 12}
    elsewhere = CacheScope.for_request("fabrikam", "small", "gpt-4o-mini", request.messages, "faq@abc")
    assert await other.lookup(elsewhere, ask("What is the returns window?")) is None
    [doc] = await store.query("response_cache", {"tenant_id": "contoso"})
    assert doc["ttl"] == 60 and doc["prompt_name"] == "faq" and doc["schema"] == 1
    now[0] += 61  # expired (the local Cosmos-API server keeps the item: expiry is checked on read)
    fresh = ResponseCache(
        CacheConfig(ttl_s=60), ExactCache(store, max_entries=10, clock=lambda: now[0]), clock=lambda: now[0]
    )
    assert await fresh.lookup(scope, ask("What is the returns window?")) is None
    assert await cache.invalidate("contoso", prompt_name="faq") == 1
    assert await store.query("response_cache", {"tenant_id": "contoso"}) == []


async def test_semantic_documents_store_in_the_vector_container(store: DocumentStore) -> None:
    entry = SemanticEntry(
        "e1",
        "contoso",
        "scope1",
        "How do I reset my password?",
        np.full(4, 0.5, dtype=np.float32),
        {"choices": [{"index": 0}]},
        time.time() + 30,
        {"deployment": "small", "prompt_name": None},
    )
    doc = vector_document(entry, time.time())
    await store.upsert(SEMANTIC_CACHE, doc)
    [stored] = await store.query(SEMANTIC_CACHE, {"tenant_id": "contoso", "scope": "scope1"})
    assert stored["embedding"] == [0.5] * 4 and stored["question"] == entry.question and stored["ttl"] >= 29
