"""Backend kind ``azure_responses``: an Azure OpenAI deployment called through the Responses API.

Azure OpenAI's v1 API (``{endpoint}/openai/v1/``, no ``api-version``) through the official SDK's
``AsyncOpenAI`` client, with a key or an Entra ID token provider as its ``api_key``. The gateway's
steps work on chat completions, so a chat request is sent as a Responses request
(``shared.responses.chat_bridge``) with ``store: false`` (conversation memory is the gateway's) and
the Response comes back as a chat completion, streamed events as chat chunks. Embeddings and the
readiness probe use the same v1 client (``/openai/v1/embeddings``, ``/openai/v1/models``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from openai import AsyncOpenAI

from shared.backends.json_post import Target
from shared.backends.openai_sdk import EventFeed, OpenAISdkBackend
from shared.backends.port import BackendError, BackendResult, Chunk
from shared.deployments import Deployment
from shared.model_catalog.shaping import shape_params
from shared.responses.chat_bridge import (
    ChatChunks,
    ResponseFailed,
    UnsupportedParameter,
    chat_completion,
    responses_body,
)

RESPONSES_PATH = "/responses"


class AzureResponsesBackend(OpenAISdkBackend):
    def _new_client(self, deployment: Deployment, common: dict[str, Any]) -> AsyncOpenAI:
        credential = (deployment.api_key or "unused") if deployment.auth == "key" else self.token_provider(deployment)
        return AsyncOpenAI(base_url=f"{deployment.endpoint}/openai/v1/", api_key=credential, **common)

    def _target(self, deployment: Deployment, path: str) -> Target:
        return self._bearer_target(deployment, f"{deployment.endpoint}/openai/v1", path)

    def _body(self, deployment: Deployment, params: dict[str, Any], stream: bool) -> dict[str, Any]:
        try:
            shaped = shape_params(params, deployment.model_family)
            return {**responses_body(shaped, deployment.deployment), "stream": stream}
        except UnsupportedParameter as exc:
            raise BackendError(deployment.alias, 400, str(exc), retryable=False, code="unsupported_parameter"
                               ) from exc

    async def chat(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                   ) -> BackendResult:
        result = await self._post_json(deployment, RESPONSES_PATH, self._body(deployment, params, False), timeout_s)
        if result.body.get("status") == "failed":
            error = result.body.get("error") or {}
            raise BackendError(deployment.alias, 500, str(error.get("message") or "the response failed"),
                               retryable=True, code=error.get("code"))
        return BackendResult(chat_completion(result.body), result.headers, result.latency_s)

    async def chat_stream(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                          ) -> AsyncIterator[Chunk]:
        return await self._open_stream(deployment, RESPONSES_PATH, self._body(deployment, params, True), timeout_s,
                                       _chat_feed(deployment))


def _chat_feed(deployment: Deployment) -> EventFeed:
    chunks = ChatChunks()

    def feed(event: Chunk) -> list[Chunk]:
        try:
            return chunks.feed(event)
        except ResponseFailed as exc:
            raise BackendError(deployment.alias, None, f"the response failed: {exc.message}", retryable=False,
                               code=exc.code or "stream_interrupted") from exc

    return feed
