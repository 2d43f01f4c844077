"""A chat request served by a Responses API deployment: the chat body out, the Response back as chat.

The inverse of ``translate.py``: the gateway's steps (grounding, guardrails, cache, recording) work on
chat completions, and a deployment whose ``api_style`` is ``azure_responses`` is called through Azure
OpenAI's Responses API. ``responses_body(params)`` is the Responses request for a chat body (messages
-> input items, function tools and ``tool_choice`` reshaped, ``response_format`` -> ``text.format``,
``max_completion_tokens``/``max_tokens`` -> ``max_output_tokens``, ``reasoning_effort`` ->
``reasoning.effort``, ``store: false`` since memory is the gateway's); ``chat_completion(response)``
is the chat completion of a Response; ``ChatChunks`` turns streamed Response events into chat chunks
(content deltas, tool-call deltas, the finish reason, then a usage chunk). Chat parameters the
Responses API has no equivalent for (``n`` > 1, ``stop``, ``logprobs``...) raise ``UnsupportedParameter``.
"""

from __future__ import annotations

from typing import Any

from shared.responses.items import messages_to_input

# chat parameters copied as they are
_SAME = ("temperature", "top_p", "parallel_tool_calls", "metadata", "user", "prompt_cache_key",
         "safety_identifier", "service_tier")
# chat parameters with no Responses equivalent; each is refused unless it asks for the default
_NO_EQUIVALENT = {"n": 1, "stop": None, "logprobs": False, "top_logprobs": None, "logit_bias": None,
                  "presence_penalty": 0, "frequency_penalty": 0, "seed": None, "audio": None,
                  "modalities": None, "prediction": None, "web_search_options": None}


class UnsupportedParameter(ValueError):
    def __init__(self, param: str) -> None:
        super().__init__(f"{param} is not supported by this deployment (it is served through the Responses API)")
        self.param = param


def responses_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for tool in tools:
        function = tool.get("function") or {}
        shaped = {"type": "function", "name": function.get("name"), "parameters": function.get("parameters") or {}}
        for key in ("description", "strict"):
            if key in function:
                shaped[key] = function[key]
        out.append(shaped)
    return out


def responses_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "name": (choice.get("function") or {}).get("name")}
    return choice


def text_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    if not response_format or response_format.get("type") == "text":
        return None
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        shaped = {"type": "json_schema", "name": schema.get("name") or "response",
                  "schema": schema.get("schema") or {}}
        for key in ("strict", "description"):
            if key in schema:
                shaped[key] = schema[key]
        return {"format": shaped}
    return {"format": {"type": response_format.get("type")}}


def responses_body(params: dict[str, Any], deployment: str) -> dict[str, Any]:
    """The Responses request for a chat completion request to ``deployment``."""
    for param, default in _NO_EQUIVALENT.items():
        if param in params and params[param] not in (default, None):
            raise UnsupportedParameter(param)
    body: dict[str, Any] = {"model": deployment, "input": messages_to_input(params.get("messages") or []),
                            "store": False}
    body.update({key: params[key] for key in _SAME if params.get(key) is not None})
    limit = params.get("max_completion_tokens") or params.get("max_tokens")
    if limit is not None:
        body["max_output_tokens"] = limit
    if params.get("reasoning_effort") is not None:
        body["reasoning"] = {"effort": params["reasoning_effort"]}
    if (tools := responses_tools(params.get("tools"))) is not None:
        body["tools"] = tools
    if params.get("tool_choice") is not None:
        body["tool_choice"] = responses_tool_choice(params["tool_choice"])
    text = text_format(params.get("response_format")) or {}
    if params.get("verbosity") is not None:
        text["verbosity"] = params["verbosity"]
    if text:
        body["text"] = text
    return body


def chat_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    usage = usage or {}
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(usage.get("total_tokens") or prompt + completion),
            "prompt_tokens_details": {"cached_tokens": int((usage.get("input_tokens_details") or {})
                                                           .get("cached_tokens") or 0)},
            "completion_tokens_details": {"reasoning_tokens": int((usage.get("output_tokens_details") or {})
                                                                  .get("reasoning_tokens") or 0)}}


def finish_reason(response: dict[str, Any], called_tools: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if called_tools else "stop"


def _tool_call(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item.get("call_id"), "type": "function",
            "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}}


def chat_completion(response: dict[str, Any]) -> dict[str, Any]:
    """The chat completion a client of the chat API gets for a (non-streamed) Response."""
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response.get("output") or []:
        if item.get("type") == "function_call":
            calls.append(_tool_call(item))
        elif item.get("type") == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    refusals.append(part.get("refusal") or "")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if calls:
        message["tool_calls"] = calls
    return {"id": response.get("id"), "object": "chat.completion", "created": int(response.get("created_at") or 0),
            "model": response.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(response, bool(calls)),
                         "logprobs": None}],
            "usage": chat_usage(response.get("usage"))}


class ResponseFailed(Exception):
    """The stream reported ``response.failed`` or an ``error`` event."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ChatChunks:
    """Streamed Response events in, chat completion chunks out (``feed`` returns the chunks of one event)."""

    def __init__(self) -> None:
        self._base: dict[str, Any] = {"object": "chat.completion.chunk", "id": None, "created": 0, "model": None}
        self._tool_index: dict[str, int] = {}  # output item id -> tool call index

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "response.created":
            response = event.get("response") or {}
            self._base.update(id=response.get("id"), created=int(response.get("created_at") or 0),
                              model=response.get("model"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "response.output_text.delta":
            return [self._chunk({"content": event.get("delta") or ""})]
        if kind == "response.refusal.delta":
            return [self._chunk({"refusal": event.get("delta") or ""})]
        if kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self._tool_index[str(item.get("id"))] = len(self._tool_index)
            return [self._chunk({"tool_calls": [{"index": index, "id": item.get("call_id"), "type": "function",
                                                 "function": {"name": item.get("name"), "arguments": ""}}]})]
        if kind == "response.function_call_arguments.delta":
            index = self._tool_index.get(str(event.get("item_id")), 0)
            arguments = event.get("delta") or ""
            return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})]
        if kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            return [self._chunk({}, finish_reason(response, bool(self._tool_index))),
                    {**self._base, "choices": [], "usage": chat_usage(response.get("usage"))}]
        if kind in ("response.failed", "error"):
            error = (event.get("response") or {}).get("error") or event.get("error") or event
            raise ResponseFailed(str(error.get("message") or "the response failed"), error.get("code"))
        return []
