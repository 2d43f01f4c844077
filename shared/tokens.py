"""Token counting without network access.

The exact tokenizers (``tiktoken``'s o200k_base) download their vocabulary on first use, which
fails offline, so the gateway estimates: it splits text the way o200k's pre-tokenizer does
(words with their leading space, 1–3 digit groups, punctuation runs, whitespace) and counts
long words as several tokens (~4 characters each). On English prose this lands within ~10% of the
real count. Estimates are only used up front (limit reservations) and when a backend does not
report usage; the usage the model returns is what gets billed and logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_PIECES = re.compile(r"""[^\W\d_]+|\d{1,3}|[^\s\w]+|\s+""", re.UNICODE)
# Chat formatting overhead per message and for the reply priming (OpenAI's published rule of thumb).
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3
TOKENS_PER_IMAGE = 765  # a high-detail 512x512 tile budget; images are estimated, not measured


def count_text_tokens(text: str) -> int:
    if not text:
        return 0
    tokens = 0
    for piece in _PIECES.findall(text):
        if piece.isspace():
            tokens += 1 if "\n" in piece or len(piece) > 1 else 0
        elif piece[0].isalpha():
            tokens += 1 + (len(piece) - 1) // 6 if piece.isascii() else max(1, len(piece) // 2)
        else:
            tokens += max(1, (len(piece) + 1) // 2) if not piece[0].isdigit() else 1
    return max(tokens, 1)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: string content or the text parts of multi-part content."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


def count_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    total = TOKENS_REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + count_text_tokens(message_text(message))
        if message.get("name"):
            total += 1
        content = message.get("content")
        if isinstance(content, list):
            total += TOKENS_PER_IMAGE * sum(
                1 for part in content if isinstance(part, Mapping) and part.get("type") == "image_url"
            )
        for call in message.get("tool_calls") or ():
            total += count_text_tokens(str(call))
    return total
