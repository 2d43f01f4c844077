"""Canary rollouts of fine-tuned models: a candidate that passed the evaluation gate and was deployed
takes a small share of its target deployment's traffic; live signals decide promotion or rollback.

A rollout document (``model_rollouts`` container) holds the candidate's deployment (an OpenAI-compatible
endpoint), the production alias it competes with, its traffic share and its status:
``canary`` -> ``promoted`` (the candidate then takes all of the target's traffic) or ``rolled_back``.
Every decision, with the figures behind it, is appended to the document's ``decisions``.

The gateway asks ``RolloutRouter.divert(alias)`` after routing: with probability ``share`` a request
bound for the target goes to the candidate instead. ``CanaryJudge`` compares candidate and target over
the same window on error rate, p95 latency, guardrail interventions and feedback score.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.deployments import Deployment
from shared.retraining.contract.metrics import percentile
from shared.store import DocumentStore, Filter, PreconditionFailedError

ROLLOUTS = "model_rollouts"
GROSS_FAILURE_MIN_REQUESTS = 3
GROSS_FAILURE_RATE = 0.5
Status = Literal["canary", "promoted", "rolled_back"]


class RolloutPolicy(BaseModel):
    """When a canary has proven itself, or failed (the figures are per rollout window)."""

    share: float = Field(default=0.05, gt=0, le=1)
    min_requests: int = Field(default=50, ge=1)
    min_duration_s: float = Field(default=600, ge=0)
    max_error_rate_increase: float = Field(default=0.02, ge=0)
    max_p95_ratio: float = Field(default=1.25, gt=0)
    # ...and by at least this much: a few milliseconds of jitter between two fast deployments is no regression
    min_p95_increase_ms: float = Field(default=25.0, ge=0)
    max_guardrail_rate_increase: float = Field(default=0.01, ge=0)
    min_feedback: int = Field(default=10, ge=1)
    max_feedback_drop: float = Field(default=0.1, ge=0)
    sample_limit: int = Field(default=5000, ge=100)


class Rollout(BaseModel):
    id: str
    dataset_id: str | None = None
    run_id: str | None = None
    model: dict[str, Any] = Field(default_factory=dict)  # registered model name/version/uri
    deployment: Deployment
    target_alias: str
    share: float
    status: Status = "canary"
    started_at: float = Field(default_factory=time.time)
    decided_at: float | None = None
    decisions: list[dict[str, Any]] = Field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Signals(BaseModel):
    requests: int = 0
    error_rate: float = 0.0
    p95_latency_ms: float = 0.0
    guardrail_rate: float = 0.0
    feedback: int = 0
    feedback_score: float | None = None


class Decision(BaseModel):
    action: Literal["promote", "rollback", "wait"]
    reasons: list[str]
    candidate: Signals
    target: Signals
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def _failed_on(record: dict[str, Any], alias: str | None) -> bool:
    """Did this deployment fail the request? Its failed attempt counts even when failover saved the request."""
    if alias is not None and any(a.get("deployment") == alias and a.get("status") != 200
                                 for a in record.get("attempts") or ()):
        return True
    return int(record.get("status") or 0) >= 500 and (alias is None or record.get("deployment") == alias)


def signals_of(records: list[dict[str, Any]], feedback: list[dict[str, Any]], alias: str | None = None) -> Signals:
    served = [r for r in records if int(r.get("status") or 0) != 499]  # client hang-ups say nothing
    errors = sum(1 for r in served if _failed_on(r, alias))
    interventions = sum(1 for r in served if any(
        isinstance(v, dict) and v.get("action") in ("block", "redact") for v in r.get("guardrails") or ()))
    scores = [float(f["score"]) for f in feedback if f.get("score") is not None]
    return Signals(
        requests=len(served),
        error_rate=errors / len(served) if served else 0.0,
        p95_latency_ms=percentile([float(r.get("latency_ms") or 0.0) for r in served
                             if int(r.get("status") or 0) < 400 and (alias is None or r.get("deployment") == alias)],
                                  95),
        guardrail_rate=interventions / len(served) if served else 0.0,
        feedback=len(scores),
        feedback_score=sum(scores) / len(scores) if scores else None,
    )


def judge(candidate: Signals, target: Signals, policy: RolloutPolicy, age_s: float) -> Decision:
    reasons: list[str] = []
    if candidate.requests >= GROSS_FAILURE_MIN_REQUESTS and candidate.error_rate >= GROSS_FAILURE_RATE:
        # failing outright: its circuit breaker stops sending it traffic, so do not wait for more samples
        reasons.append(f"error rate {candidate.error_rate:.3f} vs {target.error_rate:.3f} (failing outright)")
    elif candidate.requests >= max(10, policy.min_requests // 5):  # enough to see a clear regression
        if candidate.error_rate > target.error_rate + policy.max_error_rate_increase:
            reasons.append(f"error rate {candidate.error_rate:.3f} vs {target.error_rate:.3f}")
        slower = candidate.p95_latency_ms - target.p95_latency_ms
        if (target.p95_latency_ms and candidate.p95_latency_ms > target.p95_latency_ms * policy.max_p95_ratio
                and slower >= policy.min_p95_increase_ms):
            reasons.append(f"p95 latency {candidate.p95_latency_ms:.0f} ms vs {target.p95_latency_ms:.0f} ms")
        if candidate.guardrail_rate > target.guardrail_rate + policy.max_guardrail_rate_increase:
            reasons.append(f"guardrail interventions {candidate.guardrail_rate:.3f} vs {target.guardrail_rate:.3f}")
    if (candidate.feedback >= policy.min_feedback and candidate.feedback_score is not None
            and target.feedback_score is not None
            and candidate.feedback_score < target.feedback_score - policy.max_feedback_drop):
        reasons.append(f"feedback score {candidate.feedback_score:.2f} vs {target.feedback_score:.2f}")
    if reasons:
        return Decision(action="rollback", reasons=reasons, candidate=candidate, target=target)
    if candidate.requests >= policy.min_requests and age_s >= policy.min_duration_s:
        return Decision(action="promote", reasons=[f"{candidate.requests} requests over {age_s / 60:.0f} min "
                                                   "without regression"], candidate=candidate, target=target)
    return Decision(action="wait", reasons=[f"{candidate.requests}/{policy.min_requests} requests, "
                                            f"{age_s:.0f}/{policy.min_duration_s:.0f} s"],
                    candidate=candidate, target=target)


class RolloutStore:
    """Rollout documents, with the active ones cached in process for ``ttl_s`` seconds."""

    def __init__(self, store: DocumentStore, *, ttl_s: float = 10.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._cache: tuple[float, list[Rollout]] | None = None

    async def start(self, rollout: Rollout) -> Rollout:
        await self._store.upsert(ROLLOUTS, rollout.to_doc())
        self._cache = None
        return rollout

    async def get(self, rollout_id: str) -> Rollout | None:
        doc = await self._store.get(ROLLOUTS, rollout_id, rollout_id)
        return Rollout.model_validate(doc) if doc else None

    async def live(self) -> list[Rollout]:
        """Rollouts that take traffic: canaries and promoted candidates."""
        now = time.monotonic()
        if self._cache is not None and self._cache[0] > now:
            return self._cache[1]
        docs = await self._store.query(ROLLOUTS, [Filter("status", "in", ["canary", "promoted"])],
                                       order_by="started_at")
        rollouts = [Rollout.model_validate(d) for d in docs]
        self._cache = (now + self._ttl_s, rollouts)
        return rollouts

    async def record(self, rollout_id: str, decision: Decision) -> Rollout:
        """Append a decision; promote or roll back on it (optimistic concurrency on the document)."""
        for _ in range(5):
            doc = await self._store.get(ROLLOUTS, rollout_id, rollout_id)
            if doc is None:
                raise KeyError(rollout_id)
            rollout = Rollout.model_validate(doc)
            update: dict[str, Any] = {"decisions": [*rollout.decisions, decision.model_dump(mode="json")]}
            if decision.action == "promote":
                update.update(status="promoted", share=1.0, decided_at=time.time())
            elif decision.action == "rollback":
                update.update(status="rolled_back", decided_at=time.time())
            try:
                saved = await self._store.replace(ROLLOUTS, {**doc, **update}, if_match=doc.get("_etag"))
            except PreconditionFailedError:
                continue
            self._cache = None
            return Rollout.model_validate(saved)
        raise RuntimeError(f"rollout {rollout_id} is being decided concurrently")


class RolloutRouter:
    """Sends a share of a target deployment's traffic to its live candidate."""

    def __init__(self, rollouts: RolloutStore, rng: random.Random | None = None) -> None:
        self._rollouts = rollouts
        self._rng = rng or random.Random()

    async def divert(self, alias: str) -> tuple[Deployment, Rollout] | None:
        for rollout in reversed(await self._rollouts.live()):  # the newest rollout of a target wins
            if rollout.target_alias == alias and self._rng.random() < rollout.share:
                return rollout.deployment, rollout
        return None


class CanaryJudge:
    """Compares each canary with its target on the requests and feedback since the canary started."""

    def __init__(self, store: DocumentStore, rollouts: RolloutStore, policy: RolloutPolicy) -> None:
        self._store = store
        self._rollouts = rollouts
        self.policy = policy

    async def signals(self, rollout: Rollout) -> tuple[Signals, Signals]:
        since = rollout.started_at
        since_iso = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
        limit = self.policy.sample_limit
        candidate_records = await self._store.query("request_log", [
            Filter("rollout_id", "=", rollout.id), Filter("ts", ">=", since)], order_by="ts", descending=True,
            limit=limit)
        target_records = await self._store.query("request_log", [
            Filter("deployment", "=", rollout.target_alias), Filter("ts", ">=", since)], order_by="ts",
            descending=True, limit=limit)
        target_records = [r for r in target_records if not r.get("rollout_id")]
        candidate_feedback = await self._store.query("feedback", [
            Filter("deployment", "=", rollout.deployment.alias), Filter("updated_at", ">=", since_iso)])
        target_feedback = await self._store.query("feedback", [
            Filter("deployment", "=", rollout.target_alias), Filter("updated_at", ">=", since_iso)])
        return (signals_of(candidate_records, candidate_feedback, rollout.deployment.alias),
                signals_of(target_records, target_feedback, rollout.target_alias))

    async def evaluate(self) -> list[tuple[Rollout, Decision]]:
        """Judge every canary once; returns what was decided (waits included)."""
        outcomes = []
        for rollout in await self._rollouts.live():
            if rollout.status != "canary":
                continue
            candidate, target = await self.signals(rollout)
            decision = judge(candidate, target, self.policy, time.time() - rollout.started_at)
            if decision.action != "wait":
                rollout = await self._rollouts.record(rollout.id, decision)
            outcomes.append((rollout, decision))
        return outcomes
