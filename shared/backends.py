"""Calls to model deployments through the official ``openai`` SDK: one code path everywhere.

Each endpoint gets one ``AsyncAzureOpenAI`` client, authenticated with an Entra ID token provider
(``azure-identity``: the Function App's managed identity) in Azure, or with a key for the local
simulator and keyed endpoints. The SDK's own retries are off (``max_retries=0``): retry, backoff
and failover are the router's job. Chat calls go through the SDK's generic ``client.post`` (its documented
way to send requests it has no typed method for): the gateway is a pass-through, so it forwards
whatever parameters the client sent without the typed method's per-request transformation (which
costs ~0.5 ms of CPU per call), keeps the raw headers (rate-limit state) and passes the backend's
JSON through unchanged. Authentication, the Azure URL shape, timeouts and error types are the SDK's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import orjson
from openai import AsyncAzureOpenAI, AsyncOpenAI

from shared.api.errors import ApiError
from shared.deployments import Deployment

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# The client's Azure URL builder turns this into /openai/deployments/{model}/chat/completions?api-version=...
CHAT_PATH = "/chat/completions"


def _options(timeout_s: float | None) -> dict[str, Any]:
    return {"timeout": timeout_s} if timeout_s is not None else {}


@dataclass(slots=True)
class BackendResult:
    body: dict[str, Any]
    headers: dict[str, str]
    latency_s: float


class BackendError(Exception):
    """A deployment failed; ``retryable`` says whether another attempt or deployment may succeed."""

    def __init__(self, deployment: str, status: int | None, message: str, *, retryable: bool,
                 headers: dict[str, str] | None = None, code: str | None = None, body: Any = None) -> None:
        super().__init__(f"{deployment}: {status or 'no response'}: {message}")
        self.deployment = deployment
        self.status = status
        self.message = message
        self.retryable = retryable
        self.headers = headers or {}
        self.code = code
        self.body = body

    @property
    def is_timeout(self) -> bool:
        return self.code == "timeout"

    @property
    def is_content_filter(self) -> bool:
        return self.code == "content_filter"

    def to_api_error(self) -> ApiError:
        """What the client sees when no retry or failover helped."""
        if self.status == 429:
            retry_after = self.headers.get("retry-after")
            return ApiError.rate_limited(
                "The model deployment is rate limited; retry later.",
                code="upstream_rate_limited",
                headers={"retry-after": retry_after} if retry_after else None,
            )
        if self.status is not None and 400 <= self.status < 500:
            return ApiError(self.status if self.status in (400, 404, 413, 422) else 400, self.message,
                            code=self.code or "upstream_rejected")
        if self.is_timeout:
            return ApiError.upstream(504, "The model deployment timed out.", code="upstream_timeout")
        return ApiError.upstream(502, f"The model deployment failed: {self.message}")


def _error_code(body: Any) -> str | None:
    error = body.get("error", body) if isinstance(body, dict) else None
    return str(error["code"]) if isinstance(error, dict) and error.get("code") else None


def translate(deployment: Deployment, exc: Exception) -> BackendError:
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(deployment.alias, None, "timed out", retryable=True, code="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(deployment.alias, None, f"connection failed: {exc}", retryable=True, code="connection")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        headers = {k.lower(): v for k, v in exc.response.headers.items()}
        code = _error_code(exc.body)
        retryable = status in (408, 409, 429) or status >= 500
        error = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else None
        message = str(error["message"]) if isinstance(error, dict) and error.get("message") else exc.message
        return BackendError(deployment.alias, status, message, retryable=retryable, headers=headers, code=code,
                            body=exc.body)
    raise exc


class ModelBackends:
    """One SDK client per endpoint, created on first use inside the running event loop."""

    def __init__(self, *, timeout_s: float, connect_timeout_s: float, managed_identity_client_id: str | None = None):
        self._timeout = openai.Timeout(timeout_s, connect=connect_timeout_s)
        self._mi_client_id = managed_identity_client_id
        self._clients: dict[tuple, AsyncOpenAI] = {}
        self._credential: Any = None

    def _token_provider(self, scope: str):
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

        if self._credential is None:
            self._credential = DefaultAzureCredential(managed_identity_client_id=self._mi_client_id)
        return get_bearer_token_provider(self._credential, scope)

    def client(self, deployment: Deployment) -> AsyncOpenAI:
        key = (deployment.endpoint, deployment.api_version, deployment.auth, deployment.api_style,
               deployment.token_scope, tuple(sorted(deployment.headers.items())))
        client = self._clients.get(key)
        if client is None:
            scope = deployment.token_scope or COGNITIVE_SERVICES_SCOPE
            common: dict[str, Any] = {"max_retries": 0, "timeout": self._timeout,
                                      "default_headers": deployment.headers or None,
                                      "http_client": openai.DefaultAioHttpClient(timeout=self._timeout)}
            if deployment.api_style == "openai":
                # An OpenAI-compatible server; with Entra ID the bearer token is fetched per call.
                api_key = (deployment.api_key or "unused") if deployment.auth == "key" else self._token_provider(scope)
                client = AsyncOpenAI(base_url=deployment.endpoint, api_key=api_key, **common)
            elif deployment.auth == "key":
                client = AsyncAzureOpenAI(azure_endpoint=deployment.endpoint, api_version=deployment.api_version,
                                          api_key=deployment.api_key or "unused", **common)
            else:
                client = AsyncAzureOpenAI(azure_endpoint=deployment.endpoint, api_version=deployment.api_version,
                                          azure_ad_token_provider=self._token_provider(scope), **common)
            self._clients[key] = client
        return client

    async def chat(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                   ) -> BackendResult:
        """A non-streamed completion, passed through as the backend's JSON."""
        started = time.perf_counter()
        try:
            response = await self.client(deployment).post(
                CHAT_PATH, body={**params, "model": deployment.deployment, "stream": False},
                cast_to=httpx2.Response, options=_options(timeout_s))
            body = orjson.loads(response.content)
        except (openai.APIError, openai.APITimeoutError) as exc:
            raise translate(deployment, exc) from exc
        except orjson.JSONDecodeError as exc:
            raise BackendError(deployment.alias, 200, f"invalid JSON from the model: {exc}", retryable=True) from exc
        return BackendResult(body, {k.lower(): v for k, v in response.headers.items()}, time.perf_counter() - started)

    async def chat_stream(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                          ) -> AsyncIterator[dict[str, Any]]:
        """Open a stream; errors before the first chunk raise ``BackendError`` from this call.

        The returned iterator yields chunk dicts; a failure mid-stream raises ``BackendError`` from
        the iteration. Usage is always requested so the gateway can account for the tokens.
        """
        body = {**params, "model": deployment.deployment, "stream": True,
                "stream_options": {**(params.get("stream_options") or {}), "include_usage": True}}
        try:
            stream = await self.client(deployment).post(
                CHAT_PATH, body=body, cast_to=dict, stream=True, stream_cls=openai.AsyncStream[dict[str, Any]],
                options=_options(timeout_s))
        except (openai.APIError, openai.APITimeoutError) as exc:
            raise translate(deployment, exc) from exc
        return _chunks(deployment, stream)

    async def embed(self, deployment: Deployment, texts: list[str]) -> list[list[float]]:
        try:
            result = await self.client(deployment).embeddings.create(model=deployment.deployment, input=texts)
        except (openai.APIError, openai.APITimeoutError) as exc:
            raise translate(deployment, exc) from exc
        return [item.embedding for item in sorted(result.data, key=lambda d: d.index)]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._credential is not None:
            await self._credential.close()
            self._credential = None


async def _chunks(deployment: Deployment, stream: Any) -> AsyncIterator[dict[str, Any]]:
    try:
        async for chunk in stream:
            yield chunk
    except (openai.APIError, openai.APITimeoutError) as exc:
        raise translate(deployment, exc) from exc
    except Exception as exc:  # a cut connection surfaces as a transport error
        raise BackendError(deployment.alias, None, f"stream interrupted: {exc}", retryable=False,
                           code="stream_interrupted") from exc
    finally:
        await stream.close()
