"""Relaying a model's stream to the client as server-sent events.

The stream is opened and its first chunk awaited *before* the response starts (``open_stream``), so a
backend that fails up front still gets a proper HTTP status, and the router can retry or fail over to
another deployment. After the first byte has gone out nothing can be retried: a backend failure ends
the stream with an error event. Usage is always requested from the backend; the final usage chunk is
forwarded only when the client asked for it (``stream_options.include_usage``), and counted locally
when the backend sends none. Output guardrails see the text as it arrives and forward only checked
text (a block ends the stream with an error event). A client that disconnects mid-stream closes the
backend stream. However the stream ends, the recorder finishes the request once.

The relay gets what it needs when it is built (the recorder, the breaker callback, the cache): it
never calls back into the pipeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.api import sse
from shared.backends import Backend, BackendError, Chunk
from shared.deployments import Deployment
from shared.gateway.context import ChatContext, StreamCheck, answer_model, usage_of
from shared.gateway.recorder import Recorder
from shared.request_record import Usage
from shared.tokens import count_text_tokens

if TYPE_CHECKING:
    from shared.cache.gateway import GatewayCache


@dataclass(slots=True)
class OpenedStream:
    first: Chunk | None
    rest: AsyncIterator[Chunk]
    opened_ns: int
    first_chunk_ns: int
    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # assembled from the deltas, by index

    def take_tool_calls(self, chunk: Chunk) -> None:
        for choice in chunk.get("choices") or ():
            for delta in (choice.get("delta") or {}).get("tool_calls") or ():
                call = self.tool_calls.setdefault(int(delta.get("index") or 0), {
                    "id": "", "type": "function", "function": {"name": "", "arguments": ""}})
                call["id"] = delta.get("id") or call["id"]
                function = delta.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""

    def answer(self, text: str) -> dict[str, Any]:
        """The streamed answer as one assistant message (what conversation memory keeps)."""
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return message


def chunk_text(chunk: Chunk) -> str:
    parts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            parts.append(delta["content"])
    return "".join(parts)


async def close_quietly(iterator: AsyncIterator[Any]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        try:
            await closer()
        except (Exception, asyncio.CancelledError):
            pass


class StreamRelay:
    def __init__(self, backends: Backend, recorder: Recorder, *,
                 on_interrupted: Callable[[Deployment], None], cache: GatewayCache | None = None) -> None:
        self.backends = backends
        self.recorder = recorder
        self.on_interrupted = on_interrupted
        self.cache = cache

    async def open(self, ctx: ChatContext, deployment: Deployment, params: dict[str, Any],
                   timeout_s: float) -> OpenedStream:
        """Open the stream and wait for its first chunk (one failover attempt)."""
        started = time.perf_counter_ns()
        try:
            chunks = await self.backends.chat_stream(deployment, params, timeout_s=timeout_s)
            iterator = aiter(chunks)
            try:
                first: Chunk | None = await anext(iterator)
            except StopAsyncIteration:
                first = None
            except BaseException:  # failed or timed out before the first chunk: free the connection, fail over
                await close_quietly(iterator)
                raise
        finally:
            ctx.backend_ns += time.perf_counter_ns() - started
        return OpenedStream(first, iterator, started, time.perf_counter_ns())

    @staticmethod
    async def close(opened: OpenedStream) -> None:
        """Close a stream that will not be forwarded (its request was refused after it opened)."""
        await close_quietly(opened.rest)

    async def events(self, ctx: ChatContext, opened: OpenedStream) -> AsyncIterator[bytes]:
        assert ctx.request is not None and ctx.deployment is not None
        wants_usage = ctx.request.wants_usage_in_stream
        usage: Usage | None = None
        last: Chunk = {}
        finish_reasons: list[str] = []
        status, end = 200, "complete"
        guard = ctx.guardrails.stream_filter() if ctx.guardrails is not None else None
        sent: list[Chunk] | None = [] if ctx.cache is not None and self.cache is not None else None
        ctx.record["ttft_ms"] = round((opened.first_chunk_ns - ctx.received_ns) / 1e6, 3)
        chunk = opened.first
        model = answer_model(ctx)
        try:
            while chunk is not None:
                if "model" in chunk:
                    chunk["model"] = model
                if chunk.get("usage"):
                    usage = usage_of(chunk)
                if not chunk.get("choices") and chunk.get("usage"):
                    if wants_usage:
                        yield sse.event(chunk)
                else:
                    if not wants_usage:
                        chunk.pop("usage", None)
                    text = chunk_text(chunk)
                    opened.text.append(text)
                    opened.take_tool_calls(chunk)
                    finish_reasons.extend(c["finish_reason"] for c in chunk.get("choices") or ()
                                          if c.get("finish_reason"))
                    last = chunk
                    checked = await guard.chunk(chunk, text) if guard is not None else chunk
                    if guard is not None and guard.error is not None:
                        break
                    if checked is not None:
                        if sent is not None:
                            sent.append(checked)
                        yield sse.event(checked)
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
                yield sse.event(tail)
            if guard is not None and guard.error is not None:
                status, end = 422, "guardrail_blocked"
                yield guard.error
            else:
                await ctx.commit(opened.answer(guard.sent_text if guard is not None else "".join(opened.text)))
                yield sse.DONE
        except BackendError as exc:
            status, end = 502, "upstream_interrupted"
            ctx.record["backend_error"] = {"deployment": exc.deployment, "status": exc.status, "code": exc.code}
            self.on_interrupted(ctx.deployment)
            error = exc.to_api_error()
            error.message = f"The model stream was interrupted: {exc.message}"
            error.code = "stream_interrupted"
            yield sse.error_event(error)
        except (asyncio.CancelledError, GeneratorExit):
            status, end = 499, "client_disconnected"
            raise
        finally:
            await close_quietly(opened.rest)
            self._end(ctx, opened, guard, sent, usage, last, finish_reasons, status, end)

    def _end(self, ctx: ChatContext, opened: OpenedStream, guard: StreamCheck | None, sent: list[Chunk] | None,
             usage: Usage | None, last: Chunk, finish_reasons: list[str], status: int, end: str) -> None:
        if usage is None:  # the backend sent no usage (or the stream broke): count locally
            prompt = ctx.prompt_token_count()
            completion = count_text_tokens("".join(opened.text))
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": 0,
                     "total_tokens": prompt + completion}
            ctx.record["usage_estimated"] = True
        self.recorder.account(ctx, last, usage)
        ctx.completion_text = "".join(opened.text) if guard is None else guard.sent_text
        if guard is not None:
            guard.record()
        ctx.record["finish_reasons"] = finish_reasons
        ctx.record["stream_end"] = end
        if end == "complete" and sent is not None and self.cache is not None:  # what the client got
            self.cache.store_stream_later(ctx, [*sent, {"usage": {k: v for k, v in usage.items()
                                                                  if k != "cached_tokens"}}])
        ctx.record["backend_latency_ms"] = round(ctx.backend_ns / 1e6, 3)
        if end != "complete":
            ctx.record["error_code"] = "guardrail_violation" if end == "guardrail_blocked" else end
        self.recorder.finish(ctx, status)
