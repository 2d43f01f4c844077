"""A Chat Completions stream re-told as Responses API stream events.

``ResponseEventStream`` is fed the chat chunks as they arrive and gives back the events a Responses
client expects, each with its ``sequence_number``::

    response.created, response.in_progress
    response.output_item.added (message) -> response.content_part.added -> response.output_text.delta ...
        -> response.output_text.done -> response.content_part.done -> response.output_item.done
    response.output_item.added (function_call) -> response.function_call_arguments.delta ...
        -> response.function_call_arguments.done -> response.output_item.done
    response.completed | response.incomplete (with the whole Response and its usage)

``fail(code, message)`` ends a stream that broke or was blocked: an ``error`` event, then
``response.failed``. ``sse(event)`` frames an event for the wire (``event:`` and ``data:`` lines).
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.api.sse import event as sse_event
from shared.responses.translate import ResponsesRequest, incomplete_reason, response_object


def sse(event: dict[str, Any]) -> bytes:
    """One Responses stream event on the wire (its ``type`` as the ``event:`` line)."""
    return sse_event(event, name=str(event["type"]))


class ResponseEventStream:
    def __init__(self, request: ResponsesRequest, response_id: str, model: str) -> None:
        self.request = request
        self.response_id = response_id
        self.model = model
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self._text_item: dict[str, Any] | None = None
        self._text_index = -1
        self._calls: dict[int, tuple[int, dict[str, Any]]] = {}  # chat tool-call index -> (output index, item)
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.text = ""

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def _snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(self.request, response_id=self.response_id, model=self.model, output=self.output,
                               usage=self.usage if status != "in_progress" else None, status=status, **extra)

    def start(self) -> list[dict[str, Any]]:
        return [self._event("response.created", response=self._snapshot("in_progress")),
                self._event("response.in_progress", response=self._snapshot("in_progress"))]

    def _open_text(self) -> list[dict[str, Any]]:
        item = {"type": "message", "id": f"msg_{uuid.uuid4().hex[:24]}", "status": "in_progress",
                "role": "assistant", "content": []}
        self.output.append(item)
        self._text_item, self._text_index = item, len(self.output) - 1
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [self._event("response.output_item.added", output_index=self._text_index, item={**item, "content": []}),
                self._event("response.content_part.added", item_id=item["id"], output_index=self._text_index,
                            content_index=0, part=part)]

    def _close_text(self, status: str) -> list[dict[str, Any]]:
        item = self._text_item
        if item is None:
            return []
        part = {"type": "output_text", "text": self.text, "annotations": [], "logprobs": []}
        item["content"] = [part]
        item["status"] = status
        self._text_item = None
        where = {"item_id": item["id"], "output_index": self._text_index, "content_index": 0}
        return [self._event("response.output_text.done", **where, text=self.text, logprobs=[]),
                self._event("response.content_part.done", **where, part=part),
                self._event("response.output_item.done", output_index=self._text_index, item=item)]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events one chat chunk becomes (often none: role-only or usage chunks)."""
        events: list[dict[str, Any]] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                if self._text_item is None:
                    events.extend(self._open_text())
                item_id = self._text_item["id"] if self._text_item is not None else ""
                self.text += piece
                events.append(self._event("response.output_text.delta", item_id=item_id,
                                          output_index=self._text_index, content_index=0, delta=piece, logprobs=[]))
            for call in delta.get("tool_calls") or []:
                events.extend(self._tool_delta(call))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _tool_delta(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        index = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[dict[str, Any]] = []
        if index not in self._calls:
            item = {"type": "function_call", "id": f"fc_{uuid.uuid4().hex[:24]}",
                    "call_id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}", "name": function.get("name") or "",
                    "arguments": "", "status": "in_progress"}
            self.output.append(item)
            self._calls[index] = (len(self.output) - 1, item)
            events.append(self._event("response.output_item.added", output_index=len(self.output) - 1,
                                      item=dict(item)))
        position, item = self._calls[index]
        if function.get("name") and not item["name"]:
            item["name"] = function["name"]
        if function.get("arguments"):
            item["arguments"] += function["arguments"]
            events.append(self._event("response.function_call_arguments.delta", item_id=item["id"],
                                      output_index=position, delta=function["arguments"]))
        return events

    def finish(self) -> list[dict[str, Any]]:
        reason = incomplete_reason(self.finish_reason)
        status = "incomplete" if reason else "completed"
        events = self._close_text(status)
        for position, item in self._calls.values():
            item["status"] = "completed"
            events.append(self._event("response.function_call_arguments.done", item_id=item["id"],
                                      output_index=position, arguments=item["arguments"]))
            events.append(self._event("response.output_item.done", output_index=position, item=item))
        final = self._snapshot(status, incomplete_reason=reason)
        events.append(self._event(f"response.{status}", response=final))
        return events

    def fail(self, code: str, message: str, param: str | None = None) -> list[dict[str, Any]]:
        events = [self._event("error", code=code, message=message, param=param)]
        events.append(self._event("response.failed", response=self._snapshot(
            "failed", error={"code": code, "message": message})))
        return events

    def final_response(self) -> dict[str, Any]:
        """The Response as the stream delivered it (for the store and the request log)."""
        reason = incomplete_reason(self.finish_reason)
        return self._snapshot("incomplete" if reason else "completed", incomplete_reason=reason)
