"""What the OpenAI-shaped backend kinds share: pass-through calls to OpenAI-shaped model servers.

The pass-through calls (chat completions as JSON or a stream, the embeddings endpoint) are one aiohttp
POST each (``json_post``): the gateway forwards whatever parameters the client sent and passes the
backend's JSON (or each streamed event's JSON) back unchanged, keeping the raw headers (rate-limit
state). Going through the SDK cost ~0.5 ms of CPU per call and ~60 us per streamed chunk for nothing
(its request building and a model object per chunk). The typed calls (``embed``, the readiness
``probe``) use the official ``openai`` SDK. Both paths send the same URL, credentials and body and
raise the same ``BackendError`` for a failure (``translate``; ``tests/unit/test_json_post.py``). No
retries here (the SDK's are off, ``max_retries=0``): retries, backoff and failover are the router's.
One SDK client per endpoint (and credentials), created on first use inside the running event loop.
Every chat call is first fitted to the deployment's model family (``shared.model_catalog.shaping``:
``max_completion_tokens`` for reasoning models, parameters the model would refuse left out).

A subclass says how to reach a deployment: ``_new_client`` (the SDK client) and ``_target`` (the URL,
headers and token provider of a pass-through call): ``azure_openai`` (Azure OpenAI's URL shape and
Entra ID tokens), ``openai_compatible`` (any OpenAI-compatible server) and ``azure_responses``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
from openai import AsyncOpenAI

from shared.backends.json_post import JsonPoster, Target, TokenProvider, status_error
from shared.backends.port import BackendError, BackendResult, Chunk
from shared.deployments import Deployment
from shared.model_catalog.shaping import shape_params

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# The Azure client's URL builder turns this into /openai/deployments/{model}/chat/completions?api-version=...
CHAT_PATH = "/chat/completions"
EMBEDDINGS_PATH = "/embeddings"  # the Azure URL builder maps it onto the deployment, like chat
EventFeed = Callable[[Chunk], list[Chunk]]  # one streamed server event -> the chat chunks it stands for
_ClientKey = tuple[str, str, str, str | None, tuple[tuple[str, str], ...]]


def translate(deployment: Deployment, exc: Exception) -> BackendError:
    """An SDK exception as a ``BackendError`` (status, retryability, the server's code and headers)."""
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(deployment.alias, None, "timed out", retryable=True, code="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(deployment.alias, None, f"connection failed: {exc}", retryable=True, code="connection")
    if isinstance(exc, openai.APIStatusError):
        headers = {k.lower(): v for k, v in exc.response.headers.items()}
        return status_error(deployment, exc.status_code, headers, exc.body, exc.message)
    raise exc


class OpenAISdkBackend:
    """The calls; subclasses build the client (``_new_client``)."""

    def __init__(self, *, timeout_s: float, connect_timeout_s: float,
                 managed_identity_client_id: str | None = None) -> None:
        self._timeout = openai.Timeout(timeout_s, connect=connect_timeout_s)
        self._mi_client_id = managed_identity_client_id
        self._clients: dict[_ClientKey, AsyncOpenAI] = {}
        self._targets: dict[tuple[_ClientKey, str, str], Target] = {}
        self._poster = JsonPoster(timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)
        self._credential: Any = None

    # -- clients --------------------------------------------------------------------------
    def _new_client(self, deployment: Deployment, common: dict[str, Any]) -> AsyncOpenAI:
        raise NotImplementedError

    def _target(self, deployment: Deployment, path: str) -> Target:
        """Where a JSON call to ``path`` goes and with which credentials (the SDK client's URL and auth)."""
        raise NotImplementedError

    def _bearer_target(self, deployment: Deployment, base_url: str, path: str) -> Target:
        """``AsyncOpenAI(base_url=..., api_key=key or token provider)``: ``Authorization: Bearer``."""
        url = f"{base_url.rstrip('/')}{path}"
        headers = {"content-type": "application/json", **deployment.headers}
        if deployment.auth == "key":
            return Target(url, {**headers, "authorization": f"Bearer {deployment.api_key or 'unused'}"})
        return Target(url, headers, token=self.token_provider(deployment))

    def token_provider(self, deployment: Deployment) -> TokenProvider:
        """Entra ID bearer tokens for the deployment's scope (the Function App's managed identity)."""
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

        if self._credential is None:
            self._credential = DefaultAzureCredential(managed_identity_client_id=self._mi_client_id)
        provider: TokenProvider = get_bearer_token_provider(
            self._credential, deployment.token_scope or COGNITIVE_SERVICES_SCOPE)
        return provider

    @staticmethod
    def _key(deployment: Deployment) -> _ClientKey:
        return (deployment.endpoint, deployment.api_version, deployment.auth, deployment.token_scope,
                tuple(sorted(deployment.headers.items())))

    def client(self, deployment: Deployment) -> AsyncOpenAI:
        key = self._key(deployment)
        client = self._clients.get(key)
        if client is None:
            common: dict[str, Any] = {"max_retries": 0, "timeout": self._timeout,
                                      "default_headers": deployment.headers or None,
                                      "http_client": openai.DefaultAioHttpClient(timeout=self._timeout)}
            client = self._clients[key] = self._new_client(deployment, common)
        return client

    # -- calls ----------------------------------------------------------------------------
    async def chat(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                   ) -> BackendResult:
        params = shape_params(params, deployment.model_family)
        return await self._post_json(deployment, CHAT_PATH, {**params, "model": deployment.deployment,
                                                             "stream": False}, timeout_s)

    async def embeddings(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                         ) -> BackendResult:
        return await self._post_json(deployment, EMBEDDINGS_PATH, {**params, "model": deployment.deployment},
                                     timeout_s)

    async def _post_json(self, deployment: Deployment, path: str, body: dict[str, Any], timeout_s: float | None
                         ) -> BackendResult:
        return await self._poster.post(deployment, self._target_of(deployment, path), body, timeout_s)

    def _target_of(self, deployment: Deployment, path: str) -> Target:
        key = (self._key(deployment), deployment.deployment, path)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = self._target(deployment, path)
        return target

    async def chat_stream(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                          ) -> AsyncIterator[Chunk]:
        params = shape_params(params, deployment.model_family)
        body = {**params, "model": deployment.deployment, "stream": True,
                "stream_options": {**(params.get("stream_options") or {}), "include_usage": True}}
        return await self._open_stream(deployment, CHAT_PATH, body, timeout_s)

    async def _open_stream(self, deployment: Deployment, path: str, body: dict[str, Any], timeout_s: float | None,
                           feed: EventFeed | None = None) -> AsyncIterator[Chunk]:
        """Failures before the first event raise here; ``feed`` turns each server event into chat chunks."""
        events = await self._poster.stream(deployment, self._target_of(deployment, path), body, timeout_s)
        return events if feed is None else _fed(events, feed)

    async def embed(self, deployment: Deployment, texts: list[str]) -> list[list[float]]:
        try:
            result = await self.client(deployment).embeddings.create(model=deployment.deployment, input=texts)
        except (openai.APIError, openai.APITimeoutError) as exc:
            raise translate(deployment, exc) from exc
        return [item.embedding for item in sorted(result.data, key=lambda d: d.index)]

    async def probe(self, deployment: Deployment) -> None:
        await self.client(deployment).models.list()

    async def close(self) -> None:
        await self._poster.close()
        self._targets.clear()
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._credential is not None:
            await self._credential.close()
            self._credential = None


async def _fed(events: AsyncIterator[Chunk], feed: EventFeed) -> AsyncIterator[Chunk]:
    try:
        async for event in events:
            for chunk in feed(event):
                yield chunk
    finally:
        await events.aclose()  # type: ignore[attr-defined]
