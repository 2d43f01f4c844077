"""The pass-through calls (chat completions, embeddings, streams) as one aiohttp POST each.

The gateway forwards the client's parameters untouched and passes the model's JSON back, so the
SDK's request machinery (options, header merging, URL and query building through its httpx layer)
does nothing for these calls but costs ~0.5 ms of CPU each, a third of what the gateway spends on a
request without guardrails (``bench/gateway_overhead.py``; the profile is in the README). A backend
kind says where a call goes and with which credentials (``Target``: the URL and headers, built once
per deployment, and the bearer token provider for Entra ID); this module sends it and maps failures to
``BackendError`` exactly as ``openai_sdk.translate`` maps the SDK's exceptions (same statuses,
retryability, codes, messages and headers). A stream's events are decoded here too: the SDK's stream
builds a model object per chunk (~60 us of CPU each, 11 ms per 150-token answer).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from shared.backends.port import BackendError, BackendResult, Chunk
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


def transport_error(deployment: Deployment, exc: BaseException) -> BackendError:
    """No response: a timeout (retryable, ``timeout``) or a failed connection (retryable, ``connection``)."""
    if isinstance(exc, TimeoutError):
        return BackendError(deployment.alias, None, "timed out", retryable=True, code="timeout")
    return BackendError(deployment.alias, None, f"connection failed: {exc}", retryable=True, code="connection")


async def _read(deployment: Deployment, response: aiohttp.ClientResponse) -> tuple[bytes, dict[str, str]]:
    """The whole body and the headers (lower-case names) of a response; the connection goes back to the pool."""
    try:
        raw = await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(deployment, exc) from exc
    finally:
        response.release()
    return raw, {k.lower(): v for k, v in response.headers.items()}


async def _events(deployment: Deployment, response: aiohttp.ClientResponse) -> AsyncIterator[Chunk]:
    """The JSON of each ``data:`` event until ``[DONE]`` (the SDK's stream decoding, without its models).

    An ``error`` event raises a non-retryable ``BackendError`` with the event's code (the SDK raised a
    bare ``APIError`` there, which no caller handled)."""
    data: list[bytes] = []
    drained = False
    try:
        async for raw_line in response.content:
            line = raw_line.rstrip(b"\r\n")
            if line:
                if line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                continue
            if not data:
                continue
            payload, data = b"\n".join(data), []
            if payload.startswith(b"[DONE]"):
                await response.content.read()  # the rest of the body, so the connection is reused
                break
            event = orjson.loads(payload)
            if isinstance(event, dict) and event.get("error"):
                error = event["error"]
                message = error.get("message") if isinstance(error, dict) else None
                raise BackendError(deployment.alias, None, message or "An error occurred during streaming",
                                   retryable=False, code=(error.get("code") if isinstance(error, dict) else None)
                                   or "stream_error", body=error)
            yield event
        drained = True
    except BackendError:
        raise
    except (TimeoutError, aiohttp.ClientError) as exc:  # a cut connection: as the SDK, a retryable one
        raise transport_error(deployment, exc) from exc
    except Exception as exc:  # a broken event
        raise BackendError(deployment.alias, None, f"stream interrupted: {exc}", retryable=False,
                           code="stream_interrupted") from exc
    finally:
        if drained:
            response.release()
        else:  # left before the end (the client went away): the connection cannot be reused
            response.close()


class JsonPoster:
    """One aiohttp session per event loop (created on first use), keep-alive to every endpoint."""

    def __init__(self, *, timeout_s: float, connect_timeout_s: float) -> None:
        self._default = aiohttp.ClientTimeout(sock_connect=connect_timeout_s, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # no pool limit of its own: the instance's HTTP concurrency bounds the calls in flight
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300))
        return self._session

    async def _send(self, deployment: Deployment, target: Target, body: dict[str, Any], timeout_s: float | None
                    ) -> aiohttp.ClientResponse:
        headers = target.headers
        if target.token is not None:
            headers = {**headers, "authorization": f"Bearer {await target.token()}"}
        timeout = (aiohttp.ClientTimeout(sock_connect=timeout_s, sock_read=timeout_s) if timeout_s is not None
                   else self._default)
        try:
            return await self._session_now().post(target.url, data=orjson.dumps(body), headers=headers,
                                                  timeout=timeout)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(deployment, exc) from exc

    async def post(self, deployment: Deployment, target: Target, body: dict[str, Any],
                   timeout_s: float | None) -> BackendResult:
        started = time.perf_counter()
        response = await self._send(deployment, target, body, timeout_s)
        raw, headers = await _read(deployment, response)
        if response.status >= 400:
            raise error_response(deployment, response.status, headers, raw)
        try:
            result = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BackendError(deployment.alias, 200, f"invalid JSON from the model: {exc}", retryable=True) from exc
        return BackendResult(result, headers, time.perf_counter() - started)

    async def stream(self, deployment: Deployment, target: Target, body: dict[str, Any],
                     timeout_s: float | None) -> AsyncIterator[Chunk]:
        """A server-sent event stream: an error status or a failed connection raises here (the router may
        fail over), then each event's JSON; an ``error`` event or a broken stream raises ``BackendError``."""
        response = await self._send(deployment, target, body, timeout_s)
        if response.status >= 400:
            raw, headers = await _read(deployment, response)
            raise error_response(deployment, response.status, headers, raw)
        return _events(deployment, response)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
