"""Between streamed and non-streamed chat responses, for the cache.

The cache keeps complete non-streamed bodies. ``replay_chunks`` turns a cached body into the
``chat.completion.chunk`` objects a streaming client expects (role, content in pieces, tool calls,
finish reason, optional usage chunk); ``assemble`` rebuilds a complete body from the chunks of a
streamed answer so that it can be stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

PIECE_CHARS = 48  # content per replayed chunk


def _pieces(text: str, size: int) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):  # break after a space where there is one
            space = text.rfind(" ", start + 1, end)
            end = space + 1 if space > start else end
        yield text[start:end]
        start = end


def replay_chunks(body: dict[str, Any], *, include_usage: bool = False) -> list[dict[str, Any]]:
    base = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
    }
    if body.get("system_fingerprint") is not None:
        base["system_fingerprint"] = body["system_fingerprint"]
    chunks: list[dict[str, Any]] = []

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> None:
        chunks.append(
            {**base, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        )

    for choice in body.get("choices") or []:
        index = int(choice.get("index", 0))
        message = choice.get("message") or {}
        chunk(index, {"role": message.get("role", "assistant"), "content": ""})
        for piece in _pieces(message.get("content") or "", PIECE_CHARS):
            chunk(index, {"content": piece})
        if message.get("refusal"):
            chunk(index, {"refusal": message["refusal"]})
        for position, call in enumerate(message.get("tool_calls") or []):
            chunk(index, {"tool_calls": [{"index": position, **call}]})
        chunk(index, {}, choice.get("finish_reason") or "stop")
    if include_usage:
        chunks.append({**base, "choices": [], "usage": body.get("usage")})
    return chunks


def assemble(chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A ``chat.completion`` body from streamed chunks (content, refusals and tool calls joined)."""
    body: dict[str, Any] = {"object": "chat.completion"}
    choices: dict[int, dict[str, Any]] = {}
    for item in chunks:
        for key in ("id", "created", "model", "system_fingerprint"):
            if item.get(key) is not None:
                body[key] = item[key]
        if item.get("usage"):
            body["usage"] = item["usage"]
        for choice in item.get("choices") or []:
            state = choices.setdefault(
                int(choice.get("index", 0)), {"message": {"role": "assistant", "content": ""}, "calls": {}}
            )
            delta = choice.get("delta") or {}
            if delta.get("role"):
                state["message"]["role"] = delta["role"]
            if delta.get("content"):
                state["message"]["content"] += delta["content"]
            if delta.get("refusal"):
                state["message"]["refusal"] = state["message"].get("refusal", "") + delta["refusal"]
            for call in delta.get("tool_calls") or []:
                slot = state["calls"].setdefault(int(call.get("index", 0)), {"function": {"arguments": ""}})
                for key in ("id", "type"):
                    if call.get(key):
                        slot[key] = call[key]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["function"]["name"] = function["name"]
                slot["function"]["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]
    body["choices"] = []
    for index in sorted(choices):
        state = choices[index]
        message = state["message"]
        if state["calls"]:
            message["tool_calls"] = [state["calls"][i] for i in sorted(state["calls"])]
        body["choices"].append({"index": index, "message": message, "finish_reason": state.get("finish_reason")})
    return body
