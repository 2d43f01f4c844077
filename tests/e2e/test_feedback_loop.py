"""The closed loop, end to end through the registered functions and the local event runtime:
feedback in -> curated example -> retrain message -> the pipeline run locally on the tiny model ->
gate -> registered -> canary -> rollback of a degraded canary, promotion of a healthy one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
TOPICS = ["refunds", "shipping to Canada", "the X200 warranty", "resetting a password", "invoice copies",
          "changing an address", "gift cards", "store opening hours", "loyalty points", "order tracking",
          "damaged parcels", "price matching", "student discounts", "battery replacement", "firmware updates",
          "cancelling an order", "international returns", "payment methods", "bulk orders", "data export"]


@pytest.fixture(scope="module")
def loop_stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("loop"),
        canary_share=0.5, canary_min_requests=8, canary_min_duration_s=0, canary_min_feedback=1000,
        gate_quality_tolerance=1.0, gate_guardrail_tolerance=1.0, gate_min_requests=1, training_max_steps=30,
    ) as stack:
        stack.call(stack.platform.tenants.set_policy("contoso", "mobile", "feedback", {
            "retain_transcripts": True, "retrain_after_examples": 10, "validation_share": 0.2}))
        # guardrails off for this app: the transcripts then hold the raw e-mail address, and the test
        # shows that curation's own PII scrubbing keeps it out of the training data
        stack.call(stack.platform.tenants.set_policy("contoso", "mobile", "guardrails", {"enabled": False}))
        yield stack


def ask_and_rate(stack: Stack, client: openai.OpenAI, topics: list[str]) -> None:
    for topic in topics:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Can you explain {topic}? Mail me at "
                                                                        "jane.doe@example.com"}])
        response = httpx2.post(f"{stack.gateway_url}/api/v1/feedback", headers={"authorization": f"Bearer {stack.key}"},
                               json={"request_id": raw.headers["x-request-id"], "rating": 5})
        assert response.status_code == 202, response.text


def wait_for(predicate, timeout_s: float = 240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the loop")


def drive(stack: Stack) -> None:
    """Deliver the feedback change feed and wait until queued work (the retraining run) is done."""
    stack.flush_log()  # curation joins feedback with request records, which are written in batches
    stack.call(stack.events.drain_feed("feedback"), timeout=60)
    stack.call(stack.events.idle(), timeout=300)


def rollout(stack: Stack, rollout_id: str):
    return stack.call(stack.platform.rollouts.get(rollout_id))


def test_feedback_to_canary_rollback_and_promotion(loop_stack: Stack) -> None:
    stack = loop_stack
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)

    # 1. feedback -> curated examples (PII scrubbed) -> one retraining run -> registered -> canary
    ask_and_rate(stack, client, TOPICS[:10])
    drive(stack)
    examples = stack.call(stack.platform.store.query("training_examples", {"dataset_id": "contoso.mobile"}))
    assert len(examples) == 10
    assert all("jane.doe@example.com" not in str(e["messages"]) for e in examples)
    runs = stack.call(stack.platform.store.query("training_runs", {"dataset_id": "contoso.mobile"}))
    assert len(runs) == 1 and runs[0]["status"] == "completed", runs[0].get("error") if runs else "no run"
    assert runs[0]["gate_passed"] is True, runs[0].get("gate")
    first = wait_for(lambda: stack.call(stack.platform.rollouts.live()))
    assert len(first) == 1 and first[0].status == "canary" and first[0].target_alias == "gpt-4o-mini"

    # 2. the canary takes its share of gpt-4o-mini's traffic; it degrades: its requests fail over to
    #    production (users see no error), and the timer rolls it back on its failed attempts
    stack.control("faults", {"deployment": first[0].deployment.deployment, "create": True, "error_rate": 1.0,
                             "error_status": 500})
    for _ in range(40):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
        assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini"
    stack.flush_log()
    canary_records = stack.call(stack.platform.store.query("request_log", {"rollout_id": first[0].id}))
    assert len(canary_records) >= 3  # its circuit breaker then stops diverting to it
    assert all(r["attempts"][0]["deployment"] == first[0].deployment.alias for r in canary_records)
    stack.call(stack.events.fire_timer("canary_evaluator"))
    rolled_back = rollout(stack, first[0].id)
    assert rolled_back.status == "rolled_back" and "error rate" in rolled_back.decisions[-1]["reasons"][0]
    stack.control("reset", {})

    # 3. more feedback -> a second run -> a healthy canary -> promoted: it then serves all of gpt-4o-mini
    ask_and_rate(stack, client, TOPICS[10:])
    drive(stack)
    runs = stack.call(stack.platform.store.query("training_runs", {"dataset_id": "contoso.mobile"},
                                                 order_by="submitted_at"))
    assert len(runs) == 2 and runs[1]["status"] == "completed", runs[-1].get("error")
    second = wait_for(lambda: [r for r in stack.call(stack.platform.rollouts.live()) if r.id != first[0].id])
    assert second[0].status == "canary"
    for _ in range(30):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    stack.flush_log()
    stack.call(stack.events.fire_timer("canary_evaluator"))
    promoted = rollout(stack, second[0].id)
    assert promoted.status == "promoted" and promoted.share == 1.0
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "after promotion"}])
    assert raw.headers["x-llmops-deployment"] == promoted.deployment.alias
