"""The embeddings port: ``await embedder.embed(texts) -> (n, d) unit float32 vectors``.

Two adapters: ``LocalEmbedder`` (all-MiniLM-L6-v2 in process, run on a worker thread so the
event loop never waits on the CPU) and ``AzureOpenAIEmbedder`` (an Azure OpenAI embeddings
deployment). ``name`` identifies the vector space: vectors from different embedders never mix
(the semantic cache scopes entries by it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    name: str

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def close(self) -> None: ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions, int8 on ONNX Runtime) on one worker thread; the model loads on
    first use. Without an ``encoder`` it shares the guardrails' per-text memo, so a question the input
    checks already encoded is not encoded again."""

    dimensions = 384
    name = "local:all-MiniLM-L6-v2-int8"

    def __init__(self, model_dir: Path | None = None, *, encoder: Any = None) -> None:
        self._model_dir = model_dir
        self._encoder = encoder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from shared.embeddings.memo import SentenceMemo, sentence_memo
            from shared.embeddings.onnx_encoder import shared_onnx_encoder

            if self._model_dir is None:
                self._encoder = sentence_memo
            else:
                self._encoder = SentenceMemo(encoder=lambda: shared_onnx_encoder(tokenizer_dir=self._model_dir))
        return self._encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Synchronous encoding (for code already on a worker thread, e.g. the cache verifier)."""
        return self.encoder.encode(list(texts))

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.encode, list(texts))

    async def close(self) -> None:
        self._executor.shutdown(wait=False)


def build_embedder(settings: Any) -> Embedder:
    """The adapter the settings ask for (``LLMOPS_EMBEDDINGS=local|azure``)."""
    if settings.embeddings == "azure":
        from shared.embeddings.azure_openai import AzureOpenAIEmbedder, azure_openai_client

        if not settings.embeddings_endpoint:
            raise ValueError("LLMOPS_EMBEDDINGS=azure needs LLMOPS_EMBEDDINGS_ENDPOINT")
        client = azure_openai_client(settings.embeddings_endpoint, settings.embeddings_api_version)
        return AzureOpenAIEmbedder(client, settings.embeddings_deployment, dimensions=settings.embeddings_dimensions)
    return LocalEmbedder(settings.embedding_model_dir)
