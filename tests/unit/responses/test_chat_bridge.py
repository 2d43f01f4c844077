"""Chat requests sent to a Responses API deployment, and its Responses read back as chat."""

from __future__ import annotations

import pytest

from shared.responses.chat_bridge import (
    ChatChunks,
    ResponseFailed,
    UnsupportedParameter,
    chat_completion,
    responses_body,
)

TOOL = {"type": "function", "function": {"name": "lookup", "description": "d", "strict": True,
                                         "parameters": {"type": "object", "properties": {}}}}


def test_a_chat_body_becomes_a_responses_request() -> None:
    body = responses_body({
        "model": "alias", "max_tokens": 50, "temperature": 0.2, "reasoning_effort": "low", "user": "u1",
        "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "Order", "schema": {"type": "object"},
                                                                   "strict": True}},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "found"}]}, "dep-1")
    assert body["model"] == "dep-1" and body["store"] is False and body["max_output_tokens"] == 50
    assert body["reasoning"] == {"effort": "low"} and body["temperature"] == 0.2 and body["user"] == "u1"
    assert body["tools"] == [{"type": "function", "name": "lookup", "description": "d", "strict": True,
                              "parameters": {"type": "object", "properties": {}}}]
    assert body["tool_choice"] == {"type": "function", "name": "lookup"}
    assert body["text"] == {"format": {"type": "json_schema", "name": "Order", "schema": {"type": "object"},
                                       "strict": True}}
    assert [item.get("role") or item["type"] for item in body["input"]] == [
        "system", "user", "function_call", "function_call_output"]


@pytest.mark.parametrize("params", [{"n": 2}, {"stop": ["x"]}, {"logprobs": True}, {"seed": 3}])
def test_parameters_without_an_equivalent_are_refused(params: dict) -> None:
    with pytest.raises(UnsupportedParameter):
        responses_body({"messages": [{"role": "user", "content": "x"}], **params}, "d")
    assert responses_body({"messages": [], "n": 1, "stop": None, "logprobs": False}, "d")["input"] == []


def test_a_response_reads_as_a_chat_completion() -> None:
    completion = chat_completion({
        "id": "resp_1", "created_at": 5, "model": "m", "status": "completed",
        "output": [{"type": "reasoning", "summary": []},
                   {"type": "message", "content": [{"type": "output_text", "text": "Hello "},
                                                   {"type": "output_text", "text": "there"}]}],
        "usage": {"input_tokens": 7, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4},
                  "input_tokens_details": {"cached_tokens": 2}}})
    choice = completion["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello there"} and choice["finish_reason"] == "stop"
    assert completion["usage"]["total_tokens"] == 16
    assert completion["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4
    assert completion["usage"]["prompt_tokens_details"]["cached_tokens"] == 2
    cut = chat_completion({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
                           "output": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]})
    assert cut["choices"][0]["finish_reason"] == "length"
    message = cut["choices"][0]["message"]
    assert message["content"] is None and message["tool_calls"][0]["id"] == "c"


def test_streamed_events_become_chat_chunks_with_tool_call_deltas_and_usage() -> None:
    chunks = ChatChunks()
    out = []
    for event in [
        {"type": "response.created", "response": {"id": "resp_1", "created_at": 1, "model": "m"}},
        {"type": "response.output_text.delta", "delta": "Let me check."},
        {"type": "response.output_item.added", "item": {"type": "function_call", "id": "fc_1", "call_id": "c1",
                                                        "name": "lookup"}},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"id"'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": ': 1}'},
        {"type": "response.output_text.done", "text": "Let me check."},
        {"type": "response.completed", "response": {"status": "completed", "usage": {"input_tokens": 3,
                                                                                     "output_tokens": 4}}},
    ]:
        out.extend(chunks.feed(event))
    deltas = [chunk["choices"][0]["delta"] for chunk in out if chunk["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""} and deltas[1] == {"content": "Let me check."}
    assert deltas[2]["tool_calls"][0] == {"index": 0, "id": "c1", "type": "function",
                                          "function": {"name": "lookup", "arguments": ""}}
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:5]) == '{"id": 1}'
    assert out[-2]["choices"][0]["finish_reason"] == "tool_calls" and out[-1]["usage"]["total_tokens"] == 7
    assert all(chunk["id"] == "resp_1" for chunk in out)
    with pytest.raises(ResponseFailed, match="overloaded"):
        ChatChunks().feed({"type": "response.failed", "response": {"error": {"message": "overloaded",
                                                                              "code": "server_error"}}})
