"""The cheap first-stage encoder: a static vector per MiniLM word piece, averaged over a text.

``models/minilm-static.npz`` (written by ``scripts/distill_static_encoder.py`` from the int8 MiniLM
graph) holds one row per word piece of MiniLM's vocabulary; a text's vector is the unit-normalised
mean of its pieces' rows. Encoding a ~1 KB prompt is a tokenizer call and a table lookup (well under
a millisecond), against tens of milliseconds for the transformer: the guardrails score every text with it first
and run the transformer only where its verdict is unsure. The most recent texts' vectors are kept
(the injection and toxicity checks read the same windows of a prompt). Thread-safe, loaded on first use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.embeddings.minilm import default_model_dir

DEFAULT_STATIC_MODEL = Path(__file__).with_name("models") / "minilm-static.npz"
MAX_PIECES = 2048  # a window longer than this is averaged over its first pieces


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
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_size = memo_size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            with self._lock:
                known = self._memo.get(text)
                if known is not None:
                    self._memo.move_to_end(text)
            if known is None:
                known = self._vector(text)
                with self._lock:
                    self._memo[text] = known
                    while len(self._memo) > self._memo_size:
                        self._memo.popitem(last=False)
            out[row] = known
        return out

    def _vector(self, text: str) -> np.ndarray:
        ids = self._tokenizer.encode(text or " ", add_special_tokens=False).ids[:MAX_PIECES]
        if not ids:
            return np.zeros(self.dimensions, dtype=np.float32)
        vector: np.ndarray = self._table[ids].mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


_shared: StaticEncoder | None = None
_shared_lock = threading.Lock()


def shared_static_encoder() -> StaticEncoder:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = StaticEncoder()
        return _shared
