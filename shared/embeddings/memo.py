"""One encoder pass per text and process, shared by every guardrail check and the response cache.

A request's new user turn is read by the injection check, the toxicity check and the semantic cache,
often at the same moment on different threads. ``sentence_vectors(texts)`` encodes each distinct
text once (a caller asking for a text another thread is encoding waits for that result instead of
encoding it again) and keeps the most recent vectors. The encoder is all-MiniLM-L6-v2 with int8
weights on ONNX Runtime (``onnx_encoder.py``); it loads on first use, never at import.

Within ``memo_only()`` an encode answers from the memo or raises ``EncoderDeferred``: what a caller
on the event loop uses to run a check's cheap work inline and move it to a thread only when the
transformer (milliseconds of CPU) would have to run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

DIMENSIONS = 384
_memo_only: ContextVar[bool] = ContextVar("memo_only", default=False)


class EncoderDeferred(Exception):
    """An encode under ``memo_only()`` needed the transformer."""


@contextmanager
def memo_only() -> Iterator[None]:
    """Encodes in this context (thread or task) answer from the memo or raise ``EncoderDeferred``."""
    token = _memo_only.set(True)
    try:
        yield
    finally:
        _memo_only.reset(token)


def default_encoder() -> Any:
    from shared.embeddings.onnx_encoder import shared_onnx_encoder

    return shared_onnx_encoder()


class SentenceMemo:
    """The most recent ``size`` texts' vectors from ``encoder()`` (an object with ``encode(texts)``).
    ``deferrable``: whether ``memo_only()`` applies (the transformer's memo; the static stage's is
    cheap enough to run anywhere)."""

    def __init__(
        self,
        size: int = 2048,
        encoder: Callable[[], Any] = default_encoder,
        *,
        deferrable: bool = True,
        dimensions: int = DIMENSIONS,
    ) -> None:
        self._size = size
        self._encoder = encoder
        self._deferrable = deferrable
        self._dimensions = dimensions
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        mine: list[str] = []
        waits: list[tuple[str, threading.Event]] = []
        with self._lock:
            if self._deferrable and _memo_only.get() and any(text not in self._vectors for text in texts):
                raise EncoderDeferred
            for text in dict.fromkeys(texts):
                if text in self._vectors:
                    self._vectors.move_to_end(text)
                    found[text] = self._vectors[text]
                elif text in self._pending:
                    waits.append((text, self._pending[text]))
                else:
                    self._pending[text] = threading.Event()
                    mine.append(text)
        if mine:
            try:
                vectors = self._encoder().encode(mine)
                with self._lock:
                    for text, vector in zip(mine, vectors, strict=True):
                        found[text] = self._vectors[text] = vector
                    while len(self._vectors) > self._size:
                        self._vectors.popitem(last=False)
            finally:
                with self._lock:
                    for text in mine:
                        self._pending.pop(text).set()
        for text, event in waits:
            event.wait(60)
            with self._lock:
                vector = self._vectors.get(text)
            found[text] = vector if vector is not None else self._encoder().encode([text])[0]
        if not texts:
            return np.zeros((0, self._dimensions), dtype=np.float32)
        return np.stack([found[text] for text in texts])


sentence_memo = SentenceMemo()


def sentence_vectors(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors (n, 384) of ``texts``, each distinct text encoded once per process."""
    return sentence_memo.encode(texts)
