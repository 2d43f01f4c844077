"""A cached body replays as a stream, and a streamed answer assembles into a cacheable body."""

from __future__ import annotations

from shared.cache.streaming import assemble, replay_chunks

BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Open Settings, choose Security, then Reset password. " * 3},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
}


def test_replay_then_assemble_round_trips() -> None:
    chunks = replay_chunks(BODY, include_usage=True)
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-1" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == BODY["usage"]
    assert len(chunks) > 4  # the content arrives in several pieces
    rebuilt = assemble(chunks)
    assert rebuilt["choices"] == BODY["choices"] and rebuilt["usage"] == BODY["usage"]


def test_tool_calls_round_trip() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"order": 42}'}}
    body = {
        **BODY,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
    }
    rebuilt = assemble(replay_chunks(body))
    message = rebuilt["choices"][0]["message"]
    assert message["tool_calls"] == [call] and rebuilt["choices"][0]["finish_reason"] == "tool_calls"


def test_assemble_streamed_argument_fragments() -> None:
    chunks = [
        {"id": "x", "model": "m", "created": 1, "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    body = assemble(chunks)
    assert body["choices"][0]["message"]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
