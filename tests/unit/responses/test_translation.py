"""Responses API <-> Chat Completions: requests, items, Response objects and stream events."""

from __future__ import annotations

import pytest

from shared.responses.events import ResponseEventStream
from shared.responses.items import input_to_messages, messages_to_input
from shared.responses.translate import (
    ResponsesRequestError,
    chat_body,
    from_chat_completion,
    output_messages,
    parse_responses_request,
)

TOOL = {"type": "function", "name": "lookup_order", "description": "Order status",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}, "strict": True}


def test_request_becomes_the_equivalent_chat_request() -> None:
    request = parse_responses_request({
        "model": "gpt-4o-mini", "instructions": "Be brief.", "max_output_tokens": 200, "temperature": 0,
        "tools": [TOOL], "tool_choice": {"type": "function", "name": "lookup_order"}, "user": "u1",
        "text": {"format": {"type": "json_schema", "name": "order", "schema": {"type": "object"}, "strict": True}},
        "reasoning": {"effort": "low"}, "stream": True,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Where is 42?"},
                                               {"type": "input_image", "image_url": "https://x/y.png"}]}]})
    body = chat_body(request, history=[{"role": "user", "content": "earlier"}])
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "earlier"},
                                {"role": "user", "content": [{"type": "text", "text": "Where is 42?"},
                                                             {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
    assert body["tools"] == [{"type": "function", "function": {"name": "lookup_order", "description": "Order status",
                                                               "strict": True, "parameters": TOOL["parameters"]}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup_order"}}
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "order", "schema": {
        "type": "object"}, "strict": True}}
    assert body["max_completion_tokens"] == 200 and body["reasoning_effort"] == "low" and body["user"] == "u1"
    assert body["stream_options"] == {"include_usage": True} and body["temperature"] == 0


def test_function_call_items_round_trip_through_chat_messages() -> None:
    items = [{"role": "user", "content": "Status of 42 and 43?"},
             {"type": "function_call", "call_id": "c1", "name": "lookup_order", "arguments": '{"order_id":"42"}'},
             {"type": "function_call", "call_id": "c2", "name": "lookup_order", "arguments": '{"order_id":"43"}'},
             {"type": "function_call_output", "call_id": "c1", "output": "shipped"},
             {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "late"}]},
             {"type": "reasoning", "id": "rs_1", "summary": []},
             {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "42 shipped."}]}]
    messages = input_to_messages(items, "Be nice.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["c1", "c2"] and messages[4]["content"] == "late"
    assert messages[5]["content"] == "42 shipped."
    back = messages_to_input(messages[1:])
    assert [i.get("type") for i in back] == ["message", "function_call", "function_call", "function_call_output",
                                             "function_call_output", "message"]
    assert back[5]["content"][0] == {"type": "output_text", "text": "42 shipped.", "annotations": []}


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"model": "m"}, "input", "missing"),
    ({"model": "m", "input": []}, "input", "empty_array"),
    ({"model": "m", "input": "x", "temperature": 5}, "temperature", "invalid_value"),
    ({"model": "m", "input": "x", "background": True}, "background", "unsupported_value"),
    ({"model": "m", "input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"},
     "previous_response_id", "invalid_value"),
])
def test_bad_requests_name_the_parameter(body: dict, param: str, code: str) -> None:
    with pytest.raises(ResponsesRequestError) as caught:
        parse_responses_request(body)
    assert (caught.value.param, caught.value.code) == (param, code)


@pytest.mark.parametrize(("field", "param"), [
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0]"),
    ({"input": [{"role": "wizard", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
    ({"text": {"format": {"type": "json_schema"}}}, "text.format"),
    ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
])
def test_untranslatable_parts_are_400s(field: dict, param: str) -> None:
    request = parse_responses_request({"model": "m", "input": "x", **field})
    with pytest.raises(ResponsesRequestError) as caught:
        chat_body(request)
    assert caught.value.param == param


def test_chat_completion_becomes_a_response() -> None:
    request = parse_responses_request({"model": "gpt-4o", "input": "hi", "metadata": {"k": "v"}})
    completion = {"model": "gpt-4o-2024", "created": 100, "usage": {"prompt_tokens": 5, "completion_tokens": 3,
                                                                   "total_tokens": 8},
                  "choices": [{"finish_reason": "length", "message": {"role": "assistant", "content": "Hel",
                               "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}]}}]}
    response = from_chat_completion(completion, request, "resp_abc")
    assert response["id"] == "resp_abc" and response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"} and response["metadata"] == {"k": "v"}
    assert [i["type"] for i in response["output"]] == ["message", "function_call"]
    assert response["output"][0]["content"][0]["text"] == "Hel" and response["output"][1]["call_id"] == "call_1"
    assert response["usage"] == {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 3,
                                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8}
    assert output_messages(response) == [{"role": "assistant", "content": "Hel", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]


def test_chat_stream_becomes_ordered_response_events() -> None:
    request = parse_responses_request({"model": "gpt-4o", "input": "hi", "stream": True})
    stream = ResponseEventStream(request, "resp_1", "gpt-4o")
    events = stream.start()
    for chunk in ({"choices": [{"delta": {"role": "assistant", "content": ""}}]},
                  {"choices": [{"delta": {"content": "Hello"}}]}, {"choices": [{"delta": {"content": " you"}}]},
                  {"choices": [{"delta": {"tool_calls": [
                      {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{\"a\""}}]}}]},
                  {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}]},
                  {"choices": [{"delta": {}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}}):
        events += stream.feed(chunk)
    events += stream.finish()
    kinds = [e["type"] for e in events]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                     "response.output_item.added", "response.function_call_arguments.delta",
                     "response.function_call_arguments.delta", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done",
                     "response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "Hello you" and final["output"][1]["arguments"] == '{"a": 1}'
    assert final["usage"]["total_tokens"] == 6
    failed = ResponseEventStream(request, "resp_2", "gpt-4o").fail("guardrail_violation", "blocked", "toxicity")
    assert [e["type"] for e in failed] == ["error", "response.failed"]
    assert failed[1]["response"]["error"] == {"code": "guardrail_violation", "message": "blocked"}
