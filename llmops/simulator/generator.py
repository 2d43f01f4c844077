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

from llmops.simulator import embeddings, grounded, structured, tools
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


def complete(request: dict[str, Any], *, default_tokens: tuple[int, int] = (20, 120),
             hallucinate: bool = False) -> dict[str, Any]:
    """The assistant message, finish reason and token usage for a chat request.

    A tool call when a tool fits (``tools.py``), else an answer from the supplied context when there is
    some (``grounded.py``), else generated prose; ``response_format`` json_schema answers JSON valid
    against the schema (``structured.py``), json_object a JSON object."""
    messages = request.get("messages") or []
    user_text = next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    seed = seed_of(messages, str(request.get("seed", "")))
    rng = random.Random(seed)
    prompt_tokens = count_message_tokens(messages)
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    grounded_text = grounded.grounded_answer(messages, user_text)
    if grounded_text is not None and hallucinate:
        grounded_text = grounded.misremember(grounded_text, rng)
    call = tools.tool_call(request, rng, user_text, structured.hints_from(user_text, grounded_text or "", _STOPWORDS))
    if call is not None:
        completion_tokens = count_text_tokens(call["function"]["arguments"]) + 5
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        target = rng.randint(*default_tokens)
        text = grounded_text if grounded_text is not None else _text_for(seed, _topic(user_text), target)
        response_format = request.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
            hints = structured.hints_from(user_text, text.split(". ")[0].rstrip(".") + ".", _STOPWORDS)
            text = json.dumps(structured.value_for_schema(schema, hints, rng))
        elif response_format.get("type") == "json_object":
            text = json.dumps({"answer": text, "topic": _topic(user_text)})
        else:
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
    """A deterministic vector whose cosine similarity reflects shared wording (``embeddings.py``)."""
    return embeddings.embedding(text, dimensions)
