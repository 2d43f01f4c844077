"""Canary rollouts: traffic share, the promote/rollback judgement on live signals, decisions recorded."""

from __future__ import annotations

import random
import time

import pytest

from shared.deployments import Deployment
from shared.rollouts import (
    CanaryJudge,
    Rollout,
    RolloutPolicy,
    RolloutRouter,
    RolloutStore,
    Signals,
    judge,
    signals_of,
)
from shared.store.sqlite import SqliteDocumentStore

CANDIDATE = Deployment(alias="ft-crm-1", endpoint="http://127.0.0.1:1/v1", deployment="crm-lora-1", model="ft",
                       tier="canary", api_style="openai", auth="key", api_key="k")
POLICY = RolloutPolicy(share=0.1, min_requests=20, min_duration_s=0, min_feedback=3)


def test_judge_waits_promotes_and_rolls_back() -> None:
    healthy = Signals(requests=100, error_rate=0.01, p95_latency_ms=800, guardrail_rate=0.0, feedback=10,
                      feedback_score=0.8)
    assert judge(Signals(requests=5), healthy, POLICY, 10).action == "wait"
    promote = judge(Signals(requests=25, error_rate=0.0, p95_latency_ms=700, feedback=4, feedback_score=0.85),
                    healthy, POLICY, 60)
    assert promote.action == "promote"
    failing = judge(Signals(requests=3, error_rate=1.0), healthy, POLICY, 60)
    assert failing.action == "rollback" and "failing outright" in failing.reasons[0]
    assert judge(Signals(requests=3, error_rate=0.34), healthy, POLICY, 60).action == "wait"
    errors = judge(Signals(requests=25, error_rate=0.2, p95_latency_ms=700), healthy, POLICY, 60)
    assert errors.action == "rollback" and "error rate" in errors.reasons[0]
    slow = judge(Signals(requests=25, p95_latency_ms=1200), healthy, POLICY, 60)
    assert slow.action == "rollback" and "p95" in slow.reasons[0]
    disliked = judge(Signals(requests=25, p95_latency_ms=700, feedback=5, feedback_score=0.4), healthy, POLICY, 60)
    assert disliked.action == "rollback" and "feedback" in disliked.reasons[0]
    too_young = RolloutPolicy(min_requests=20, min_duration_s=3600)
    assert judge(Signals(requests=25, p95_latency_ms=700), healthy, too_young, 60).action == "wait"


def test_milliseconds_of_jitter_between_fast_deployments_are_no_latency_regression() -> None:
    fast = Signals(requests=100, p95_latency_ms=2.0, feedback=10, feedback_score=0.8)
    jitter = judge(Signals(requests=25, p95_latency_ms=3.0, feedback=4, feedback_score=0.8), fast, POLICY, 60)
    assert jitter.action == "promote"  # 1.5x, but 1 ms
    slow = judge(Signals(requests=25, p95_latency_ms=40.0, feedback=4, feedback_score=0.8), fast, POLICY, 60)
    assert slow.action == "rollback" and "p95" in slow.reasons[0]


def test_signals_from_records() -> None:
    records = [{"status": 200, "latency_ms": 100 + i} for i in range(18)] + [
        {"status": 502, "latency_ms": 5}, {"status": 499}, {"status": 200, "latency_ms": 90,
                                                           "guardrails": [{"action": "block"}]}]
    signals = signals_of(records, [{"score": 1.0}, {"score": 0.5}])
    assert signals.requests == 20 and signals.error_rate == pytest.approx(0.05)
    assert signals.guardrail_rate == pytest.approx(0.05) and signals.feedback_score == pytest.approx(0.75)
    assert 110 <= signals.p95_latency_ms <= 117


@pytest.fixture
async def store(tmp_path):
    adapter = SqliteDocumentStore(tmp_path / "r.sqlite3")
    await adapter.open()
    yield adapter
    await adapter.close()


async def test_router_diverts_the_configured_share(store) -> None:
    rollouts = RolloutStore(store, ttl_s=0)
    await rollouts.start(Rollout(id="r1", deployment=CANDIDATE, target_alias="gpt-4o-mini", share=0.1))
    router = RolloutRouter(rollouts, random.Random(1))
    diverted = 0
    for _ in range(2000):
        hit = await router.divert("gpt-4o-mini")
        diverted += hit is not None
        assert await router.divert("gpt-4o") is None
    assert 150 <= diverted <= 250


async def test_judge_reads_the_request_log_and_feedback_and_records_decisions(store) -> None:
    rollouts = RolloutStore(store, ttl_s=0)
    started = time.time() - 5
    await rollouts.start(Rollout(id="r1", deployment=CANDIDATE, target_alias="gpt-4o-mini", share=0.1,
                                 started_at=started))
    now = time.time()
    records = [{"id": f"t{i}", "tenant_id": "contoso", "deployment": "gpt-4o-mini", "status": 200,
                "latency_ms": 500, "ts": now} for i in range(40)]
    records += [{"id": f"c{i}", "tenant_id": "contoso", "deployment": "ft-crm-1", "rollout_id": "r1",
                 "status": 502 if i % 3 == 0 else 200, "latency_ms": 400, "ts": now} for i in range(24)]
    await store.upsert_many("request_log", records)
    judge_ = CanaryJudge(store, rollouts, POLICY)
    (rollout, decision), = await judge_.evaluate()
    assert decision.action == "rollback" and rollout.status == "rolled_back"
    assert rollout.decisions[-1]["action"] == "rollback" and (await rollouts.live()) == []
    assert await judge_.evaluate() == []  # nothing left to judge


async def test_healthy_canary_is_promoted_and_takes_all_traffic(store) -> None:
    rollouts = RolloutStore(store, ttl_s=0)
    await rollouts.start(Rollout(id="r2", deployment=CANDIDATE, target_alias="gpt-4o-mini", share=0.1,
                                 started_at=time.time() - 5))
    now = time.time()
    await store.upsert_many("request_log", [
        {"id": f"c{i}", "tenant_id": "contoso", "deployment": "ft-crm-1", "rollout_id": "r2", "status": 200,
         "latency_ms": 300, "ts": now} for i in range(25)] + [
        {"id": f"t{i}", "tenant_id": "contoso", "deployment": "gpt-4o-mini", "status": 200, "latency_ms": 350,
         "ts": now} for i in range(60)])
    (rollout, decision), = await CanaryJudge(store, rollouts, POLICY).evaluate()
    assert decision.action == "promote" and rollout.status == "promoted" and rollout.share == 1.0
    router = RolloutRouter(rollouts)
    for _ in range(20):
        _, chosen = await router.divert("gpt-4o-mini")
        assert chosen.id == "r2"
