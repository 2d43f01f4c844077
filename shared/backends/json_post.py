"""The pass-through JSON calls (chat completions, embeddings) as one aiohttp POST each.

The gateway forwards the client's parameters untouched and passes the model's JSON back, so the
SDK's request machinery (options, header merging, URL and query building through its httpx layer)
does nothing for these calls but costs ~0.5 ms of CPU each, a third of what the gateway spends on a
request without guardrails (``bench/gateway_overhead.py``; the profile is in the README). A backend
kind says where a call goes and with which credentials (``Target``: the URL and headers, built once
per deployment, and the bearer token provider for Entra ID); this module sends it and maps failures to
``BackendError`` exactly as ``openai_sdk.translate`` maps the SDK's exceptions (same statuses,
retryability, codes, messages and headers). Streams keep going through the SDK.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from shared.backends.port import BackendError, BackendResult
from shared.deployments import Deployment

TokenProvider = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    token: TokenProvider | None = None  # Entra ID: ``Authorization: Bearer <token>`` added per call


def status_error(deployment: Deployment, status: int, headers: dict[str, str], body: Any,
                 fallback: str) -> BackendError:
    """A model server's error response as a ``BackendError`` (``body``: the ``error`` object, or the raw text)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    message = str(error["message"]) if isinstance(error, dict) and error.get("message") else fallback
    code = str(error["code"]) if isinstance(error, dict) and error.get("code") else None
    return BackendError(deployment.alias, status, message, retryable=status in (408, 409, 429) or status >= 500,
                        headers=headers, code=code, body=body)


def error_response(deployment: Deployment, status: int, headers: dict[str, str], raw: bytes) -> BackendError:
    """An error response with the SDK's message and body (the ``error`` object, the text, or None)."""
    body: Any
    try:
        parsed = orjson.loads(raw)
        message = f"Error code: {status} - {parsed}"
        body = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    except orjson.JSONDecodeError:
        message, body = f"Error code: {status}", raw.decode("utf-8", "replace").strip() or None
    return status_error(deployment, status, headers, body, message)


class JsonPoster:
    """One aiohttp session per event loop (created on first use), keep-alive to every endpoint."""

    def __init__(self, *, timeout_s: float, connect_timeout_s: float) -> None:
        self._default = aiohttp.ClientTimeout(sock_connect=connect_timeout_s, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                                                  json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    async def post(self, deployment: Deployment, target: Target, body: dict[str, Any],
                   timeout_s: float | None) -> BackendResult:
        headers = target.headers
        if target.token is not None:
            headers = {**headers, "authorization": f"Bearer {await target.token()}"}
        timeout = (aiohttp.ClientTimeout(sock_connect=timeout_s, sock_read=timeout_s) if timeout_s is not None
                   else self._default)
        started = time.perf_counter()
        try:
            async with self._session_now().post(target.url, data=orjson.dumps(body), headers=headers,
                                                timeout=timeout) as response:
                raw = await response.read()
                status = response.status
                response_headers = {k.lower(): v for k, v in response.headers.items()}
        except TimeoutError as exc:
            raise BackendError(deployment.alias, None, "timed out", retryable=True, code="timeout") from exc
        except aiohttp.ClientError as exc:
            raise BackendError(deployment.alias, None, f"connection failed: {exc}", retryable=True,
                               code="connection") from exc
        if status >= 400:
            raise error_response(deployment, status, response_headers, raw)
        try:
            result = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BackendError(deployment.alias, 200, f"invalid JSON from the model: {exc}", retryable=True) from exc
        return BackendResult(result, response_headers, time.perf_counter() - started)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
