"""The request-log record of one gateway request: tokens and cost, outcome, timings, transcript (opt-in)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from shared.gateway.context import RequestContext

UNAUTHENTICATED = "_unauthenticated"


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


def account(ctx: RequestContext, body: Mapping[str, Any], usage: dict[str, int]) -> None:
    """Tokens, cost and response metadata into the record."""
    assert ctx.deployment is not None
    ctx.record["usage"] = usage
    ctx.record["cost_usd"] = ctx.deployment.cost_usd(
        usage["prompt_tokens"], usage["completion_tokens"], usage["cached_tokens"])
    ctx.record["response_model"] = body.get("model") or ctx.deployment.model
    ctx.record["response_id"] = body.get("id")
    choices = body.get("choices") or []
    ctx.record["finish_reasons"] = [c.get("finish_reason") for c in choices if c.get("finish_reason")]


def complete_record(ctx: RequestContext, status: int) -> dict[str, Any]:
    """Fill in everything known once the request is over; returns the record."""
    record = ctx.record
    principal = ctx.principal
    request = ctx.request
    record.update(
        id=ctx.request_id,
        tenant_id=principal.tenant_id if principal else UNAUTHENTICATED,
        app_id=principal.app_id if principal else None,
        key_id=principal.key_id if principal else None,
        ts=ctx.received_wall_ns / 1e9,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ctx.received_wall_ns / 1e9)),
        requested_model=request.model if request else None,
        deployment=ctx.deployment.alias if ctx.deployment else None,
        tier=ctx.deployment.tier if ctx.deployment else None,
        server_address=ctx.deployment.endpoint if ctx.deployment else None,
        status=status,
        outcome=outcome_of(status),
        streamed=ctx.stream,
        latency_ms=round(ctx.elapsed_ms(), 3),
        overhead_ms=round(ctx.overhead_ms(), 3),
    )
    record.setdefault("cost_usd", 0.0)
    if ctx.completion_text is not None and (ctx.app_policy.get("feedback") or {}).get("retain_transcripts"):
        record["transcript"] = {"messages": ctx.messages, "completion": ctx.completion_text}
    if request is not None:
        record["max_tokens"] = request.output_token_limit
        record["temperature"] = request.temperature
        record["top_p"] = request.top_p
    return record
