"""Synthetic request-log traffic with shifts of known size and time, for the monitors' tests, the drift
benchmark (``bench/drift.py``) and the dashboard's browser test.

``TrafficModel`` describes stationary traffic of one app (latencies, costs, tokens, error, 429 and
refusal rates, feedback scores, topic mix); ``Shift`` changes one aspect from a point in time on.
``generate`` yields request-log records (and feedback documents) shaped as the gateway writes them
(``shared.request_record``), with a transcript so topic drift has text, and, when asked, topic
vectors so the monitors can run without an encoder.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.monitoring.monitors import Window

TOPICS: dict[str, tuple[str, ...]] = {
    "billing": ("Why was I charged twice for my {item}?", "How do I get a refund for the {item}?",
                "Can I change the card you bill for my {item}?", "My invoice for the {item} looks wrong."),
    "shipping": ("Where is my {item} order?", "When will the {item} be delivered?",
                 "Can I change the delivery address for my {item}?", "The {item} parcel has not arrived yet."),
    "setup": ("How do I set up the {item}?", "The {item} will not turn on after setup.",
              "How do I connect the {item} to wifi?", "How do I reset the {item} to factory settings?"),
    "travel": ("Which beaches near Lisbon are good in {item}?", "Plan a three day trip to Rome in {item}.",
               "What should I pack for hiking in {item}?", "Is {item} a good month to visit Iceland?"),
}
ITEMS = ("CX-500 headset", "router", "smart speaker", "laptop", "printer", "camera", "May", "October")
REFUSAL = "I'm sorry, but I can't help with that request."


@dataclass(frozen=True)
class TrafficModel:
    requests_per_hour: float = 120.0
    topics: dict[str, float] = field(default_factory=lambda: {"billing": 0.4, "shipping": 0.35, "setup": 0.25})
    cost_per_1k_tokens: float = 0.0006
    prompt_tokens: float = 180.0  # mean (gamma distributed)
    completion_tokens: float = 120.0
    overhead_ms: float = 6.0  # median (log-normal)
    ttft_ms: float = 220.0
    stream_share: float = 0.5
    cache_hit_share: float = 0.15
    error_rate: float = 0.01
    rate_limited: float = 0.01
    refusal_rate: float = 0.03
    feedback_share: float = 0.3
    feedback_score: float = 0.8  # share of thumbs up


@dataclass(frozen=True)
class Shift:
    at: float  # epoch seconds from which the change applies
    changes: dict[str, Any]  # TrafficModel fields and their new values

    def apply(self, model: TrafficModel, ts: float) -> TrafficModel:
        return dataclasses.replace(model, **self.changes) if ts >= self.at else model


def topic_vector(topic: str, rng: np.random.Generator, dims: int = 32, spread: float = 0.35) -> np.ndarray:
    """A unit vector near the topic's fixed direction (the same direction in every run)."""
    centre = np.random.default_rng(zlib.crc32(topic.encode())).normal(size=dims)
    vector = centre / np.linalg.norm(centre) + rng.normal(scale=spread / np.sqrt(dims), size=dims)
    return vector / np.linalg.norm(vector)


def generate(start: float, end: float, *, model: TrafficModel | None = None, shifts: tuple[Shift, ...] = (),
             seed: int = 0, tenant_id: str = "contoso", app_id: str = "mobile", vectors: bool = False
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(request records, feedback documents) between ``start`` and ``end``, Poisson arrivals."""
    base = model or TrafficModel()
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    ts = start
    while True:
        ts += float(rng.exponential(3600.0 / base.requests_per_hour))
        if ts >= end:
            return records, feedback
        m = base
        for shift in shifts:
            m = shift.apply(m, ts)
        index = len(records)
        records.append(_record(m, rng, ts, f"{seed}-{index:06d}", tenant_id, app_id, vectors))
        if records[-1]["status"] < 400 and rng.random() < m.feedback_share:
            up = rng.random() < m.feedback_score
            feedback.append({"id": f"fb-{seed}-{index}", "tenant_id": tenant_id, "app_id": app_id,
                             "request_app_id": app_id, "request_id": records[-1]["id"],
                             "deployment": records[-1]["deployment"], "cache": records[-1]["cache"],
                             "rating": "up" if up else "down", "score": 1.0 if up else 0.0,
                             "created_at": records[-1]["created_at"], "ts": ts})


def _record(m: TrafficModel, rng: np.random.Generator, ts: float, request_id: str, tenant_id: str, app_id: str,
            vectors: bool) -> dict[str, Any]:
    names = list(m.topics)
    topic = names[int(rng.choice(len(names), p=np.asarray([m.topics[t] for t in names]) / sum(m.topics.values())))]
    templates = TOPICS[topic]
    prompt = templates[int(rng.integers(len(templates)))].format(item=ITEMS[int(rng.integers(len(ITEMS)))])
    roll = rng.random()
    status = 500 if roll < m.error_rate else 429 if roll < m.error_rate + m.rate_limited else 200
    streamed = bool(rng.random() < m.stream_share)
    prompt_tokens = int(rng.gamma(4.0, m.prompt_tokens / 4.0)) + 1
    completion_tokens = int(rng.gamma(4.0, m.completion_tokens / 4.0)) + 1 if status == 200 else 0
    refused = status == 200 and rng.random() < m.refusal_rate
    answer = REFUSAL if refused else f"Here is what I found about your {topic} question: {prompt.lower()}"
    overhead = float(rng.lognormal(np.log(m.overhead_ms), 0.35))
    backend = float(rng.lognormal(np.log(600.0), 0.3)) if status == 200 else 5.0
    record: dict[str, Any] = {
        "id": request_id, "tenant_id": tenant_id, "app_id": app_id, "operation": "chat", "ts": ts,
        "created_at": _iso(ts), "requested_model": "auto", "deployment": "gpt-4o-mini", "tier": "small",
        "status": status, "outcome": "ok" if status == 200 else ("rate_limited" if status == 429 else "internal_error"),
        "streamed": streamed, "latency_ms": round(overhead + backend, 3), "overhead_ms": round(overhead, 3),
        "backend_latency_ms": round(backend, 3), "cache": "hit-exact" if rng.random() < m.cache_hit_share else "miss",
        "cost_usd": round((prompt_tokens + completion_tokens) * m.cost_per_1k_tokens / 1000, 8) if status < 400 else 0,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "cached_tokens": 0,
                  "total_tokens": prompt_tokens + completion_tokens},
        "route": {"mode": "auto", "tier": "small", "reason": "simple", "plan": ["gpt-4o-mini"]},
        "attempts": [{"deployment": "gpt-4o-mini", "latency_ms": round(backend, 3), "status": status}],
        "guardrails": [_pii_verdict(rng), {"check": "topics", "stage": "input", "threshold": 0.5,
                                           "score": 0.9 if topic == "travel" else 0.1,
                                           "action": "flag" if topic == "travel" else "pass"}],
        "finish_reasons": ["stop"] if status == 200 else [],
        "topic": topic,
    }
    if status == 200:
        record["transcript"] = {"messages": [{"role": "user", "content": prompt}], "completion": answer}
    if streamed and status == 200:
        record["ttft_ms"] = round(float(rng.lognormal(np.log(m.ttft_ms), 0.3)), 3)
    if vectors:
        record["_prompt_vector"] = topic_vector(topic, rng)
        record["_answer_vector"] = topic_vector("refusal" if refused else topic, rng)
    return record


def _pii_verdict(rng: np.random.Generator, redacted_share: float = 0.05) -> dict[str, Any]:
    redacted = rng.random() < redacted_share
    score = 0.9 if redacted else round(float(rng.random() * 0.3), 4)
    return {"check": "pii", "stage": "input", "score": score, "threshold": 0.5,
            "action": "redact" if redacted else "pass"}


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def window(records: list[dict[str, Any]], feedback: list[dict[str, Any]], start: float, end: float) -> Window:
    """The monitors' view of [start, end), with the records' topic vectors when they carry them."""
    requests = [r for r in records if start <= r["ts"] < end]
    result = Window(start, end, requests, [f for f in feedback if start <= f["ts"] < end])
    with_vectors = [r for r in requests if "_prompt_vector" in r]
    if with_vectors:
        result.vector_ids = [r["id"] for r in with_vectors]
        result.prompt_vectors = np.asarray([r["_prompt_vector"] for r in with_vectors])
        result.answer_vectors = np.asarray([r["_answer_vector"] for r in with_vectors])
    return result
