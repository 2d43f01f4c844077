"""ResponseCache behaviour: hits, misses, scoping, determinism, bypass, TTL, bounds, invalidation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.cache.exact import ExactCache
from shared.cache.keys import CacheScope
from shared.cache.policy import CachePolicy
from shared.cache.semantic_store import InProcessSemanticStore
from shared.cache.service import CacheConfig, CacheRequest, ResponseCache
from shared.store.sqlite import SqliteDocumentStore
from tests.unit.cache.conftest import BagOfWordsEmbedder, Clock, KeywordVerifier, response

SYSTEM = {"role": "system", "content": "You are the Contoso assistant."}


def ask(text: str, *, policy: CachePolicy | None = None, cache_control: str | None = None, **params) -> CacheRequest:
    body = {"model": "small", "temperature": 0, "messages": [SYSTEM, {"role": "user", "content": text}], **params}
    return CacheRequest.from_body(body, policy=policy or CachePolicy(), cache_control=cache_control)


def scope_for(request: CacheRequest, tenant: str = "contoso", model: str = "gpt-4o-mini-0718", prompt=None):
    return CacheScope.for_request(tenant, "small", model, request.messages, prompt)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cache(tmp_path: Path, clock: Clock) -> AsyncIterator[ResponseCache]:
    store = SqliteDocumentStore(tmp_path / "cache.sqlite3")
    await store.open()
    cache = ResponseCache(
        CacheConfig(enabled=True, ttl_s=600, semantic_threshold=0.5, candidate_floor=0.6),
        ExactCache(store, max_entries=100, clock=clock),
        InProcessSemanticStore(max_entries=100, clock=clock),
        BagOfWordsEmbedder(),
        KeywordVerifier(),
        clock=clock,
    )
    try:
        yield cache
    finally:
        await cache.close()
        await store.close()


async def remember(cache: ResponseCache, text: str, answer: str, **kwargs) -> None:
    request = ask(text)
    scope = scope_for(request, **kwargs)
    assert await cache.lookup(scope, request) is None and request.status == "miss"
    assert await cache.store(scope, request, response(answer))


async def test_exact_hit_returns_stored_answer_at_zero_cost(cache: ResponseCache) -> None:
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    request = ask("How do I reset my password?")
    hit = await cache.lookup(scope_for(request), request)
    assert hit is not None and hit.kind == "hit-exact" and hit.header == "hit-exact"
    assert hit.response["choices"][0]["message"]["content"] == "Use the reset link."
    assert hit.response["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert hit.response["id"] != "chatcmpl-origin" and hit.saved_usage["total_tokens"] == 30
    assert hit.record["saved_tokens"] == 30 and request.status == "hit-exact"


async def test_exact_hit_survives_a_restart_through_the_store(cache: ResponseCache, clock: Clock) -> None:
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    fresh = ResponseCache(cache.config, ExactCache(cache.exact.store, max_entries=10, clock=clock), clock=clock)
    request = ask("How do I reset my password?")
    hit = await fresh.lookup(scope_for(request), request)
    assert hit is not None and hit.kind == "hit-exact"


async def test_semantic_hit_and_verifier_rejection(cache: ResponseCache) -> None:
    await remember(cache, "How can I learn Python?", "Start with the tutorial.")
    paraphrase = ask("how can i learn python")
    hit = await cache.lookup(scope_for(paraphrase), paraphrase)
    assert hit is not None and hit.kind == "hit-semantic" and hit.matched_question == "How can I learn Python?"
    assert hit.similarity == pytest.approx(0.99) and hit.cosine is not None and hit.cosine >= 0.6
    different = ask("How can I learn Java?")  # close in vector space, rejected by the verifier
    assert await cache.lookup(scope_for(different), different) is None and different.status == "miss"


async def test_scoping_never_crosses_tenant_model_prompt_or_system(cache: ResponseCache) -> None:
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    request = ask("How do I reset my password?")
    for scope in (
        scope_for(request, tenant="fabrikam"),
        scope_for(request, model="gpt-4o-mini-2025"),
        scope_for(request, prompt="faq@abc"),
    ):
        assert await cache.lookup(scope, ask("How do I reset my password?")) is None
    pirate = CacheRequest.from_body(
        {
            "model": "small",
            "temperature": 0,
            "messages": [
                {"role": "system", "content": "Talk like a pirate."},
                {"role": "user", "content": "How do I reset my password?"},
            ],
        },
        policy=CachePolicy(),
    )
    assert await cache.lookup(scope_for(pirate), pirate) is None
    longer = ask("How do I reset my password?", max_tokens=5)
    assert await cache.lookup(scope_for(longer), longer) is None


async def test_nondeterministic_requests_need_an_opt_in(cache: ResponseCache) -> None:
    hot = ask("Tell me a joke", temperature=0.9)
    assert await cache.lookup(scope_for(hot), hot) is None and hot.status == "not-cacheable"
    assert not await cache.store(scope_for(hot), hot, response("A joke."))
    opted = ask("Tell me a joke", temperature=0.9, policy=CachePolicy(allow_nondeterministic=True))
    assert await cache.lookup(scope_for(opted), opted) is None and opted.status == "miss"
    assert await cache.store(scope_for(opted), opted, response("A joke."))
    again = ask("Tell me a joke", temperature=0.9, policy=CachePolicy(allow_nondeterministic=True))
    assert (await cache.lookup(scope_for(again), again)).kind == "hit-exact"


async def test_cache_control_and_policy_switches(cache: ResponseCache) -> None:
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    bypass = ask("How do I reset my password?", cache_control="no-cache")
    assert await cache.lookup(scope_for(bypass), bypass) is None and bypass.status == "bypass"
    assert await cache.store(scope_for(bypass), bypass, response("Newer answer."))  # refreshed
    fresh = ask("How do I reset my password?")
    assert (await cache.lookup(scope_for(fresh), fresh)).response["choices"][0]["message"]["content"] == "Newer answer."
    no_store = ask("How do I reset my password?", cache_control="no-store")
    assert await cache.lookup(scope_for(no_store), no_store) is None
    assert not await cache.store(scope_for(no_store), no_store, response("x"))
    off = ask("How do I reset my password?", policy=CachePolicy(enabled=False))
    assert await cache.lookup(scope_for(off), off) is None and off.status == "off"
    exact_only = ask("how do i reset my password", policy=CachePolicy(semantic=False))
    assert await cache.lookup(scope_for(exact_only), exact_only) is None


async def test_multi_turn_is_semantic_only_when_opted_in(cache: ResponseCache) -> None:
    for plan, policy, expected in (
        ("A", CachePolicy(), None),
        ("B", CachePolicy(semantic_multi_turn=True), "hit-semantic"),
    ):
        convo = [
            SYSTEM,
            {"role": "user", "content": f"I have plan {plan}."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "How do I upgrade my plan?"},
        ]
        first = CacheRequest.from_body({"model": "s", "temperature": 0, "messages": convo}, policy=policy)
        scope = scope_for(first)
        await cache.lookup(scope, first)
        await cache.store(scope, first, response("Go to billing."))
        reworded = [*convo[:-1], {"role": "user", "content": "how do i upgrade my plan"}]
        second = CacheRequest.from_body({"model": "s", "temperature": 0, "messages": reworded}, policy=policy)
        hit = await cache.lookup(scope_for(second), second)
        assert (hit.kind if hit else None) == expected


async def test_ttl_expiry(cache: ResponseCache, clock: Clock) -> None:
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    clock.now += 601
    exact = ask("How do I reset my password?")
    assert await cache.lookup(scope_for(exact), exact) is None
    policy = CachePolicy(ttl_s=5)
    short = ask("What are your opening hours?", policy=policy)
    await cache.lookup(scope_for(short), short)
    await cache.store(scope_for(short), short, response("9 to 5."))
    clock.now += 6
    again = ask("what are your opening hours", policy=policy)
    assert await cache.lookup(scope_for(again), again) is None


async def test_unfinished_or_filtered_answers_are_not_stored(cache: ResponseCache) -> None:
    for finish in ("content_filter", None):
        request = ask(f"Question ending {finish}")
        await cache.lookup(scope_for(request), request)
        assert not await cache.store(scope_for(request), request, response("cut", finish=finish))
    request = ask("Empty")
    assert not await cache.store(scope_for(request), request, {"choices": []})


async def test_size_bounds_evict_oldest(tmp_path: Path, clock: Clock) -> None:
    semantic = InProcessSemanticStore(max_entries=3, clock=clock)
    cache = ResponseCache(
        CacheConfig(candidate_floor=0.6, semantic_threshold=0.5),
        ExactCache(None, max_entries=3, clock=clock),
        semantic,
        BagOfWordsEmbedder(),
        clock=clock,
    )
    topics = ["refund policy", "opening hours", "password reset", "delivery times", "gift cards"]
    for topic in topics:
        request = ask(topic)
        await cache.lookup(scope_for(request), request)
        assert await cache.store(scope_for(request), request, response(f"About {topic}."))
    assert len(cache.exact) == 3 and len(semantic) == 3
    oldest = ask("refund policy")
    assert await cache.lookup(scope_for(oldest), oldest) is None
    newest = ask("gift cards")
    assert (await cache.lookup(scope_for(newest), newest)).kind == "hit-exact"
    await cache.close()


async def test_in_process_tiers_are_bounded_in_bytes_not_only_entries(clock: Clock) -> None:
    """Why 6: the cache was bounded by entry count only (+28 MB per 3,000 entries, 1-2 GB at the cap)."""
    semantic = InProcessSemanticStore(max_entries=100_000, max_bytes=200_000, clock=clock)
    cache = ResponseCache(
        CacheConfig(candidate_floor=0.6, semantic_threshold=0.5),
        ExactCache(None, max_entries=100_000, max_bytes=200_000, clock=clock),
        semantic,
        BagOfWordsEmbedder(),
        clock=clock,
    )
    for n in range(60):  # 60 answers of ~10 KB each: 600 KB offered to 200 KB tiers
        request = ask(" ".join(f"w{n}x{i}" for i in range(5)))  # no two questions share a word
        await cache.lookup(scope_for(request), request)
        assert await cache.store(scope_for(request), request, response(f"Answer {n}. " + "x" * 10_000))
    assert cache.exact.bytes <= 200_000 and semantic.bytes <= 200_000
    assert 10 <= len(cache.exact) < 20 and 5 <= len(semantic) < 20
    newest = ask(" ".join(f"w59x{i}" for i in range(5)))
    assert (await cache.lookup(scope_for(newest), newest)).kind == "hit-exact"
    await cache.close()


async def test_invalidate_by_prompt(cache: ResponseCache) -> None:
    request = ask("How do I reset my password?")
    scope = scope_for(request, prompt="faq@abc")
    await cache.lookup(scope, request)
    await cache.store(scope, request, response("Use the link."))
    assert await cache.invalidate("contoso", prompt_name="faq") == 2  # exact + semantic
    again = ask("How do I reset my password?")
    assert await cache.lookup(scope_for(again, prompt="faq@abc"), again) is None


async def test_old_schema_and_broken_entries_are_ignored(cache: ResponseCache) -> None:
    await remember(cache, "How do I reset my password?", "Use the reset link.")
    store = cache.exact.store
    [doc] = await store.query("response_cache", {"tenant_id": "contoso"})
    fresh = ResponseCache(cache.config, ExactCache(store, max_entries=10, clock=cache._clock), clock=cache._clock)
    for broken in (
        {**doc, "schema": 0},
        {**doc, "response": "text"},
        {**doc, "expires_at": "soon"},
        {**doc, "response": {"choices": []}},
    ):
        await store.upsert("response_cache", broken)
        request = ask("How do I reset my password?")
        assert await fresh.lookup(scope_for(request), request) is None


async def test_embedding_is_computed_once_per_request(cache: ResponseCache) -> None:
    request = ask("A brand new question?")
    await cache.lookup(scope_for(request), request)
    await cache.store(scope_for(request), request, response("An answer."))
    assert cache.embedder.calls == 1
