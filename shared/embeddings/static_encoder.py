"""The cheap first-stage encoder: a static vector per MiniLM word piece, averaged over a text.

``models/minilm-static.npz`` (written by ``scripts/distill_static_encoder.py`` from the int8 MiniLM
graph) holds one row per word piece of MiniLM's vocabulary; a text's vector is the unit-normalised
mean of its pieces' rows. Encoding a ~1 KB prompt is a tokenizer call and a table lookup (well under
a millisecond), against tens of milliseconds for the transformer: the guardrails score every text with it first
and run the transformer only where its verdict is unsure. The most recent texts' vectors are kept
(the injection and toxicity checks read the same windows of a prompt). A text (after the
tokenizer's normaliser where it is not ASCII: accents stripped, lower case, CJK characters spaced) is
split into words as MiniLM's pre-tokenizer splits it, by a regular expression (runs of what is neither
white space nor punctuation, each punctuation mark alone) and each word's pieces come from a per-process table that the
tokenizer fills: the same ids, cheaper once the table knows the words. Thread-safe, loaded on first use.
"""

from __future__ import annotations

import re
import string
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from shared.embeddings.memo import SentenceMemo
from shared.embeddings.minilm import default_model_dir

DEFAULT_STATIC_MODEL = Path(__file__).with_name("models") / "minilm-static.npz"
MAX_PIECES = 2048  # a window longer than this is averaged over its first pieces
MAX_KNOWN_WORDS = 200_000  # the word -> pieces table starts again past this
# What BERT's normaliser drops (control characters other than tab, line feed, carriage return).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# BERT's pre-tokenizer on lower-cased ASCII: runs of letters and digits, every other visible character alone
# (bert_word_pattern's split on ASCII, at ~2.4x its speed: its class is a few hundred ranges).
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
# Past this code point Unicode assigns no punctuation (planes 2 and up: ideographs, tags, private use).
_LAST_PUNCTUATION_PLANE_END = 0x20000
# Special tokens the tokenizer matches inside raw text ("[SEP]"): such texts go to the tokenizer whole.
_SPECIAL = ("[cls]", "[sep]", "[mask]", "[pad]", "[unk]")


class StaticEncoder:
    def __init__(
        self, model_path: Path | None = None, tokenizer_dir: Path | None = None, memo_size: int = 1024
    ) -> None:
        path = Path(model_path or DEFAULT_STATIC_MODEL)
        if not path.is_file():
            raise FileNotFoundError(f"static encoder table {path} is missing: run scripts/distill_static_encoder.py")
        directory = tokenizer_dir or default_model_dir()
        if not (directory / "tokenizer.json").is_file():
            raise FileNotFoundError(f"tokenizer.json missing in {directory} (check LLMOPS_EMBEDDING_MODEL_DIR)")
        from tokenizers import Tokenizer

        with np.load(path) as data:
            self._table: np.ndarray = data["table"].astype(np.float32)
        self.dimensions = int(self._table.shape[1])
        self._tokenizer: Any = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._word_pieces: dict[str, list[int]] = {}
        self._words = bert_word_pattern(self._tokenizer.pre_tokenizer)
        uncached = SimpleNamespace(encode=self._vectors)
        self._memo = SentenceMemo(memo_size, lambda: uncached, deferrable=False, dimensions=self.dimensions)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._memo.encode(texts)

    def piece_ids(self, text: str) -> list[int]:
        """MiniLM's word-piece ids of ``text`` (no special tokens), as its tokenizer gives them."""
        lowered = text.lower()
        if "[" in text and any(s in lowered for s in _SPECIAL):
            return list(self._tokenizer.encode(text, add_special_tokens=False).ids)
        if text.isascii():
            words = _WORD.findall(_CONTROL.sub("", lowered))
        else:  # the tokenizer's own normaliser and pre-tokenizer (accents, scripts, CJK, punctuation)
            normalized = self._tokenizer.normalizer.normalize_str(text)
            words = (_WORD if normalized.isascii() else self._words).findall(normalized)
        if len(self._word_pieces) > MAX_KNOWN_WORDS:
            self._word_pieces = {}
        known = self._word_pieces
        unknown = list(dict.fromkeys(w for w in words if w not in known))
        if unknown:  # one tokenizer call for the new words, split back by word
            encoding = self._tokenizer.encode(" ".join(unknown), add_special_tokens=False)
            found: list[list[int]] = [[] for _ in unknown]
            for piece, word in zip(encoding.ids, encoding.word_ids, strict=True):
                found[word].append(piece)
            known.update(zip(unknown, found, strict=True))
        return [piece for word in words for piece in known[word]]

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of texts the memo has not seen."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self.piece_ids(text)[:MAX_PIECES]
            if ids:
                vector = np.take(self._table, ids, axis=0).sum(axis=0)  # the mean's direction, cheaper
                norm = float(np.linalg.norm(vector))
                out[row] = vector / norm if norm > 0 else vector
        return out


def bert_word_pattern(pre_tokenizer: Any) -> re.Pattern[str]:
    """BERT's pre-tokenizer on normalised text as a regular expression: runs of what is neither white space
    nor punctuation, each punctuation mark alone. Its punctuation is ASCII's and Unicode's P* classes as the
    tokenizer's own Unicode tables have them (older than Python's: some marks moved since from P to S or M), so
    every punctuation mark, symbol and combining mark is put to it."""
    candidates = [c for c in map(chr, range(_LAST_PUNCTUATION_PLANE_END))
                  if unicodedata.category(c)[0] in "PSM" or c in string.punctuation]
    alone = {word for word, _ in pre_tokenizer.pre_tokenize_str("x" + "x".join(candidates) + "x")}
    ranges: list[list[int]] = []
    for code in (ord(c) for c in candidates if c in alone):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    marks = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)
    return re.compile(f"[^\\s{marks}]+|[{marks}]")


_shared: StaticEncoder | None = None
_shared_lock = threading.Lock()


def shared_static_encoder() -> StaticEncoder:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = StaticEncoder()
        return _shared
