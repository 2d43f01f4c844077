"""Helpers the HTTP functions share: reading a capped body and turning core replies into responses.

The functions use the ``azurefunctions-extensions-http-fastapi`` types (``Request``,
``StreamingResponse``) because the classic ``func.HttpResponse`` and ``AsgiFunctionApp`` buffer
the whole body and cannot stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse

from shared.api import sse
from shared.api.errors import ApiError
from shared.api.schemas import decode_json_object
from shared.auth import Principal
from shared.gateway import Reply, StreamReply
from shared.gateway.pipeline import BodyReader
from shared.runtime import Platform


def body_reader(request: Request, timeout_s: float) -> BodyReader:
    """A reader that refuses bodies over the limit without buffering them (413), and a body still not
    read whole after ``timeout_s`` (408: a client trickling its body holds a connection no longer)."""

    async def read(limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise ApiError.too_large(limit)
            except ValueError:
                raise ApiError.bad_request("Invalid Content-Length header.", code="invalid_header") from None
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise ApiError.too_large(limit)
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, f"The request body was not received within {timeout_s:g} s.",
                           code="request_timeout") from None
        return b"".join(chunks)

    return read


def body_of(request: Request, platform: Platform) -> BodyReader:
    """The request's body reader, with the platform's read timeout."""
    return body_reader(request, platform.settings.body_read_timeout_s)


def to_response(reply: Reply) -> Response:
    if isinstance(reply, StreamReply):
        return StreamingResponse(reply.events, status_code=reply.status, headers=reply.headers,
                                 media_type=sse.MEDIA_TYPE)
    return Response(reply.body, status_code=reply.status, headers=reply.headers, media_type="application/json")


def error_response(error: ApiError) -> Response:
    return Response(error.body_bytes(), status_code=error.status, headers=error.headers,
                    media_type="application/json")


def path_segment_after(path: str, marker: str) -> str:
    """The URL path segment that follows ``marker`` (route parameters, independent of the host)."""
    parts = [p for p in path.split("/") if p]
    return parts[parts.index(marker) + 1] if marker in parts[:-1] else ""


async def accept_json(req: Request, authenticate: Callable[[Any], Awaitable[Any]], limit: int,
                      submit: Callable[[Principal, dict[str, Any]], Awaitable[dict[str, Any]]],
                      read_timeout_s: float) -> Response:
    """Authenticate, read a capped JSON object, hand it to the core; 202 with its answer, or the error."""
    try:
        caller = await authenticate(req.headers)
        body = decode_json_object(await body_reader(req, read_timeout_s)(limit))
        result = await submit(caller.principal, body)
    except ApiError as error:
        return error_response(error)
    return Response(orjson.dumps(result), status_code=202, media_type="application/json")
