"""Tool calls for the simulator: which function a model would call, and with what arguments.

Under ``tool_choice="auto"`` a real model calls a tool when the request is about what the tool does;
so does the simulator: each function's name (split at ``_`` and camelCase) and description are
compared with the user's last message, word stems against word stems, and the best-fitting function
is called when it shares at least one specific word with the request (generic verbs such as "get"
or "list" do not count on their own). Once a tool result is the last message, the model answers
in text instead of calling again. ``"required"`` calls the best fit (or the first function), a named
``tool_choice`` calls that function, ``"none"`` never calls.

Arguments are made to validate against the function's ``parameters`` schema
(``structured.value_for_schema``), borrowing values from the request: ids and numbers it mentions,
enum values it names.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from llmops.simulator.structured import Hints, value_for_schema
from shared.grounding.text import stem

_GENERIC = frozenset(
    "get set list fetch find search lookup look up call run do make create update delete remove tool function "
    "data info information details item items result results query request value values new use by for of the "
    "a an to and or with from in on is are my your me".split()
)
_WORD = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(_CAMEL.sub(" ", text.replace("_", " ")))}


def function_tools(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in request.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"
            and isinstance(t.get("function"), dict) and t["function"].get("name")]


def fit(tool: dict[str, Any], request_stems: set[str]) -> int:
    """How many specific word stems the function's name and description share with the request."""
    function = tool["function"]
    described = stems(f"{function.get('name', '')} {function.get('description') or ''}")
    return len((described & request_stems) - {stem(g) for g in _GENERIC})


def choose_tool(request: dict[str, Any], user_text: str) -> dict[str, Any] | None:
    tools = function_tools(request)
    if not tools:
        return None
    choice = request.get("tool_choice", "auto")
    if choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name") or choice.get("name")
        return next((t for t in tools if t["function"].get("name") == wanted), None)
    messages = request.get("messages") or []
    if choice != "required" and messages and messages[-1].get("role") in ("tool", "function"):
        return None  # the tool has answered: now the model replies in words
    request_stems = stems(user_text)
    scored = sorted(((fit(t, request_stems), i) for i, t in enumerate(tools)), key=lambda s: (-s[0], s[1]))
    best_score, best_index = scored[0]
    if best_score > 0:
        return tools[best_index]
    return tools[0] if choice == "required" else None


def tool_call(request: dict[str, Any], rng: random.Random, user_text: str, hints: Hints) -> dict[str, Any] | None:
    """The assistant's tool call for this request, or None when it answers in text."""
    chosen = choose_tool(request, user_text)
    if chosen is None:
        return None
    function = chosen["function"]
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    arguments = value_for_schema(parameters, hints, rng)
    return {"id": f"call_{rng.getrandbits(64):016x}", "type": "function",
            "function": {"name": function["name"], "arguments": json.dumps(arguments)}}


def stream_deltas(call: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    """A tool call as a model streams it: id, type and name first, then the arguments in pieces."""
    arguments = call["function"]["arguments"]
    deltas: list[dict[str, Any]] = [{"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                                     "function": {"name": call["function"]["name"],
                                                                  "arguments": ""}}]}]
    pieces = re.findall(r".{1,12}", arguments, flags=re.DOTALL) or [""]
    deltas.extend({"tool_calls": [{"index": index, "function": {"arguments": piece}}]} for piece in pieces)
    return deltas


def message_deltas(message: dict[str, Any], split_text: Any) -> list[dict[str, Any]]:
    """A whole assistant message as the deltas a stream sends: the role, then text pieces
    (``split_text(text)``) or each tool call's header and argument pieces."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("tool_calls"):
        for index, call in enumerate(message["tool_calls"]):
            deltas.extend(stream_deltas(call, index))
    else:
        deltas.extend({"content": piece} for piece in split_text(message.get("content") or ""))
    return deltas
