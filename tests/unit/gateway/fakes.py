"""Fakes for driving the gateway pipeline in process: scripted model backends and recording sinks.

Everything else the pipeline uses in these tests is real (the SQLite store, keys, tenants, limits,
router, failover, recorder, telemetry with no exporter).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.api.errors import ApiError
from shared.backends import BackendError, BackendResult
from shared.deployments import Deployment


def completion(text: str = "Hello there.", *, prompt_tokens: int = 12, completion_tokens: int = 3,
               model: str = "m-1") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def chunks(*pieces: str, usage: bool = True) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "m-1"}
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    out += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        out.append({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": len(pieces),
                                                      "total_tokens": 9 + len(pieces)}})
    return out


def failure(alias: str, status: int | None, *, retryable: bool = True, code: str | None = None) -> BackendError:
    return BackendError(alias, status, "scripted failure", retryable=retryable, code=code)


@dataclass
class StreamScript:
    """A stream: its chunks, optionally raising ``error`` after ``fail_after`` chunks."""

    items: list[dict[str, Any]]
    error: BaseException | None = None
    fail_after: int = 0


class ScriptedBackend:
    """Answers each call with the next scripted outcome for that deployment alias (default: a completion)."""

    def __init__(self) -> None:
        self.script: dict[str, list[Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed_streams = 0

    def then(self, alias: str, *outcomes: Any) -> ScriptedBackend:
        self.script.setdefault(alias, []).extend(outcomes)
        return self

    def _next(self, deployment: Deployment, default: Any) -> Any:
        queue = self.script.get(deployment.alias)
        outcome = queue.pop(0) if queue else default
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def chat(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                   ) -> BackendResult:
        self.calls.append((deployment.alias, params))
        await asyncio.sleep(0)  # a network call yields to the loop: concurrent input checks start
        body = self._next(deployment, completion())
        return BackendResult(orjson.loads(orjson.dumps(body)), {}, 0.001)

    async def chat_stream(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                          ) -> AsyncIterator[dict[str, Any]]:
        self.calls.append((deployment.alias, params))
        script = self._next(deployment, StreamScript(chunks("Hi", " there.")))
        return self._iterate(script)

    async def _iterate(self, script: StreamScript) -> AsyncIterator[dict[str, Any]]:
        try:
            for index, item in enumerate(script.items):
                if script.error is not None and index == script.fail_after:
                    raise script.error
                yield orjson.loads(orjson.dumps(item))
            if script.error is not None and script.fail_after >= len(script.items):
                raise script.error
        finally:
            self.closed_streams += 1

    async def embed(self, deployment: Deployment, texts: list[str]) -> list[list[float]]:
        return [[0.0] for _ in texts]

    async def probe(self, deployment: Deployment) -> None:
        return None

    async def close(self) -> None:
        return None


class RecordingLog:
    """The request log's hot-path side: keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))


@dataclass
class ScriptedGuard:
    """A request's guardrails: blocks input, output or a stream chunk containing the words it is given."""

    ctx: Any
    block_input: str | None = None
    block_output: str | None = None
    redact_input: tuple[str, str] | None = None
    concurrent: bool = True
    phases: list[str] = field(default_factory=list)

    async def check_input(self, phase: str = "all") -> None:
        self.phases.append(phase)
        if phase in ("all", "rewrite") and self.redact_input is not None:
            old, new = self.redact_input
            self.ctx.messages = [{**m, "content": str(m.get("content", "")).replace(old, new)}
                                 for m in self.ctx.messages]
        if phase in ("all", "verdict") and self.block_input is not None:
            await asyncio.sleep(0)
            if any(self.block_input in str(m.get("content")) for m in self.ctx.messages):
                raise ApiError(400, "blocked input", param="injection", code="guardrail_violation")

    async def check_output(self, body: dict[str, Any]) -> None:
        text = body["choices"][0]["message"]["content"]
        if self.block_output is not None and self.block_output in text:
            raise ApiError(422, "blocked output", param="toxicity", code="guardrail_violation")

    def stream_filter(self) -> ScriptedStreamCheck:
        return ScriptedStreamCheck(self.block_output)


class ScriptedStreamCheck:
    def __init__(self, block: str | None) -> None:
        self.block = block
        self.error: bytes | None = None
        self.sent: list[str] = []
        self.recorded = False

    @property
    def sent_text(self) -> str:
        return "".join(self.sent)

    async def chunk(self, chunk: dict[str, Any], text: str) -> dict[str, Any] | None:
        if self.block is not None and self.block in text:
            self.error = b'data: {"error":{"code":"guardrail_violation"}}\n\n'
            return None
        self.sent.append(text)
        return chunk

    async def flush(self, template: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def record(self) -> None:
        self.recorded = True
