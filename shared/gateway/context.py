"""What travels through the gateway for one request, and what comes back out of it.

``RequestContext`` carries the request through the steps and builds its request-log ``record``
as it goes (features add their own keys: ``route``, ``cache``, ``guardrails``, ``prompt``...).
Replies are framework-neutral: the HTTP functions turn them into responses.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.api.schemas import ChatCompletionRequest
from shared.auth import Principal
from shared.deployments import Deployment
from shared.limits import Reservation
from shared.routing import RouteDecision
from shared.tenants import AppRecord


def usage_of(body: Mapping[str, Any]) -> dict[str, int]:
    """Token usage from a completion body or a stream's usage chunk, with cached input tokens."""
    usage = body.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return {
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
        "cached_tokens": int(details.get("cached_tokens") or 0),
        "total_tokens": int(usage.get("total_tokens") or 0),
    }


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class JsonReply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class StreamReply:
    status: int
    events: AsyncIterator[bytes]
    headers: dict[str, str]


Reply = JsonReply | StreamReply


@dataclass(slots=True)
class RequestContext:
    request_id: str = field(default_factory=new_request_id)
    received_ns: int = field(default_factory=time.perf_counter_ns)
    received_wall_ns: int = field(default_factory=time.time_ns)
    principal: Principal | None = None
    app_policy: dict[str, Any] = field(default_factory=dict)
    app: AppRecord | None = None
    body: dict[str, Any] = field(default_factory=dict)  # the decoded request body
    request: ChatCompletionRequest | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    deployment: Deployment | None = None
    stream: bool = False
    backend_ns: int = 0  # time spent waiting for model backends
    input_checks: asyncio.Task | None = None  # input guardrails running concurrently with the model call
    completion_text: str | None = None  # the answer, kept for transcripts when the app opts in
    guardrails: Any = None  # shared.guardrails.gateway.RequestGuardrails when guardrails are on
    cache: Any = None  # shared.cache.gateway.CacheState when the response cache is on
    response_headers: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    # routing and limits (shared/routing, shared/limits)
    prompt_tokens: int | None = None  # the conversation's token count as sent to the model
    route: RouteDecision | None = None
    reservation: Reservation | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter_ns() - self.received_ns) / 1e6

    def overhead_ms(self) -> float:
        return max(self.elapsed_ms() - self.backend_ns / 1e6, 0.0)

    def base_headers(self) -> dict[str, str]:
        headers = {"x-request-id": self.request_id}
        if self.deployment is not None:
            headers["x-llmops-deployment"] = self.deployment.alias
        headers.update(self.response_headers)
        return headers
