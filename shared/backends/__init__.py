"""Model backends: one ``Backend`` per kind of model server, chosen by a deployment's ``api_style``.

    backends = ModelBackends(timeout_s=60, connect_timeout_s=5)
    result = await backends.chat(deployment, params)          # the deployment's kind answers

Kinds today (``BACKEND_KINDS``): ``azure`` (Azure OpenAI, ``azure_openai.py``), ``azure_responses``
(Azure OpenAI through the Responses API on the v1 endpoint, ``azure_responses.py``) and ``openai`` (any
OpenAI-compatible server, ``openai_compatible.py``); all use the official ``openai`` SDK
(``openai_sdk.py``). Adding a kind is one module: a class implementing ``port.Backend`` that takes the
``BackendOptions`` keywords, one line in ``BACKEND_KINDS``, and the new name in ``Deployment.api_style``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from shared.backends.azure_openai import AzureOpenAIBackend
from shared.backends.azure_responses import AzureResponsesBackend
from shared.backends.openai_compatible import OpenAICompatibleBackend
from shared.backends.port import Backend, BackendError, BackendResult, Chunk
from shared.deployments import Deployment

BackendFactory = Callable[..., Backend]  # called with timeout_s, connect_timeout_s, managed_identity_client_id
BACKEND_KINDS: dict[str, BackendFactory] = {
    "azure": AzureOpenAIBackend,
    "openai": OpenAICompatibleBackend,
    "azure_responses": AzureResponsesBackend,
}


class ModelBackends:
    """The backend of each kind, created on first use; calls go to the deployment's kind."""

    def __init__(self, *, timeout_s: float, connect_timeout_s: float,
                 managed_identity_client_id: str | None = None) -> None:
        self._options: dict[str, Any] = {"timeout_s": timeout_s, "connect_timeout_s": connect_timeout_s,
                                         "managed_identity_client_id": managed_identity_client_id}
        self._by_kind: dict[str, Backend] = {}

    def of(self, deployment: Deployment) -> Backend:
        backend = self._by_kind.get(deployment.api_style)
        if backend is None:
            factory = BACKEND_KINDS.get(deployment.api_style)
            if factory is None:  # the deployment schema names a kind nobody registered
                raise ValueError(f"deployment {deployment.alias}: no backend for api_style {deployment.api_style!r}")
            backend = self._by_kind[deployment.api_style] = factory(**self._options)
        return backend

    async def chat(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                   ) -> BackendResult:
        return await self.of(deployment).chat(deployment, params, timeout_s=timeout_s)

    async def chat_stream(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                          ) -> AsyncIterator[Chunk]:
        return await self.of(deployment).chat_stream(deployment, params, timeout_s=timeout_s)

    async def embed(self, deployment: Deployment, texts: list[str]) -> list[list[float]]:
        return await self.of(deployment).embed(deployment, texts)

    async def embeddings(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                         ) -> BackendResult:
        return await self.of(deployment).embeddings(deployment, params, timeout_s=timeout_s)

    async def probe(self, deployment: Deployment) -> None:
        await self.of(deployment).probe(deployment)

    async def close(self) -> None:
        for backend in self._by_kind.values():
            await backend.close()
        self._by_kind.clear()


__all__ = ["BACKEND_KINDS", "Backend", "BackendError", "BackendResult", "Chunk", "ModelBackends"]
