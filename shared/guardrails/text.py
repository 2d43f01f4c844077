"""Text helpers shared by the detectors: normalisation against evasion, sentence splitting, windows.

Evasion tricks the detectors must see through: zero-width characters inside words, compatibility
forms (full-width digits, ligatures), look-alike letters from other scripts (Cyrillic ``о`` for Latin
``o``) and instructions wrapped in base64. ``normalize_with_map`` keeps a map from every normalised
character back to the original text, so spans found on the normalised text point into what the
caller sent.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import unicodedata
from dataclasses import dataclass

# Format characters that render as nothing: zero-width space/joiners, marks, word joiner, BOM, soft hyphen.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

# Look-alikes from Cyrillic and Greek that pass for Latin letters (a subset of Unicode's confusables).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
        "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ӏ": "l", "ү": "y",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
        "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
        "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "τ": "t", "υ": "u", "ε": "e",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
        "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip

_BASE64_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


def strip_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def needs_normalizing(text: str) -> bool:
    """True when NFKC or invisible-character removal would change the text (checked at C speed)."""
    if text.isascii():
        return False
    return bool(_INVISIBLE.search(text)) or unicodedata.normalize("NFKC", text) != text


def normalize_with_map(text: str) -> tuple[str, list[int] | None]:
    """NFKC + invisible characters removed; returns (normalised, index map or None if unchanged).

    ``index_map[i]`` is the offset in ``text`` of the character that produced normalised char ``i``;
    one extra entry at the end maps the end of the text.
    """
    if not needs_normalizing(text):
        return text, None
    out: list[str] = []
    index_map: list[int] = []
    for i, char in enumerate(text):
        if _INVISIBLE.match(char):
            continue
        folded = unicodedata.normalize("NFKC", char) if not char.isascii() else char
        out.append(folded)
        index_map.extend([i] * len(folded))
    index_map.append(len(text))
    return "".join(out), index_map


def map_span(index_map: list[int] | None, start: int, end: int) -> tuple[int, int]:
    if index_map is None:
        return start, end
    return index_map[start], index_map[end - 1] + 1 if end > start else index_map[start]


def decode_base64_blobs(text: str, limit: int = 8) -> list[str]:
    """Printable text hidden in base64 blobs (a common way to smuggle instructions past filters)."""
    decoded: list[str] = []
    for match in _BASE64_BLOB.finditer(text):
        blob = match.group(0)
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            value = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        printable = sum(c.isprintable() or c.isspace() for c in value)
        if value and printable / len(value) > 0.95 and sum(c.isalpha() for c in value) > len(value) * 0.5:
            decoded.append(value)
            if len(decoded) >= limit:
                break
    return decoded


def valid_unicode(text: str) -> str:
    """Lone surrogates (which JSON can smuggle in) replaced, so tokenizers and encoders accept the text."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


# The checks of one request read the same texts (injection and toxicity the same turn): a text up to
# this size is canonicalised and cut into windows once, the last few hundred results kept.
MEMO_MAX_CHARS = 16_384


def canonical(text: str) -> str:
    """The text a content classifier should read: normalised, look-alikes folded, base64 payloads appended."""
    return _canonical_memo(text) if len(text) <= MEMO_MAX_CHARS else _canonical(text)


@functools.lru_cache(maxsize=256)
def _canonical_memo(text: str) -> str:
    return _canonical(text)


def _canonical(text: str) -> str:
    text = valid_unicode(text)
    normalized = unicodedata.normalize("NFKC", strip_invisible(text)) if not text.isascii() else text
    normalized = normalized.translate(_HOMOGLYPHS)
    hidden = decode_base64_blobs(normalized)
    return normalized if not hidden else normalized + "\n" + "\n".join(hidden)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their offsets; lines and list items count as sentence boundaries too."""
    sentences: list[Sentence] = []
    position = 0
    for match in _SENTENCE_END.finditer(text):
        _append_sentence(sentences, text, position, match.start())
        position = match.end()
    _append_sentence(sentences, text, position, len(text))
    return sentences


def _append_sentence(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        offset = start + chunk.index(stripped[0])
        sentences.append(Sentence(stripped, offset, offset + len(stripped)))


def complete_sentence_end(buffer: str) -> int:
    """Offset just past the last complete sentence in a streaming buffer (0 if none is complete yet)."""
    last = 0
    for match in _SENTENCE_END.finditer(buffer):
        last = match.end()
    return last


def windows(text: str, max_chars: int = 1000, max_windows: int = 24) -> list[str]:
    """Split long text into sentence-aligned windows of at most ~max_chars; sample evenly past max_windows.

    Huge inputs are never refused or timed out: their windows are sampled (first, last and evenly
    spaced between), and pattern checks still read the whole text.
    """
    if len(text) <= max_chars:
        return [text]
    if len(text) <= MEMO_MAX_CHARS:
        return list(_windows_memo(text, max_chars, max_windows))
    return _windows(text, max_chars, max_windows)


@functools.lru_cache(maxsize=256)
def _windows_memo(text: str, max_chars: int, max_windows: int) -> tuple[str, ...]:
    return tuple(_windows(text, max_chars, max_windows))


def _windows(text: str, max_chars: int, max_windows: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        piece = sentence.text
        while len(piece) > max_chars:  # a "sentence" without boundaries (code, base64, one long line)
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            if current:
                chunks.append(current)
                current = ""
            chunks.append(piece[:cut])
            piece = piece[cut:].lstrip()
        if current and len(current) + 1 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    if len(chunks) <= max_windows:
        return chunks
    step = (len(chunks) - 1) / (max_windows - 1)
    return [chunks[round(i * step)] for i in range(max_windows)]


def sentence_windows(text: str, max_windows: int = 48, min_chars: int = 40, max_chars: int = 400) -> list[str]:
    """A supplied document as the units an instruction planted in it would occupy: sentences, a short
    one joined to the next (``min_chars``), a long one cut (``max_chars``); past ``max_windows`` an
    even sample, first and last included. Judging each alone keeps a planted instruction from being
    averaged away by the document around it."""
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        piece = sentence.text
        while len(piece) > max_chars:
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            chunks.append(f"{current} {piece[:cut]}".strip())
            current, piece = "", piece[cut:].lstrip()
        current = f"{current} {piece}".strip()
        if len(current) >= min_chars:
            chunks.append(current)
            current = ""
    if current:
        if chunks and len(chunks[-1]) + len(current) < max_chars:
            chunks[-1] = f"{chunks[-1]} {current}"
        else:
            chunks.append(current)
    if len(chunks) <= max_windows:
        return chunks or [text]
    step = (len(chunks) - 1) / (max_windows - 1)
    return [chunks[round(i * step)] for i in range(max_windows)]


SEGMENT_CHARS = 32_768
SEGMENT_OVERLAP = 512


def segments(text: str, size: int = SEGMENT_CHARS, overlap: int = SEGMENT_OVERLAP) -> list[tuple[int, str]]:
    """``(start, slice)`` pieces of a long text, each ``overlap`` characters into the next, for pattern
    scans of huge inputs: one regex call over 900 KB holds the interpreter lock for ~0.1 s, and every
    other request on the worker waits that long for each step it takes; over 32 KB pieces the lock
    changes hands every few milliseconds. A match shorter than ``overlap`` is found whole in a piece."""
    if len(text) <= size:
        return [(0, text)]
    return [(start, text[start : start + size + overlap]) for start in range(0, len(text), size)]
