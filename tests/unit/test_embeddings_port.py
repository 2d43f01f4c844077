"""The embeddings port: the local adapter runs the encoder off the event loop; settings pick adapters."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from shared.config import Settings
from shared.embeddings.azure_openai import AzureOpenAIEmbedder
from shared.embeddings.port import Embedder, LocalEmbedder, build_embedder


class RecordingEncoder:
    """Unit-test encoder: returns unit vectors and remembers the thread it ran on."""

    dimensions = 4

    def __init__(self) -> None:
        self.threads: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        return np.tile(np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32), (len(texts), 1))


async def test_local_embedder_runs_on_a_worker_thread() -> None:
    encoder = RecordingEncoder()
    embedder = LocalEmbedder(encoder=encoder)
    vectors, none = await asyncio.gather(embedder.embed(["a", "b"]), embedder.embed([]))
    assert vectors.shape == (2, 4) and none.shape == (0, 384)
    assert all(name.startswith("embeddings") for name in encoder.threads)  # never the event loop's thread
    assert isinstance(embedder, Embedder)
    await embedder.close()


def test_settings_pick_the_adapter() -> None:
    assert isinstance(build_embedder(Settings(embeddings="local")), LocalEmbedder)
    azure = build_embedder(
        Settings(embeddings="azure", embeddings_endpoint="https://x.openai.azure.com", embeddings_dimensions=256)
    )
    assert isinstance(azure, AzureOpenAIEmbedder) and azure.dimensions == 256
    assert azure.name == "azure-openai:text-embedding-3-small:256"
    with pytest.raises(ValueError, match="EMBEDDINGS_ENDPOINT"):
        build_embedder(Settings(embeddings="azure", embeddings_endpoint=" "))
