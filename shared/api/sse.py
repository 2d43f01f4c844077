"""Server-sent events: the one place that frames them.

Everything that streams (the gateway relaying a model's stream, the cache replaying a stored answer,
a guardrail ending a stream with an error, the local simulator) builds its bytes here, so the
framing (``data: <json>\\n\\n``, the ``[DONE]`` sentinel of OpenAI's Chat Completions stream, the
optional ``event:`` line the Responses API uses) is written once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import orjson

from shared.api.errors import ApiError

MEDIA_TYPE = "text/event-stream"
DONE = b"data: [DONE]\n\n"


def event(payload: Mapping[str, Any], *, name: str | None = None) -> bytes:
    """One event carrying ``payload`` as JSON (``name`` adds an ``event:`` line, as the Responses API sends)."""
    data = b"data: " + orjson.dumps(payload) + b"\n\n"
    return data if name is None else b"event: " + name.encode() + b"\n" + data


def error_event(error: ApiError) -> bytes:
    """The event that ends a stream with an error (after the first byte no status can change)."""
    return b"data: " + error.body_bytes() + b"\n\n"


async def replay(payloads: Iterable[Mapping[str, Any]], *, done: bool = True) -> AsyncIterator[bytes]:
    """Events for payloads that are all known up front (a cached answer), then ``[DONE]``."""
    for payload in payloads:
        yield event(payload)
    if done:
        yield DONE
