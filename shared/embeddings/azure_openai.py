"""Azure OpenAI embeddings, and the Azure OpenAI client the prompt evaluator also uses.

``azure_openai_client`` builds the client (``shared.backends.azure_openai.azure_client``: Azure's v1
API or a dated version) with Entra ID (``DefaultAzureCredential`` through a bearer-token provider)
in Azure, or an API key for a local OpenAI-compatible server such as the simulator. Swap it for the gateway's shared
``ModelBackends`` clients once those exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


def azure_openai_client(
    endpoint: str,
    api_version: str,
    *,
    api_key: str | None = None,
    credential: Any = None,
    timeout_s: float = 60.0,
    max_retries: int = 2,
) -> Any:
    from shared.backends.azure_openai import azure_client

    options: dict[str, Any] = {"timeout": timeout_s, "max_retries": max_retries}
    if api_key:
        return azure_client(endpoint, api_version, api_key, **options)
    from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

    provider = get_bearer_token_provider(credential or DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE)
    return azure_client(endpoint, api_version, provider, **options)


class AzureOpenAIEmbedder:
    """Embeddings from an Azure OpenAI deployment, as unit float32 vectors."""

    def __init__(self, client: Any, deployment: str, *, dimensions: int | None = None) -> None:
        self.client = client
        self.deployment = deployment
        self.dimensions = dimensions
        self.name = f"azure-openai:{deployment}" + (f":{dimensions}" if dimensions else "")

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        kwargs: dict[str, Any] = {"model": self.deployment, "input": [t if t else " " for t in texts]}
        if self.dimensions:
            kwargs["dimensions"] = self.dimensions
        response = await self.client.embeddings.create(**kwargs)
        rows = sorted(response.data, key=lambda item: item.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return unit

    async def close(self) -> None:
        await self.client.close()
