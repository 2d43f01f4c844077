"""The end of every request: its record completed, logged, its limits settled, its telemetry written.

``Recorder.finish`` runs exactly once per request, whatever the outcome (a JSON answer, an error, a
stream however it ended): it completes the request-log record (``shared.request_record``), queues it
on the request log (memory only: the writer is in the background), settles the limit reservation to
the real usage (coalesced, in the background) and records the span and metrics. None of it waits on
I/O. ``account`` puts an answer's tokens and cost on the record; ``fail`` answers an error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from shared.api.errors import ApiError
from shared.gateway.context import JsonReply, ModelRequest, RequestContext
from shared.limits import Limiter
from shared.observability.telemetry import Telemetry
from shared.request_record import RequestRecord, Usage

UNAUTHENTICATED = "_unauthenticated"


class RecordSink(Protocol):
    """Where finished records go (``shared.request_log.RequestLog``: memory now, the store in the background)."""

    def record(self, record: RequestRecord) -> None: ...


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "auth_error"
    if status == 429:
        return "rate_limited"
    if status == 499:
        return "client_disconnected"
    if status == 500:
        return "internal_error"
    if status >= 500:
        return "upstream_error"
    return "client_error"


def completion_text(body: Mapping[str, Any]) -> str:
    """The answer's text (or its tool calls as JSON) from a completion body."""
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    if message.get("content") is not None:
        return str(message["content"])
    return orjson.dumps(message.get("tool_calls") or []).decode()


def complete_record(ctx: RequestContext[Any], status: int) -> RequestRecord:
    """Fill in everything known once the request is over; returns the record."""
    record = ctx.record
    principal = ctx.principal
    request: ModelRequest | None = ctx.request
    deployment = ctx.deployment
    record["id"] = ctx.request_id
    record["tenant_id"] = principal.tenant_id if principal else UNAUTHENTICATED
    record["app_id"] = principal.app_id if principal else None
    record["key_id"] = principal.key_id if principal else None
    record["operation"] = ctx.operation
    record["ts"] = ctx.received_wall_ns / 1e9
    record["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ctx.received_wall_ns / 1e9))
    record["requested_model"] = request.model if request else None
    record["deployment"] = deployment.alias if deployment else None
    record["tier"] = deployment.tier if deployment else None
    record["server_address"] = deployment.endpoint if deployment else None
    record["status"] = status
    record["outcome"] = outcome_of(status)
    record["streamed"] = ctx.stream
    record["latency_ms"] = round(ctx.elapsed_ms(), 3)
    record["overhead_ms"] = round(ctx.overhead_ms(), 3)
    record.setdefault("cost_usd", 0.0)
    if ctx.completion_text is not None and (ctx.app_policy.get("feedback") or {}).get("retain_transcripts"):
        record["transcript"] = {"messages": ctx.messages, "completion": ctx.completion_text}
    if request is not None:
        record["max_tokens"] = request.output_token_limit
        record["temperature"] = request.temperature
        record["top_p"] = request.top_p
    return record


class Recorder:
    def __init__(self, request_log: RecordSink, telemetry: Telemetry, limiter: Limiter | None = None) -> None:
        self.request_log = request_log
        self.telemetry = telemetry
        self.limiter = limiter

    @staticmethod
    def account(ctx: RequestContext[Any], body: Mapping[str, Any], usage: Usage) -> None:
        """Tokens, cost and response metadata into the record."""
        assert ctx.deployment is not None
        ctx.record["usage"] = usage
        ctx.record["cost_usd"] = ctx.deployment.cost_usd(
            usage["prompt_tokens"], usage["completion_tokens"], usage["cached_tokens"])
        ctx.record["response_model"] = body.get("model") or ctx.deployment.model
        ctx.record["response_id"] = body.get("id")
        choices = body.get("choices") or []
        ctx.record["finish_reasons"] = [c["finish_reason"] for c in choices if c.get("finish_reason")]

    def fail(self, ctx: RequestContext[Any], error: ApiError) -> JsonReply:
        """Answer an error in the OpenAI shape, and record it."""
        ctx.record["error_code"] = error.code or error.type
        ctx.record["error_message"] = error.message[:500]
        headers = {**ctx.base_headers(), **error.headers}
        self.finish(ctx, error.status)
        return JsonReply(error.status, error.body_bytes(), headers)

    def finish(self, ctx: RequestContext[Any], status: int) -> None:
        """Complete the record; hand it to the request log, the limits and telemetry (no I/O here)."""
        record = complete_record(ctx, status)
        span = self.telemetry.start_chat_span(record.get("requested_model") or "unknown", ctx.received_wall_ns)
        trace_id = span.get_span_context().trace_id
        if trace_id:  # 0: no tracer configured
            record["trace_id"] = format(trace_id, "032x")
        self.request_log.record(record)
        if ctx.reservation is not None and self.limiter is not None:
            usage = record.get("usage")
            tokens = usage["prompt_tokens"] + usage["completion_tokens"] if usage else 0
            self.limiter.settle(ctx.reservation, tokens=tokens, cost_usd=record.get("cost_usd", 0.0))
        self.telemetry.record_request(span, record)
