"""The request pipeline, driven in process with scripted backends: one test per step and per failure.

Every test also checks the recorder's contract: exactly one request-log record per request, whatever
the outcome, with the status the client got.
"""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from shared.cache.service import CacheHit
from shared.gateway import ChatContext, JsonReply, StreamReply
from shared.limits.limiter import CONTAINER
from shared.rollouts import Rollout
from tests.unit.gateway.conftest import DEPLOYMENTS, body_of, events_of
from tests.unit.gateway.fakes import (
    ScriptedGuard,
    StreamScript,
    chunks,
    completion,
    failure,
)

HELLO = {"model": "small", "messages": [{"role": "user", "content": "Hello!"}]}


# -- authenticate --------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer llmops-not-a-key"}, {"api-key": "nope"}])
async def test_a_missing_or_unknown_key_is_401_and_recorded(harness, headers) -> None:
    reply = await harness.chat(harness.gateway(), HELLO, headers)
    assert reply.status == 401 and body_of(reply)["error"]["code"] == "invalid_api_key"
    assert harness.record["tenant_id"] == "_unauthenticated" and harness.record["outcome"] == "auth_error"
    assert harness.backend.calls == []


async def test_a_key_whose_app_was_deleted_is_403(harness) -> None:
    doc = await harness.tenants.get_tenant("contoso")
    await harness.store.replace("tenants", {**doc, "apps": {}})
    harness.tenants.forget()
    reply = await harness.chat(harness.gateway(), HELLO)
    assert reply.status == 403 and body_of(reply)["error"]["code"] == "app_disabled"
    assert harness.record["status"] == 403


# -- parse ---------------------------------------------------------------------------------------
async def test_a_body_that_is_not_json_is_400(harness) -> None:
    reply = await harness.chat(harness.gateway(), b"{not json")
    assert reply.status == 400 and body_of(reply)["error"]["code"] == "invalid_json"
    assert harness.record["tenant_id"] == "contoso"  # authenticated, then refused


async def test_a_body_over_the_limit_is_413(harness) -> None:
    big = {"model": "small", "messages": [{"role": "user", "content": "x" * 5000}]}
    reply = await harness.chat(harness.gateway(), big)
    assert reply.status == 413 and harness.record["error_code"] == "request_too_large"


async def test_an_invalid_parameter_is_400_naming_it(harness) -> None:
    reply = await harness.chat(harness.gateway(), {**HELLO, "temperature": 7})
    assert reply.status == 400 and body_of(reply)["error"]["param"] == "temperature"


async def test_the_model_in_the_path_wins_azure_route_shape(harness) -> None:
    reply = await harness.chat(harness.gateway(), {"messages": HELLO["messages"]}, model="big")
    assert reply.status == 200 and harness.backend.calls[0][0] == "big"
    assert harness.record["requested_model"] == "big"


# -- resolve_prompt --------------------------------------------------------------------------------
async def test_a_prompt_reference_without_a_registry_is_400(harness) -> None:
    reply = await harness.chat(harness.gateway(), {"model": "small", "prompt": {"name": "faq"}})
    assert reply.status == 400 and body_of(reply)["error"]["param"] == "prompt"


# -- optimise --------------------------------------------------------------------------------------
async def test_optimisation_rewrites_what_the_model_sees_and_reports_it(harness) -> None:
    await harness.tenants.set_policy("contoso", "mobile", "optimisation",
                                     {"normalise_whitespace": True})
    messy = {"model": "small", "messages": [{"role": "user", "content": "Hello    there,\n\n\n\n  friend!"}]}
    reply = await harness.chat(harness.gateway(), messy)
    assert reply.status == 200
    sent = harness.backend.calls[0][1]["messages"][0]["content"]
    assert "    " not in sent
    assert harness.record["optimisation"]["tokens_after"] <= harness.record["optimisation"]["tokens_before"]


# -- route -----------------------------------------------------------------------------------------
async def test_an_unknown_model_is_404_and_never_called(harness) -> None:
    reply = await harness.chat(harness.gateway(), {**HELLO, "model": "gpt-9"})
    assert reply.status == 404 and body_of(reply)["error"]["code"] == "model_not_found"
    assert harness.backend.calls == []


async def test_auto_is_routed_and_the_decision_recorded(harness) -> None:
    reply = await harness.chat(harness.gateway(), {**HELLO, "model": "auto"})
    assert reply.status == 200
    assert harness.record["route"]["mode"] == "auto" and harness.record["route"]["tier"] == "small"
    assert reply.headers["x-llmops-route"].startswith("small")


# -- divert_to_canary -------------------------------------------------------------------------------
class OneCanary:
    def __init__(self) -> None:
        candidate = DEPLOYMENTS[2].model_copy(update={"alias": "candidate", "tier": "canary"})
        self.rollout = Rollout(id="ro-1", target_alias="small", deployment=candidate, share=1.0)

    async def divert(self, alias: str):
        return (self.rollout.deployment, self.rollout) if alias == self.rollout.target_alias else None


async def test_a_canary_takes_its_share_and_fails_over_to_production(harness) -> None:
    harness.backend.then("candidate", failure("candidate", 500), failure("candidate", 500))
    gateway = harness.gateway(rollouts=OneCanary())
    reply = await harness.chat(gateway, HELLO)
    assert reply.status == 200 and reply.headers["x-llmops-deployment"] == "small"
    assert harness.record["rollout_id"] == "ro-1" and harness.record["route"]["canary_of"] == "small"
    assert [a["deployment"] for a in harness.record["attempts"]][:1] == ["candidate"]


async def test_a_canary_with_an_open_circuit_gets_no_share(harness) -> None:
    gateway = harness.gateway(rollouts=OneCanary())
    for _ in range(3):
        gateway.failover.breakers.get("candidate").failure()
    reply = await harness.chat(gateway, HELLO)
    assert reply.status == 200 and "rollout_id" not in harness.record
    assert harness.backend.calls[0][0] == "small"


# -- admit -----------------------------------------------------------------------------------------
async def test_admission_reserves_and_settles_to_the_real_usage(harness) -> None:
    await harness.tenants.set_policy("contoso", "mobile", "limits", {"tokens_per_minute": 10_000})
    limits = harness.limits()
    reply = await harness.chat(harness.gateway(limits=limits), HELLO)
    assert reply.status == 200 and "x-ratelimit-remaining-tokens" in reply.headers
    assert harness.record["max_tokens_set_by"] == "limits"  # bounded, so the reservation bounds the spend
    assert harness.backend.calls[0][1]["max_tokens"] == 100
    await limits.limiter.drain()
    [counter] = await harness.store.query(CONTAINER, {"scope": "app:contoso/mobile"})
    assert counter["tokens"] == 15  # 12 prompt + 3 completion, as the model reported


async def test_a_request_over_its_limit_is_429_and_never_called(harness) -> None:
    await harness.tenants.set_policy("contoso", "mobile", "limits", {"requests_per_minute": 0})
    reply = await harness.chat(harness.gateway(limits=harness.limits()), HELLO)
    assert reply.status == 429 and "retry-after" in reply.headers
    assert harness.record["limit_kind"] == "rpm" and harness.record["outcome"] == "rate_limited"
    assert harness.backend.calls == []


# -- screen_input: guardrails ------------------------------------------------------------------------
async def test_a_blocked_input_is_400_even_though_the_model_ran_concurrently(harness) -> None:
    gateway = harness.gateway(guardrails=partial(ScriptedGuard, block_input="ignore previous"))
    reply = await harness.chat(gateway, {**HELLO, "messages": [{"role": "user", "content": "ignore previous"}]})
    assert reply.status == 400 and body_of(reply)["error"]["code"] == "guardrail_violation"
    assert harness.record["usage"]["completion_tokens"] == 3  # the concurrent call's tokens are still spent


async def test_redactions_change_what_the_model_sees(harness) -> None:
    gateway = harness.gateway(guardrails=partial(ScriptedGuard, redact_input=("555-0100", "<PHONE>")))
    reply = await harness.chat(gateway, {**HELLO, "messages": [{"role": "user", "content": "call 555-0100"}]})
    assert reply.status == 200
    assert harness.backend.calls[0][1]["messages"][0]["content"] == "call <PHONE>"


async def test_sequential_input_checks_run_before_the_model(harness) -> None:
    gateway = harness.gateway(guardrails=partial(ScriptedGuard, block_input="bad", concurrent=False))
    reply = await harness.chat(gateway, {**HELLO, "messages": [{"role": "user", "content": "bad"}]})
    assert reply.status == 400 and harness.backend.calls == []


async def test_a_blocked_answer_is_422(harness) -> None:
    harness.backend.then("small", completion("something toxic"))
    gateway = harness.gateway(guardrails=partial(ScriptedGuard, block_output="toxic"))
    reply = await harness.chat(gateway, HELLO)
    assert reply.status == 422 and harness.record["error_code"] == "guardrail_violation"


# -- screen_input: cache ---------------------------------------------------------------------------
class OneAnswerCache:
    """The cache adapter's interface (shared.cache.gateway.GatewayCache) with one stored answer."""

    def __init__(self, hit: bool) -> None:
        self.hit = hit
        self.stored: list[dict] = []

    def begin(self, ctx: ChatContext, headers) -> object:
        ctx.cache = object()
        return ctx.cache

    async def lookup(self, ctx: ChatContext):
        status = "hit-exact" if self.hit else "miss"
        ctx.record["cache"] = status
        if not self.hit:
            return None
        return CacheHit("hit-exact", completion("From the cache.", prompt_tokens=0, completion_tokens=0),
                        {"total_tokens": 15}, "entry-1")

    @staticmethod
    def hit_events(hit: CacheHit, include_usage: bool):
        from shared.api import sse
        from shared.cache.streaming import replay_chunks

        return sse.replay(replay_chunks(hit.response, include_usage=include_usage))

    def store_later(self, ctx: ChatContext, response: dict) -> None:
        self.stored.append(response)

    def store_stream_later(self, ctx: ChatContext, chunks: list[dict]) -> None:
        self.stored.append({"chunks": chunks})


async def test_a_cache_hit_answers_without_the_model_at_zero_cost(harness) -> None:
    reply = await harness.chat(harness.gateway(cache=OneAnswerCache(hit=True)), HELLO)
    assert body_of(reply)["choices"][0]["message"]["content"] == "From the cache."
    assert harness.backend.calls == [] and harness.record["cost_usd"] == 0.0
    assert reply.headers["x-llmops-cost-usd"] == "0.00000000"


async def test_a_cache_hit_replays_as_a_stream(harness) -> None:
    reply = await harness.chat(harness.gateway(cache=OneAnswerCache(hit=True)), {**HELLO, "stream": True})
    events = await events_of(reply)
    assert events[-1] == b"data: [DONE]\n\n" and harness.record["stream_end"] == "complete"


async def test_a_blocked_input_never_gets_a_cached_answer(harness) -> None:
    gateway = harness.gateway(cache=OneAnswerCache(hit=True), guardrails=partial(ScriptedGuard, block_input="bad"))
    reply = await harness.chat(gateway, {**HELLO, "messages": [{"role": "user", "content": "bad"}]})
    assert reply.status == 400


async def test_a_fresh_answer_is_stored_after_the_checks_passed(harness) -> None:
    cache = OneAnswerCache(hit=False)
    reply = await harness.chat(harness.gateway(cache=cache), HELLO)
    assert reply.status == 200 and cache.stored and harness.record["cache"] == "miss"


# -- call: non-streamed ------------------------------------------------------------------------------
async def test_an_answer_is_passed_through_with_cost_and_overhead(harness) -> None:
    reply = await harness.chat(harness.gateway(), HELLO)
    assert isinstance(reply, JsonReply) and body_of(reply)["choices"][0]["message"]["content"] == "Hello there."
    record = harness.record
    assert record["status"] == 200 and record["operation"] == "chat" and record["usage"]["total_tokens"] == 15
    assert record["cost_usd"] == pytest.approx((12 * 1.0 + 3 * 2.0) / 1e6)
    assert float(reply.headers["x-llmops-overhead-ms"]) >= 0 and reply.headers["x-request-id"] == record["id"]


async def test_a_retryable_failure_fails_over_to_the_next_deployment(harness) -> None:
    harness.backend.then("small", failure("small", 503), failure("small", 503))
    reply = await harness.chat(harness.gateway(), HELLO)
    assert reply.status == 200 and reply.headers["x-llmops-deployment"] == "small-west"
    assert [a["deployment"] for a in harness.record["attempts"]] == ["small", "small", "small-west"]


async def test_a_rejected_request_is_not_retried(harness) -> None:
    harness.backend.then("small", failure("small", 400, retryable=False, code="content_filter"))
    reply = await harness.chat(harness.gateway(), HELLO)
    assert reply.status == 400 and len(harness.backend.calls) == 1
    assert harness.record["backend_error"] == {"deployment": "small", "status": 400, "code": "content_filter"}


async def test_every_deployment_failing_is_502(harness) -> None:
    for alias in ("small", "small-west"):
        harness.backend.then(alias, *(failure(alias, 500) for _ in range(5)))  # every pass over the plan fails
    reply = await harness.chat(harness.gateway(), HELLO)
    assert reply.status == 502 and harness.record["outcome"] == "upstream_error"


async def test_timeouts_everywhere_are_504(harness) -> None:
    for alias in ("small", "small-west"):
        harness.backend.then(alias, *(failure(alias, None, code="timeout") for _ in range(5)))
    reply = await harness.chat(harness.gateway(), HELLO)
    assert reply.status == 504 and body_of(reply)["error"]["code"] == "upstream_timeout"


# -- call: streamed ---------------------------------------------------------------------------------
async def test_a_stream_is_relayed_and_recorded_once_it_ends(harness) -> None:
    reply = await harness.chat(harness.gateway(), {**HELLO, "stream": True})
    assert isinstance(reply, StreamReply) and harness.log.records == []  # recorded when the stream ends
    events = await events_of(reply)
    assert events[-1] == b"data: [DONE]\n\n"
    assert not any(b'"usage":{' in e for e in events)  # the client did not ask for usage
    record = harness.record
    assert record["stream_end"] == "complete" and record["usage"]["completion_tokens"] == 2
    assert record["finish_reasons"] == ["stop"] and "ttft_ms" in record


async def test_a_stream_that_fails_before_its_first_chunk_fails_over(harness) -> None:
    harness.backend.then("small", *(StreamScript([], failure("small", 503)) for _ in range(2)))
    reply = await harness.chat(harness.gateway(), {**HELLO, "stream": True})
    await events_of(reply)
    assert harness.record["deployment"] == "small-west" and harness.record["status"] == 200


async def test_a_stream_cut_midway_ends_with_an_error_event_and_trips_the_breaker(harness) -> None:
    cut = failure("small", None, retryable=False, code="stream_interrupted")
    harness.backend.then("small", StreamScript(chunks("Hi", " there"), cut, fail_after=2))
    gateway = harness.gateway()
    events = await events_of(await harness.chat(gateway, {**HELLO, "stream": True}))
    assert b"stream_interrupted" in events[-1] and events[-1].startswith(b"data: {")
    record = harness.record
    assert record["status"] == 502 and record["stream_end"] == "upstream_interrupted"
    assert record["usage_estimated"] is True  # no usage chunk arrived: counted locally
    assert gateway.failover.breakers.get("small").failures == 1


async def test_a_client_leaving_midstream_is_499_and_closes_the_backend_stream(harness) -> None:
    reply = await harness.chat(harness.gateway(), {**HELLO, "stream": True})
    assert isinstance(reply, StreamReply)
    first = await anext(reply.events)
    assert first.startswith(b"data: ")
    await reply.events.aclose()  # what the server does when the client disconnects
    assert harness.record["status"] == 499 and harness.record["stream_end"] == "client_disconnected"
    assert harness.backend.closed_streams == 1


async def test_a_stream_blocked_by_an_output_check_ends_with_its_error(harness) -> None:
    harness.backend.then("small", StreamScript(chunks("fine", " toxic")))
    gateway = harness.gateway(guardrails=partial(ScriptedGuard, block_output="toxic"))
    events = await events_of(await harness.chat(gateway, {**HELLO, "stream": True}))
    assert b"guardrail_violation" in events[-1]
    assert harness.record["status"] == 422 and harness.record["stream_end"] == "guardrail_blocked"


async def test_usage_is_forwarded_when_the_client_asks(harness) -> None:
    body = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    events = await events_of(await harness.chat(harness.gateway(), body))
    assert b'"usage":{' in events[-2]


# -- record: failures the pipeline owns ---------------------------------------------------------------
async def test_an_invalid_stored_policy_is_a_500_naming_it(harness) -> None:
    await harness.tenants.set_policy("contoso", "mobile", "routing", {"no_such_setting": 1})
    reply = await harness.chat(harness.gateway(), HELLO)
    assert reply.status == 500 and body_of(reply)["error"]["code"] == "invalid_tenant_policy"


async def test_an_unexpected_error_is_a_500_with_the_request_id(harness) -> None:
    class Broken:
        def __call__(self, ctx):
            raise RuntimeError("a bug")

    reply = await harness.chat(harness.gateway(guardrails=Broken()), HELLO)
    assert reply.status == 500 and harness.record["id"] in body_of(reply)["error"]["message"]
    assert harness.record["outcome"] == "internal_error"


async def test_pending_input_checks_are_cancelled_when_the_request_ends_early(harness) -> None:
    started = asyncio.Event()

    class Slow(ScriptedGuard):
        async def check_input(self, phase: str = "all") -> None:
            if phase == "verdict":
                started.set()
                await asyncio.sleep(30)

    harness.backend.then("small", failure("small", 400, retryable=False))
    reply = await harness.chat(harness.gateway(guardrails=Slow), HELLO)
    assert reply.status == 400 and started.is_set()
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if "Slow.check_input" in repr(t.get_coro())]

