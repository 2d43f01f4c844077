"""Answers from supplied context: what a model told to answer from documents would say.

When the conversation carries documents (``<document ...>...</document>`` or ``<context>...</context>``
sections in system/developer messages, as the gateway's grounding template writes them, or a tool
result as the last message), the simulator answers with the context sentences that share the most
words with the question, each followed by the ``[n]`` marker of its document when the document has
an ``id``. With the ``hallucination_rate`` fault the answer's first figure is changed, the way a
model misremembers a price or a spec: the guardrails' groundedness and product-claim checks are
exercised with it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from shared.tokens import message_text

_SECTION = re.compile(r"<(context|document)\b([^>]*)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_ID = re.compile(r"""\bid\s*=\s*["']?([^"'\s>]+)""")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_FIGURE = re.compile(r"(?<![\w.\-\[])(\d+(?:\.\d+)?)")
_STOP = frozenset(
    "a an the is are was were be to of and or in on for with how what why when where which who do does can could "
    "should would i you my your me we our it this that these those please tell about much many any there".split()
)
MAX_SENTENCES = 3


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


def grounded_answer(messages: list[dict[str, Any]], question: str) -> str | None:
    """The context sentences that answer ``question`` best, or None when there is no context."""
    documents = documents_in(messages)
    if not documents:
        return None
    asked = _words(question)
    scored: list[tuple[float, int, str, str | None]] = []
    order = 0
    for document in documents:
        for sentence in _SENTENCE.findall(document.text):
            sentence = " ".join(sentence.split())
            if len(sentence) < 3:
                continue
            overlap = len(_words(sentence) & asked)
            scored.append((overlap, -order, sentence, document.marker))
            order += 1
    if not scored:
        return None
    scored.sort(reverse=True)
    best = scored[0][0]
    chosen = [s for s in scored if s[0] > 0 and s[0] >= best / 2][:MAX_SENTENCES] or scored[:1]
    chosen.sort(key=lambda s: -s[1])  # in document order
    parts = []
    for _, _, sentence, marker in chosen:
        sentence = sentence if sentence[-1] in ".!?" else sentence + "."
        parts.append(f"{sentence} [{marker}]" if marker else sentence)
    return " ".join(parts)


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
