"""The drift monitors as the timer function, run by the local event runtime over the stack's store:
results stored with what moved and example ids, alarms for a shift, "no data" for an idle app."""

from __future__ import annotations

import time

import pytest

from llmops.synthetic_traffic import REFUSAL, Shift, TrafficModel, generate
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
HOUR = 3600.0


def test_the_timer_finds_a_refusal_spike_and_a_topic_shift(stack: Stack) -> None:
    now = time.time()
    split = now - HOUR
    shift = Shift(split, {"refusal_rate": 0.3, "topics": {"billing": 0.3, "travel": 0.7}})
    records, feedback = generate(now - 7 * HOUR, now - 1, model=TrafficModel(requests_per_hour=60),
                                 shifts=(shift,), seed=11, tenant_id="drift-co", app_id="web")

    async def seed() -> None:
        await stack.platform.tenants.ensure_app("drift-co", "web")
        await stack.platform.tenants.ensure_app("drift-co", "idle")
        await stack.platform.tenants.set_policy("drift-co", "web", "monitors", {"topic_drift": {"max_texts": 60},
                                                                              "off": ["ttft_p95"]})
        await stack.platform.store.upsert_many("request_log", records)
        await stack.platform.store.upsert_many("feedback", feedback)

    stack.call(seed())
    stack.call(stack.events.fire_timer("drift_monitors"), timeout=120)
    results = stack.call(stack.platform.store.query("monitor_results", {"tenant_id": "drift-co"}))
    web = {r["monitor"]: r for r in results if r["app_id"] == "web"}
    assert "ttft_p95" not in web  # switched off in the app's policy
    refusal = web["refusal_rate"]
    assert refusal["status"] == "alarm" and refusal["value"] > refusal["reference"]
    ids = {r["id"] for r in records}
    assert refusal["examples"] and set(refusal["examples"]) <= ids and "->" in refusal["moved"]
    topic = web["topic_drift"]  # real embeddings (the local encoder) of the prompts and answers
    assert topic["status"] == "alarm", topic
    novel = [r for r in records if r["id"] in topic["examples"]]  # the new topic, or the new refusals
    assert novel and all(r["topic"] == "travel" or r["transcript"]["completion"] == REFUSAL for r in novel)
    assert web["error_rate"]["status"] == "ok"
    idle = [r for r in results if r["app_id"] == "idle"]
    assert idle and all(r["status"] == "no_data" for r in idle)
