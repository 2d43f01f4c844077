"""The Responses API on a Chat Completions deployment: the request translated in, the answer out.

``parse_responses_request(body)`` validates a ``POST /v1/responses`` body (400s name the parameter);
``chat_body(request, history)`` is the equivalent chat request (``instructions`` -> system message,
``input`` items -> messages, function ``tools`` and ``tool_choice`` reshaped, ``text.format`` ->
``response_format``, ``max_output_tokens`` -> ``max_completion_tokens``, ``reasoning.effort`` ->
``reasoning_effort``); ``response_object(completion, request, ...)`` is the Response the client gets
from a chat completion (output ``message`` / ``function_call`` items, usage in Responses terms,
``status: incomplete`` when the answer was cut by the token limit or a content filter). Only function
tools exist on a chat deployment: hosted tools (web search, file search, code interpreter, MCP...)
are a 400 ``unsupported_value``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from shared.responses.items import ItemError, Message, input_to_messages


class ResponsesRequestError(ValueError):
    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[Any]
    instructions: StrictStr | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    stream: StrictBool = False
    store: StrictBool = True
    previous_response_id: StrictStr | None = None
    conversation: StrictStr | dict[str, Any] | None = None
    metadata: dict[str, StrictStr] | None = Field(default=None, max_length=16)
    user: StrictStr | None = None
    parallel_tool_calls: StrictBool | None = None
    truncation: Literal["auto", "disabled"] | None = None
    reasoning: dict[str, Any] | None = None
    background: StrictBool | None = None

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, dict):
            value = self.conversation.get("id")
            return value if isinstance(value, str) else None
        return self.conversation


def _param(error: Mapping[str, Any]) -> str:
    out = ""
    for part in error.get("loc", ()):
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" not in str(part) and part not in ("str", "list[any]", "dict[str,any]"):
            out += ("." if out else "") + str(part)
    return out


def parse_responses_request(body: dict[str, Any]) -> ResponsesRequest:
    try:
        request = ResponsesRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = _param(first)
        if first.get("type") == "missing":
            raise ResponsesRequestError(f"Missing required parameter: '{param}'.", param, "missing") from None
        raise ResponsesRequestError(f"Invalid value for '{param}': {first.get('msg', 'invalid')}.", param) from None
    if request.background:
        raise ResponsesRequestError("Background responses are not supported by this gateway.", "background",
                                    "unsupported_value")
    if request.previous_response_id is not None and request.conversation is not None:
        raise ResponsesRequestError("Send either 'previous_response_id' or 'conversation', not both.",
                                    "previous_response_id")
    if isinstance(request.input, list) and not request.input:
        raise ResponsesRequestError("'input' must not be empty.", "input", "empty_array")
    return request


def chat_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise ResponsesRequestError(f"Tool type {tool.get('type')!r} is not supported on this deployment; only "
                                        "function tools are.", f"tools[{index}].type", "unsupported_value")
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ResponsesRequestError("A function tool needs a 'name'.", f"tools[{index}].name", "missing")
        function = {"name": tool["name"], "parameters": tool.get("parameters") or {"type": "object",
                                                                                  "properties": {}}}
        for key in ("description", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        out.append({"type": "function", "function": function})
    return out


def chat_tool_choice(choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    if choice is None or isinstance(choice, str):
        if choice not in (None, "auto", "none", "required"):
            raise ResponsesRequestError(f"Invalid tool_choice {choice!r}.", "tool_choice")
        return choice
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise ResponsesRequestError("Only 'auto', 'none', 'required' or a function tool_choice is supported.",
                                "tool_choice", "unsupported_value")


def chat_response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    fmt = (text or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise ResponsesRequestError("text.format.type must be 'text', 'json_object' or 'json_schema'.",
                                    "text.format.type")
    if fmt["type"] == "text":
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if not isinstance(fmt.get("schema"), dict) or not isinstance(fmt.get("name"), str):
        raise ResponsesRequestError("A json_schema format needs 'name' and 'schema'.", "text.format")
    schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
    return {"type": "json_schema", "json_schema": schema}


def chat_body(request: ResponsesRequest, history: list[Message] | None = None) -> dict[str, Any]:
    """The Chat Completions request equivalent to ``request``, after ``history`` (conversation memory)."""
    try:
        new = input_to_messages(request.input, None)
    except ItemError as exc:
        raise ResponsesRequestError(str(exc), exc.param) from None
    system = [{"role": "system", "content": request.instructions}] if request.instructions else []
    body: dict[str, Any] = {"model": request.model, "messages": [*system, *(history or []), *new],
                            "stream": request.stream}
    optional = {
        "tools": chat_tools(request.tools), "tool_choice": chat_tool_choice(request.tool_choice),
        "response_format": chat_response_format(request.text), "temperature": request.temperature,
        "top_p": request.top_p, "max_completion_tokens": request.max_output_tokens, "user": request.user,
        "parallel_tool_calls": request.parallel_tool_calls if request.tools else None,
        "reasoning_effort": (request.reasoning or {}).get("effort"),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    return body


def new_response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def _item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def output_items(message: dict[str, Any], finish_reason: str | None) -> list[dict[str, Any]]:
    """A chat answer's message as Responses output items (text, refusal, function calls)."""
    status = "incomplete" if finish_reason in ("length", "content_filter") else "completed"
    items: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    if isinstance(message.get("content"), str) and message["content"]:
        content.append({"type": "output_text", "text": message["content"], "annotations": [], "logprobs": []})
    if message.get("refusal"):
        content.append({"type": "refusal", "refusal": message["refusal"]})
    if content:
        items.append({"type": "message", "id": _item_id("msg"), "status": status, "role": "assistant",
                      "content": content})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        items.append({"type": "function_call", "id": _item_id("fc"), "call_id": call.get("id") or _item_id("call"),
                      "name": function.get("name"), "arguments": function.get("arguments") or "",
                      "status": "completed"})
    return items


def responses_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {"input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": int((usage.get("prompt_tokens_details") or {}).get(
                "cached_tokens") or 0)},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": int((usage.get("completion_tokens_details") or {}).get(
                "reasoning_tokens") or 0)},
            "total_tokens": int(usage.get("total_tokens") or prompt + completion)}


def response_object(request: ResponsesRequest, *, response_id: str, model: str, output: list[dict[str, Any]],
                    usage: dict[str, Any] | None, status: str = "completed", incomplete_reason: str | None = None,
                    created_at: float | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Response object (what ``responses.create`` returns and ``response.completed`` carries)."""
    return {
        "id": response_id, "object": "response", "created_at": int(created_at or time.time()), "status": status,
        "error": error, "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": request.instructions, "max_output_tokens": request.max_output_tokens, "model": model,
        "output": output, "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": request.previous_response_id,
        "conversation": {"id": request.conversation_id} if request.conversation_id else None,
        "reasoning": {"effort": (request.reasoning or {}).get("effort"), "summary": None}, "store": request.store,
        "temperature": request.temperature if request.temperature is not None else 1.0,
        "text": request.text or {"format": {"type": "text"}}, "tool_choice": request.tool_choice or "auto",
        "tools": request.tools or [], "top_p": request.top_p if request.top_p is not None else 1.0,
        "truncation": request.truncation or "disabled", "usage": responses_usage(usage) if usage is not None else None,
        "user": request.user, "metadata": request.metadata or {},
    }


def incomplete_reason(finish_reason: object) -> str | None:
    """Why a Response is ``incomplete``, from the chat finish reason (None: it is complete)."""
    return {"length": "max_output_tokens", "content_filter": "content_filter"}.get(str(finish_reason))


def from_chat_completion(completion: dict[str, Any], request: ResponsesRequest, response_id: str) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    finish = choice.get("finish_reason")
    reason = incomplete_reason(finish)
    return response_object(request, response_id=response_id, model=str(completion.get("model") or request.model),
                           output=output_items(choice.get("message") or {}, finish),
                           usage=completion.get("usage") or {}, status="incomplete" if reason else "completed",
                           incomplete_reason=reason, created_at=completion.get("created"))


def output_messages(response: dict[str, Any]) -> list[Message]:
    """The assistant turn a Response adds to the conversation, as chat messages (for memory)."""
    text = output_text(response)
    calls = [{"id": item.get("call_id"), "type": "function",
              "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}}
             for item in response.get("output") or [] if item.get("type") == "function_call"]
    if not text and not calls:
        return []
    message: Message = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def output_text(response: dict[str, Any]) -> str:
    """All output text of a Response (what the output guardrails judge)."""
    return "".join(part.get("text", "") for item in response.get("output") or [] if item.get("type") == "message"
                   for part in item.get("content") or [] if part.get("type") == "output_text")
