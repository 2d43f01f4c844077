"""Plausible, deterministic completions for the simulator.

The same request always produces the same answer (seeded by the messages), so tests and
benchmarks are repeatable. Answers reuse words from the question so they read as replies, honour
``max_tokens``, ``stop``, JSON mode and tool calls, and report token usage counted with the same
estimator the gateway uses.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from functools import lru_cache
from typing import Any

from shared.tokens import count_message_tokens, count_text_tokens, message_text

_OPENERS = (
    "Here is a short answer about {topic}.",
    "Good question about {topic}.",
    "Let me explain {topic} step by step.",
    "In short, {topic} comes down to a few points.",
    "Thanks for asking about {topic}.",
)
_SENTENCES = (
    "The most important factor is to start from what you already know.",
    "Most teams find that a small, well-tested change works better than a large rewrite.",
    "You can check the current settings in your account before making any change.",
    "If the problem persists, contact support with the reference number of your order.",
    "This usually takes a few minutes, and you will receive a confirmation email.",
    "Keep in mind that prices and availability may vary by region.",
    "A simple way to verify the result is to repeat the steps on a second device.",
    "The documentation describes each option together with an example.",
    "For most customers, the standard plan covers everything they need.",
    "Measure before and after, so you know whether the change helped.",
    "It is safer to make a backup first, even if the update looks routine.",
    "Many users also ask how this interacts with their existing subscription.",
)
_STOPWORDS = frozenset(
    "a an the is are was were be to of and or in on for with how what why when where which who do does "
    "can could should would i you my your me we our it this that these those please tell about".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


def _topic(text: str) -> str:
    words = [w for w in _WORD.findall(text) if w.lower() not in _STOPWORDS]
    return " ".join(words[:4]).lower() if words else "your request"


def seed_of(messages: list[dict[str, Any]], salt: str = "") -> int:
    digest = hashlib.blake2b((salt + json.dumps(messages, sort_keys=True, default=str)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


@lru_cache(maxsize=4096)
def _text_for(seed: int, topic: str, target_tokens: int) -> str:
    rng = random.Random(seed)
    parts = [rng.choice(_OPENERS).format(topic=topic)]
    tokens = count_text_tokens(parts[0])
    while tokens < target_tokens:
        sentence = rng.choice(_SENTENCES)
        parts.append(sentence)
        tokens += count_text_tokens(sentence) + 1
    return " ".join(parts)


def _truncate_to_tokens(text: str, limit: int) -> tuple[str, bool]:
    if count_text_tokens(text) <= limit:
        return text, False
    words = text.split(" ")
    out: list[str] = []
    for word in words:
        candidate = " ".join([*out, word])
        if count_text_tokens(candidate) > limit:
            break
        out.append(word)
    return " ".join(out), True


def _apply_stop(text: str, stop: Any) -> tuple[str, bool]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _sample_value(schema: dict[str, Any], name: str, rng: random.Random) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if kind == "integer":
        return rng.randint(1, 10)
    if kind == "number":
        return round(rng.uniform(1, 100), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [_sample_value(schema.get("items") or {"type": "string"}, name, rng)]
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _sample_value(v, k, rng) for k, v in props.items() if k in (schema.get("required") or props)}
    return f"sample {name}"


def _tool_call(request: dict[str, Any], rng: random.Random, user_text: str) -> dict[str, Any] | None:
    tools = [t for t in request.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"]
    if not tools:
        return None
    choice = request.get("tool_choice", "auto")
    if choice == "none":
        return None
    chosen = None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        chosen = next((t for t in tools if t["function"].get("name") == wanted), None)
    elif choice == "required":
        chosen = tools[0]
    else:  # auto: call a tool whose name the user mentions
        lowered = user_text.lower()
        chosen = next((t for t in tools if t["function"].get("name", "").replace("_", " ") in lowered
                       or t["function"].get("name", "") in lowered), None)
    if chosen is None:
        return None
    function = chosen["function"]
    arguments = _sample_value(function.get("parameters") or {"type": "object"}, function.get("name", "f"), rng)
    return {"id": f"call_{rng.getrandbits(64):016x}", "type": "function",
            "function": {"name": function.get("name"), "arguments": json.dumps(arguments)}}


def complete(request: dict[str, Any], *, default_tokens: tuple[int, int] = (20, 120)) -> dict[str, Any]:
    """The assistant message, finish reason and token usage for a chat request."""
    messages = request.get("messages") or []
    user_text = next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    seed = seed_of(messages, str(request.get("seed", "")))
    rng = random.Random(seed)
    prompt_tokens = count_message_tokens(messages)
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    call = _tool_call(request, rng, user_text)
    if call is not None:
        completion_tokens = count_text_tokens(call["function"]["arguments"]) + 5
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        target = rng.randint(*default_tokens)
        text = _text_for(seed, _topic(user_text), target)
        response_format = (request.get("response_format") or {}).get("type")
        if response_format in ("json_object", "json_schema"):
            text = json.dumps({"answer": text, "topic": _topic(user_text)})
        text, _stopped = _apply_stop(text, request.get("stop"))
        truncated = False
        if limit:
            text, truncated = _truncate_to_tokens(text, int(limit))
        completion_tokens = count_text_tokens(text) if text else 0
        message = {"role": "assistant", "content": text, "refusal": None}
        finish = "length" if truncated else "stop"
    return {
        "message": message,
        "finish_reason": finish,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def split_for_stream(text: str) -> list[str]:
    """Split text into stream deltas of about one token each (a word with its leading space)."""
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


def embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words get similar vectors."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()) or [""]:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dimensions
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]
