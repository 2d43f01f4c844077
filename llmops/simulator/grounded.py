"""Answers from supplied context: what a model told to answer from documents would say.

When the conversation carries documents (``<document ...>...</document>`` or ``<context>...</context>``
sections in system/developer messages, as the gateway's grounding template writes them, or a tool
result as the last message), the simulator answers from the document that shares the most words with
the question (a short one whole, a long one by its best sentences), followed by the ``[n]`` marker of
the document when it has an ``id``. With the ``hallucination_rate`` fault the answer's first figure is
changed, the way a model misremembers a price or a spec: the guardrails' groundedness and
product-claim checks are exercised with it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from shared.tokens import message_text

_SECTION = re.compile(r"<(context|document)\b([^>]*)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_ID = re.compile(r"""\bid\s*=\s*["']?([^"'\s>]+)""")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_FIGURE = re.compile(r"(?<![\w.\-\[])(\d+(?:\.\d+)?)")
_STOP = frozenset(
    "a an the is are was were be to of and or in on for with how what why when where which who do does can could "
    "should would i you my your me we our it this that these those please tell about much many any there".split()
)
MAX_SENTENCES = 3
MAX_WHOLE_SENTENCES = 6


@dataclass(frozen=True)
class Document:
    marker: str | None
    text: str


def documents_in(messages: list[dict[str, Any]]) -> list[Document]:
    """Context documents of the conversation; a trailing tool result counts as one."""
    found: list[Document] = []
    for message in messages:
        if message.get("role") in ("system", "developer"):
            for match in _SECTION.finditer(message_text(message)):
                marker = _ID.search(match.group(2))
                found.append(Document(marker.group(1) if marker else None, match.group(3).strip()))
    if messages and messages[-1].get("role") in ("tool", "function"):
        found.append(Document(None, message_text(messages[-1])))
    return [d for d in found if d.text]


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _sentences(text: str) -> list[str]:
    return [" ".join(part.split()) for part in _SENTENCE_BREAK.split(text) if part.strip()]


def grounded_answer(messages: list[dict[str, Any]], question: str) -> str | None:
    """The document that shares the most words with ``question``, said back (a short one whole, a long one
    by its best sentences), with its ``[n]`` marker; None when there is no context."""
    documents = documents_in(messages)
    if not documents:
        return None
    asked = _words(question)
    best = max(documents, key=lambda d: (len(_words(d.text) & asked), -documents.index(d)))
    sentences = _sentences(best.text)
    if len(sentences) > MAX_WHOLE_SENTENCES:
        ranked = sorted(range(len(sentences)), key=lambda i: (-len(_words(sentences[i]) & asked), i))
        sentences = [sentences[i] for i in sorted(ranked[:MAX_SENTENCES])]
    text = " ".join(s if s[-1] in ".!?" else s + "." for s in sentences)
    return f"{text} [{best.marker}]" if best.marker else text


def misremember(text: str, rng: random.Random) -> str:
    """The text with its first figure changed (a hallucinated price, size or date)."""
    match = _FIGURE.search(text)
    if match is None:
        return text + " It also comes with a free lifetime warranty."
    value = float(match.group(1))
    changed = value * rng.choice((0.5, 0.8, 1.25, 2.0)) if value else 7.0
    rendered = f"{changed:.2f}" if "." in match.group(1) else str(max(round(changed), 1) + (
        1 if round(changed) == int(value) else 0))
    return text[: match.start()] + rendered + text[match.end():]
