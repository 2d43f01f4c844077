"""The backend port: what the gateway needs from a kind of model server, and how a failure looks.

A deployment's ``api_style`` names its backend kind (``shared.backends.BACKEND_KINDS``). Each kind is
one module implementing ``Backend``; the gateway never sees an SDK. A backend raises ``BackendError``
for every failure, with ``retryable`` telling the router whether another try or deployment may
succeed; the router's retries, failover and circuit breakers work the same for every kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from shared.api.errors import ApiError
from shared.deployments import Deployment

Chunk = dict[str, Any]


@dataclass(slots=True)
class BackendResult:
    body: dict[str, Any]
    headers: dict[str, str]
    latency_s: float


class Backend(Protocol):
    """One kind of model server (Azure OpenAI, an OpenAI-compatible server, ...)."""

    async def chat(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                   ) -> BackendResult:
        """A non-streamed chat completion: the backend's JSON body, passed through."""
        ...

    async def chat_stream(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                          ) -> AsyncIterator[Chunk]:
        """Open a stream: failures before the first chunk raise from this call, later ones from the iteration.

        Usage is always requested from the server (the gateway accounts for every token)."""
        ...

    async def embed(self, deployment: Deployment, texts: list[str]) -> list[list[float]]:
        ...

    async def embeddings(self, deployment: Deployment, params: dict[str, Any], *, timeout_s: float | None = None
                         ) -> BackendResult:
        """An embeddings request (``input``, ``dimensions``, ``encoding_format``...): the JSON body, passed through."""
        ...

    async def probe(self, deployment: Deployment) -> None:
        """A cheap call that raises when the deployment's endpoint cannot be reached (readiness)."""
        ...

    async def close(self) -> None:
        ...


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
