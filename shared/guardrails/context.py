"""Where a request's context documents and question come from.

Context documents (what an answer must be grounded in, and what may carry an indirect injection):

- the request extension field ``context``: a list of strings or of ``{"content"|"text": str, ...}``
  objects (an OpenAI SDK sends it with ``extra_body={"context": [...]}``);
- ``<context>...</context>`` or ``<document>...</document>`` sections in system messages.

Tool / function results in the conversation are scanned for indirect injection as documents too
(the service reads them from the messages).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from shared.tokens import message_text

_SECTION = re.compile(r"<(context|document)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
DOCUMENT_ROLES = frozenset({"tool", "function"})


class ContextError(ValueError):
    """The ``context`` field is malformed (reported to the client as a 400)."""


def context_documents(extension: object, messages: Iterable[dict[str, Any]] = ()) -> list[str]:
    documents: list[str] = []
    if extension is not None:
        if not isinstance(extension, list):
            raise ContextError("'context' must be a list of strings or of objects with 'content'")
        for index, item in enumerate(extension):
            if isinstance(item, str):
                documents.append(item)
            elif isinstance(item, dict) and isinstance(text := item.get("content", item.get("text")), str):
                documents.append(text)
            else:
                raise ContextError(f"context[{index}] must be a string or an object with a string 'content'")
    for message in messages:
        if message.get("role") in ("system", "developer"):
            documents.extend(match.group(2).strip() for match in _SECTION.finditer(message_text(message)))
    return [doc for doc in documents if doc.strip()]


def last_user_text(messages: Iterable[dict[str, Any]]) -> str | None:
    text = None
    for message in messages:
        if message.get("role") == "user":
            text = message_text(message)
    return text
