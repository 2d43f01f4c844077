"""What travels through the pipeline for one request, and what comes back out of it.

``RequestContext`` carries one request through the steps (``shared.gateway.steps``) and builds its
request-log record (``shared.request_record.RequestRecord``) as it goes. It is generic in the
endpoint's validated request type (``ChatContext`` for chat completions); what every step and the
recorder read from any request is the ``ModelRequest`` protocol. Replies are framework-neutral: the
HTTP functions turn them into responses.

The per-request state of the optional features is typed by what the pipeline needs from it
(``RequestGuard``, ``StreamCheck``), so this module imports no feature and no feature import comes
back here at run time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from shared.api.schemas import ChatCompletionRequest
from shared.auth import Caller, Principal
from shared.deployments import AUTO_MODEL, Deployment
from shared.limits import Reservation
from shared.request_record import RequestRecord, Usage
from shared.routing import RouteDecision
from shared.tenants import AppRecord
from shared.tokens import count_message_tokens

InputPhase = Literal["all", "rewrite", "verdict"]


class ModelRequest(Protocol):
    """What the pipeline reads from any endpoint's validated request."""

    @property
    def model(self) -> str: ...

    @property
    def stream(self) -> bool: ...

    @property
    def temperature(self) -> float | None: ...

    @property
    def top_p(self) -> float | None: ...

    @property
    def output_token_limit(self) -> int | None: ...


R = TypeVar("R", bound=ModelRequest)


class StreamCheck(Protocol):
    """Output guardrails on a stream (``shared.guardrails.gateway.StreamFilter``)."""

    error: bytes | None  # the event that ends the stream once a check blocked

    @property
    def sent_text(self) -> str: ...

    async def chunk(self, chunk: dict[str, Any], text: str) -> dict[str, Any] | None: ...

    async def flush(self, template: dict[str, Any]) -> dict[str, Any] | None: ...

    def record(self) -> None: ...


class RequestGuard(Protocol):
    """The guardrails of one request (``shared.guardrails.gateway.RequestGuardrails``)."""

    @property
    def concurrent(self) -> bool: ...

    async def check_input(self, phase: InputPhase = "all") -> None: ...

    async def check_output(self, body: dict[str, Any]) -> None: ...

    def stream_filter(self) -> StreamCheck: ...


def usage_of(body: Mapping[str, Any]) -> Usage:
    """Token usage from a completion body or a stream's usage chunk, with cached input tokens and the
    reasoning tokens (part of ``completion_tokens``, so priced as output) when the model reports them."""
    usage = body.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    out: Usage = {
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
        "cached_tokens": int(details.get("cached_tokens") or 0),
        "total_tokens": int(usage.get("total_tokens") or 0),
    }
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning:
        out["reasoning_tokens"] = int(reasoning)
    return out


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
class RequestContext(Generic[R]):
    operation: str = "chat"  # the endpoint kind
    headers: Mapping[str, str] = field(default_factory=dict)
    request_id: str = field(default_factory=new_request_id)
    received_ns: int = field(default_factory=time.perf_counter_ns)
    received_wall_ns: int = field(default_factory=time.time_ns)
    principal: Principal | None = None
    app: AppRecord | None = None
    app_policy: dict[str, Any] = field(default_factory=dict)  # the app's effective policy (a prompt may add to it)
    body: dict[str, Any] = field(default_factory=dict)  # the decoded request body
    request: R | None = None  # the validated request
    messages: list[dict[str, Any]] = field(default_factory=list)  # the conversation as the model will see it
    deployment: Deployment | None = None
    stream: bool = False
    backend_ns: int = 0  # time spent waiting for model backends
    input_checks: asyncio.Task[None] | None = None  # judging input guardrails, running beside the model call
    completion_text: str | None = None  # the answer, kept for transcripts when the app opts in
    guardrails: RequestGuard | None = None
    cache: object | None = None  # the response cache's state for this request (shared.cache.gateway)
    response_headers: dict[str, str] = field(default_factory=dict)
    record: RequestRecord = field(default_factory=lambda: RequestRecord())
    prompt_tokens: int | None = None  # the conversation's token count as sent to the model
    route: RouteDecision | None = None
    reservation: Reservation | None = None
    # orchestration (shared.gateway.orchestration): awaited with the assistant message once the answer is
    # complete, before the client sees its end (conversation memory); the grounding passages
    commits: list[Callable[[dict[str, Any]], Awaitable[None]]] = field(default_factory=list)
    passages: list[Any] | None = None
    response_state: Any = None  # the Responses API request being served (shared.gateway.responses)

    async def commit(self, answer: dict[str, Any]) -> None:
        for hook in self.commits:
            await hook(answer)
        self.commits.clear()

    def authenticated(self, caller: Caller) -> None:
        self.principal = caller.principal
        self.app = caller.app
        self.app_policy = caller.app.policy

    def prompt_token_count(self) -> int:
        """The conversation's token count, counted once and only when a step needs it."""
        if self.prompt_tokens is None:
            self.prompt_tokens = count_message_tokens(self.messages)
        return self.prompt_tokens

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


ChatContext = RequestContext[ChatCompletionRequest]


def answer_model(ctx: RequestContext[Any]) -> str:
    """The ``model`` an answer names: the alias the client asked for (failover to another region does not
    change it), or for ``auto`` the alias routing chose; the serving deployment is in ``x-llmops-deployment``."""
    requested: str | None = ctx.request.model if ctx.request is not None else None
    if requested and requested != AUTO_MODEL:
        return requested
    return ctx.deployment.alias if ctx.deployment is not None else (requested or AUTO_MODEL)
