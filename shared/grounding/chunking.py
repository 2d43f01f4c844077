"""Cutting parsed sections into chunks: the unit that is embedded, retrieved and cited.

A document section is packed paragraph by paragraph up to ``max_tokens``; a paragraph too long for
one chunk is split at sentences (and a sentence too long at words). Consecutive chunks of a section
share about ``overlap_tokens`` of text, so an answer that straddles a boundary is still found whole.
A catalog product is always exactly one chunk.

A chunk's id is a hash of its file, title and text: re-syncing a file whose edits touched one
section re-embeds that section's chunks only; the others keep their ids and vectors.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from shared.grounding.parsing import ParsedFile, Section
from shared.tokens import count_text_tokens

DEFAULT_MAX_TOKENS = 300
DEFAULT_OVERLAP_TOKENS = 40
_PARAGRAPH = re.compile(r"\n[ \t]*\n+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    file: str
    title: str
    text: str
    line_start: int
    line_end: int
    unit: str  # "line" | "page"
    tokens: int
    product: dict[str, Any] | None = None

    @property
    def embedding_text(self) -> str:
        """What is embedded: the heading path gives a short chunk its context."""
        return f"{self.title}\n{self.text}" if self.title and self.title not in self.text[:200] else self.text

    @property
    def location(self) -> str:
        prefix = "p." if self.unit == "page" else "L"
        span = f"{self.line_start}" if self.line_start == self.line_end else f"{self.line_start}-{self.line_end}"
        return f"{self.file}#{prefix}{span}"


def chunk_id(file: str, title: str, text: str) -> str:
    return hashlib.sha256(f"{file}\x1f{title}\x1f{text}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    line_start: int
    line_end: int
    tokens: int


def _pieces(section: Section, max_tokens: int) -> list[_Piece]:
    """The section's paragraphs (split further when one is over the budget), with their lines."""
    out: list[_Piece] = []
    position = 0
    text = section.text
    for paragraph in _PARAGRAPH.split(text):
        found = text.find(paragraph, position)
        start_line = section.line_start + text.count("\n", 0, max(found, 0))
        position = max(found, 0) + len(paragraph)
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        tokens = count_text_tokens(paragraph)
        if tokens <= max_tokens:
            out.append(_Piece(paragraph, start_line, start_line + paragraph.count("\n"), tokens))
            continue
        line = start_line
        for sentence in _split_long(paragraph, max_tokens):
            out.append(_Piece(sentence, line, line + sentence.count("\n"), count_text_tokens(sentence)))
            line += sentence.count("\n")
    return out


def _split_long(paragraph: str, max_tokens: int) -> list[str]:
    parts: list[str] = []
    for sentence in _SENTENCE.split(paragraph):
        if count_text_tokens(sentence) <= max_tokens:
            parts.append(sentence)
            continue
        words = sentence.split(" ")
        current: list[str] = []
        for word in words:
            if current and count_text_tokens(" ".join([*current, word])) > max_tokens:
                parts.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            parts.append(" ".join(current))
    return parts


def _overlap_tail(pieces: list[_Piece], overlap_tokens: int) -> list[_Piece]:
    """The last sentences of a chunk, about ``overlap_tokens`` long, that open the next one."""
    if overlap_tokens <= 0 or not pieces:
        return []
    last = pieces[-1]
    sentences = _SENTENCE.split(last.text)
    kept: list[str] = []
    total = 0
    for sentence in reversed(sentences):
        size = count_text_tokens(sentence)
        if kept and total + size > overlap_tokens:
            break
        if size > overlap_tokens:
            break
        kept.insert(0, sentence)
        total += size
    if not kept:
        return []
    text = " ".join(kept)
    return [_Piece(text, last.line_end - text.count("\n"), last.line_end, total)]


def chunk_section(section: Section, file: str, unit: str, *, max_tokens: int = DEFAULT_MAX_TOKENS,
                  overlap_tokens: int = DEFAULT_OVERLAP_TOKENS) -> list[Chunk]:
    if section.product is not None:
        return [Chunk(chunk_id(file, section.title, section.text), file, section.title, section.text,
                      section.line_start, section.line_end, unit, count_text_tokens(section.text), section.product)]
    chunks: list[Chunk] = []
    current: list[_Piece] = []
    size = 0
    fresh = 0  # pieces in ``current`` that no earlier chunk has

    def emit() -> None:
        text = "\n\n".join(p.text for p in current)
        chunks.append(Chunk(chunk_id(file, section.title, text), file, section.title, text, current[0].line_start,
                            current[-1].line_end, unit, size))

    for piece in _pieces(section, max_tokens):
        if current and size + piece.tokens > max_tokens and fresh:
            emit()
            current = _overlap_tail(current, overlap_tokens)
            size = sum(p.tokens for p in current)
            fresh = 0
            if current and size + piece.tokens > max_tokens:
                current, size = [], 0
        current.append(piece)
        size += piece.tokens
        fresh += 1
    if current and fresh:
        emit()
    return chunks


def chunk_file(parsed: ParsedFile, *, max_tokens: int = DEFAULT_MAX_TOKENS,
               overlap_tokens: int = DEFAULT_OVERLAP_TOKENS) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in parsed.sections:
        for chunk in chunk_section(section, parsed.path, parsed.unit, max_tokens=max_tokens,
                                   overlap_tokens=overlap_tokens):
            if chunk.id not in seen:  # a repeated block (e.g. a footer section) is stored once
                seen.add(chunk.id)
                chunks.append(chunk)
    return chunks
