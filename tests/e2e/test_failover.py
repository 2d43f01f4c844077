"""Failover through the real HTTP functions: the simulator breaks one deployment, requests still succeed."""

from __future__ import annotations

import time

import httpx2
import openai
import orjson
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "How do I change my delivery address?"}]


def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)


def complete(stack: Stack, model: str = "gpt-4o-mini", **kwargs):
    raw = client(stack).chat.completions.with_raw_response.create(model=model, messages=HELLO, **kwargs)
    return raw, stack.log_record(raw.headers["x-request-id"])


@pytest.mark.parametrize("fault", [
    {"error_rate": 1.0, "error_status": 500},
    {"error_rate": 1.0, "error_status": 503, "retry_after_s": 0},
    {"error_rate": 1.0, "error_status": 429, "retry_after_s": 30},  # a 429 storm with a long Retry-After
])
def test_a_failing_deployment_is_retried_then_failed_over(stack: Stack, fault: dict) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", **fault})
    started = time.monotonic()
    raw, record = complete(stack)
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini-west"
    assert time.monotonic() - started < 2  # the 30 s Retry-After is not waited for: the other region answers
    statuses = [(a["deployment"], a["status"]) for a in record["attempts"]]
    assert statuses[-1] == ("gpt-4o-mini-west", 200)
    assert all(d == "gpt-4o-mini" and s == fault["error_status"] for d, s in statuses[:-1])
    assert record["status"] == 200 and record["deployment"] == "gpt-4o-mini-west"


def test_timeouts_fail_over_within_the_deadline(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "timeout_rate": 1.0, "timeout_s": 3})
    raw, record = complete(stack)
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini-west"
    assert [a["error"] for a in record["attempts"][:-1]] == ["timeout"] * (len(record["attempts"]) - 1)


def test_auto_requests_fail_over_inside_their_pool_then_upgrade(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "error_rate": 1.0, "error_status": 500})
    stack.control("faults", {"deployment": "gpt-4o-mini-west", "error_rate": 1.0, "error_status": 500})
    raw, record = complete(stack, model="auto")
    assert raw.headers["x-llmops-route"].startswith("small;")  # routed small, served by the frontier pool
    assert raw.headers["x-llmops-deployment"] == "gpt-4o" and record["tier"] == "frontier"
    assert [a["deployment"] for a in record["attempts"]][-1] == "gpt-4o"


def test_stream_fails_over_before_its_first_byte(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "error_rate": 1.0, "error_status": 503,
                             "retry_after_s": 0})
    with client(stack).chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=HELLO, stream=True) as response:
        request_id = response.headers["x-request-id"]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text and response.headers["x-llmops-deployment"] == "gpt-4o-mini-west"
    record = stack.log_record(request_id)
    assert record["stream_end"] == "complete" and record["attempts"][-1]["deployment"] == "gpt-4o-mini-west"


def test_stream_cut_after_the_first_byte_is_never_retried(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "stream_cut_rate": 1.0, "stream_cut_after_chunks": 1})
    response = httpx2.post(f"{stack.gateway_url}/api/v1/chat/completions", timeout=10,
                           headers={"authorization": f"Bearer {stack.key}"},
                           content=orjson.dumps({"model": "gpt-4o-mini", "messages": HELLO, "stream": True}))
    assert response.status_code == 200
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert orjson.loads(events[-1])["error"]["code"] == "stream_interrupted"
    record = stack.log_record(response.headers["x-request-id"])
    assert record["status"] == 502 and record["stream_end"] == "upstream_interrupted"
    assert [a["deployment"] for a in record["attempts"]] == ["gpt-4o-mini"]  # no second attempt after bytes
    assert stack.platform.gateway.failover.breakers.get("gpt-4o-mini").failures == 1


def test_content_filter_is_not_retried_or_failed_over(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "content_filter_rate": 1.0})
    with pytest.raises(openai.BadRequestError) as error:
        client(stack).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert error.value.code == "content_filter"
    record = stack.log_record(error.value.response.headers["x-request-id"])
    assert len(record["attempts"]) == 1


def test_breaker_opens_then_a_pool_without_healthy_deployments_is_a_503(stack: Stack) -> None:
    # each deployment sick its own way (the same failure on both would be the request's fault: no breaker)
    stack.control("faults", {"deployment": "gpt-4o-mini", "error_rate": 1.0, "error_status": 500})
    stack.control("faults", {"deployment": "gpt-4o-mini-west", "error_rate": 1.0, "error_status": 502})
    statuses = []
    for _ in range(4):
        try:
            complete(stack)
        except openai.APIStatusError as exc:
            statuses.append((exc.status_code, exc.code))
    assert statuses[0] == (502, "upstream_error")
    assert statuses[-1] == (503, "no_healthy_deployment")  # both breakers open: nothing was called
    breakers = stack.platform.gateway.failover.breakers.states()
    assert breakers["gpt-4o-mini"] == "open" and breakers["gpt-4o-mini-west"] == "open"
    health = httpx2.get(f"{stack.gateway_url}/api/health")  # Why 4: it kept answering "ok"
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert health.json()["breakers"] == {"gpt-4o-mini": "open", "gpt-4o-mini-west": "open"}
    assert health.json()["degraded_pools"]["small"]["out"] == ["gpt-4o-mini", "gpt-4o-mini-west"]
    stack.control("reset", {})
    stack.reset_breakers()
    assert complete(stack)[0].headers["x-llmops-deployment"] == "gpt-4o-mini"


def test_requests_failing_the_same_way_on_every_deployment_open_no_breaker(stack: Stack) -> None:
    """Why 4: three requests that make the backend fail gave every tenant ~10 s of 503s."""
    stack.control("faults", {"deployment": "*", "error_rate": 1.0, "error_status": 500})
    for _ in range(4):
        with pytest.raises(openai.APIStatusError) as failed:
            complete(stack)
        assert failed.value.status_code == 502
    assert set(stack.platform.gateway.failover.breakers.states().values()) <= {"closed"}
    assert httpx2.get(f"{stack.gateway_url}/api/health").json()["status"] == "ok"
    stack.control("reset", {})
    assert complete(stack)[0].headers["x-llmops-deployment"] == "gpt-4o-mini"
