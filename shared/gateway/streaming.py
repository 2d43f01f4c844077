"""Server-sent events for streamed completions.

The stream is opened and its first chunk awaited *before* the response starts, so a backend that
fails up front still gets a proper HTTP status, and the router can retry or fail over to another
deployment (``ChatGateway.start_stream``). After the first
byte has gone out nothing can be retried: a backend failure ends the stream with an error event.
Usage is always requested from the backend; the final usage chunk is forwarded only when the
client asked for it (``stream_options.include_usage``), and counted locally when the backend
sends none. A client that disconnects mid-stream closes the backend stream; the request is
logged in every case with how the stream ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from shared.backends import BackendError, ModelBackends
from shared.deployments import Deployment
from shared.gateway.context import RequestContext, usage_of
from shared.tokens import count_text_tokens

if TYPE_CHECKING:
    from shared.gateway.service import ChatGateway

DONE = b"data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


@dataclass(slots=True)
class OpenedStream:
    first: dict[str, Any] | None
    rest: AsyncIterator[dict[str, Any]]
    opened_ns: int
    first_chunk_ns: int
    text: list[str] = field(default_factory=list)


async def open_stream(ctx: RequestContext, backends: ModelBackends, deployment: Deployment,
                      params: dict[str, Any], timeout_s: float) -> OpenedStream:
    started = time.perf_counter_ns()
    try:
        chunks = await backends.chat_stream(deployment, params, timeout_s=timeout_s)
        iterator = aiter(chunks)
        try:
            first = await anext(iterator)
        except StopAsyncIteration:
            first = None
        except BaseException:  # failed or timed out before the first chunk: free the connection, fail over
            await _close(iterator)
            raise
    finally:
        ctx.backend_ns += time.perf_counter_ns() - started
    return OpenedStream(first, iterator, started, time.perf_counter_ns())


def _chunk_text(chunk: dict[str, Any]) -> str:
    parts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            parts.append(delta["content"])
    return "".join(parts)


async def sse_events(ctx: RequestContext, opened: OpenedStream, gateway: ChatGateway) -> AsyncIterator[bytes]:
    assert ctx.request is not None and ctx.deployment is not None
    wants_usage = ctx.request.wants_usage_in_stream
    usage: dict[str, int] | None = None
    last: dict[str, Any] = {}
    finish_reasons: list[str] = []
    status, end = 200, "complete"
    guard = ctx.guardrails.stream_filter() if ctx.guardrails is not None else None
    sent: list[dict[str, Any]] | None = [] if ctx.cache is not None and gateway.cache is not None else None
    ctx.record["ttft_ms"] = round((opened.first_chunk_ns - ctx.received_ns) / 1e6, 3)
    chunk = opened.first
    try:
        while chunk is not None:
            if chunk.get("usage"):
                usage = usage_of(chunk)
            if not chunk.get("choices") and chunk.get("usage"):
                if wants_usage:
                    yield sse(chunk)
            else:
                if not wants_usage:
                    chunk.pop("usage", None)
                text = _chunk_text(chunk)
                opened.text.append(text)
                finish_reasons.extend(c["finish_reason"] for c in chunk.get("choices") or () if c.get("finish_reason"))
                last = chunk
                # output guardrails: forward only checked text; a block ends the stream with an error event
                checked = await guard.chunk(chunk, text) if guard is not None else chunk
                if guard is not None and guard.error is not None:
                    break
                if checked is not None:
                    if sent is not None:
                        sent.append(checked)
                    yield sse(checked)
            waited = time.perf_counter_ns()
            try:
                chunk = await anext(opened.rest)
            except StopAsyncIteration:
                chunk = None
            finally:
                ctx.backend_ns += time.perf_counter_ns() - waited
        if guard is not None and guard.error is None and (tail := await guard.flush(last)) is not None:
            if sent is not None:
                sent.append(tail)
            yield sse(tail)
        if guard is not None and guard.error is not None:
            status, end = 422, "guardrail_blocked"
            yield guard.error
        else:
            yield DONE
    except BackendError as exc:
        status, end = 502, "upstream_interrupted"
        ctx.record["backend_error"] = {"deployment": exc.deployment, "status": exc.status, "code": exc.code}
        gateway.stream_interrupted(ctx)
        error = exc.to_api_error()
        error.message = f"The model stream was interrupted: {exc.message}"
        error.code = "stream_interrupted"
        yield b"data: " + error.body_bytes() + b"\n\n"
    except (asyncio.CancelledError, GeneratorExit):
        status, end = 499, "client_disconnected"
        raise
    finally:
        await _close(opened.rest)
        if usage is None:  # the backend sent no usage (or the stream broke): count locally
            usage = {"prompt_tokens": gateway.prompt_tokens(ctx),
                     "completion_tokens": count_text_tokens("".join(opened.text)),
                     "cached_tokens": 0, "total_tokens": 0}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            ctx.record["usage_estimated"] = True
        gateway.account(ctx, last, usage)
        ctx.completion_text = "".join(opened.text) if guard is None else guard.guard.sent_text
        if guard is not None:
            guard.record()
        ctx.record["finish_reasons"] = finish_reasons
        ctx.record["stream_end"] = end
        if end == "complete" and sent is not None and gateway.cache is not None:  # what the client got
            gateway.cache.store_stream_later(ctx, [*sent, {"usage": {k: v for k, v in usage.items()
                                                                     if k != "cached_tokens"}}])
        ctx.record["backend_latency_ms"] = round(ctx.backend_ns / 1e6, 3)
        if end != "complete":
            ctx.record["error_code"] = "guardrail_violation" if end == "guardrail_blocked" else end
        gateway.finish(ctx, status)


async def _close(iterator: AsyncIterator[Any]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        try:
            await closer()
        except (Exception, asyncio.CancelledError):
            pass


async def close_stream(opened: OpenedStream) -> None:
    """Close a stream that will not be forwarded (its request was refused after it opened)."""
    await _close(opened.rest)
