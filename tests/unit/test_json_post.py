"""The lean JSON call (``shared.backends.json_post``) against a real local HTTP server: the same URL,
credentials and body as the SDK client, and for every failure the same ``BackendError`` as the SDK's
exception translated (status, code, retryability, message, headers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson
import pytest
from aiohttp import web

from shared.backends import ModelBackends
from shared.backends.openai_sdk import CHAT_PATH, translate
from shared.backends.port import BackendError
from shared.deployments import Deployment
from tests.support.services import free_port

SEEN: list[dict[str, Any]] = []


async def handler(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    SEEN.append({"path": request.path, "query": dict(request.query), "api-key": request.headers.get("api-key"),
                 "authorization": request.headers.get("authorization"), "x-extra": request.headers.get("x-extra"),
                 "body": body})
    case = body["messages"][0]["content"]
    if case == "ok":
        return web.json_response({"id": "x", "choices": [{"message": {"content": "hi"}}]},
                                 headers={"x-ratelimit-remaining-requests": "9"})
    if case == "429":
        return web.json_response({"error": {"code": "429", "message": "Rate limit is exceeded."}}, status=429,
                                 headers={"retry-after": "5"})
    if case == "filtered":
        return web.json_response({"error": {"code": "content_filter", "message": "filtered"}}, status=400)
    if case == "500-text":
        return web.Response(text="upstream broke", status=500)
    if case == "bad-json":
        return web.Response(text="{not json", content_type="application/json")
    if case.startswith("stream"):
        return await stream(request, case)
    await asyncio.sleep(2)  # "slow"
    return web.json_response({})


CHUNKS = [{"id": "c", "choices": [{"index": 0, "delta": {"content": f"part {i} "}, "finish_reason": None}]}
          for i in range(5)]


async def stream(request: web.Request, case: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b": a comment line\n\n")
    for i, chunk in enumerate(CHUNKS):
        if case == "stream-error" and i == 2:
            await response.write(b'data: {"error": {"code": "server_error", "message": "overloaded"}}\n\n')
            return response
        if case == "stream-cut" and i == 2:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    return response


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    SEEN.clear()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def deployment(endpoint: str, api_style: str = "azure") -> Deployment:
    return Deployment(alias="d1", deployment="gpt-4o-mini", model="gpt-4o-mini", endpoint=endpoint,
                      api_version="2024-10-21", auth="key", api_key="k1", api_style=api_style,
                      headers={"x-extra": "1"})


async def both(backends: ModelBackends, dep: Deployment, case: str) -> tuple[Any, Any]:
    """(lean call outcome, SDK call outcome) for one request."""
    backend: Any = backends.of(dep)
    params = {"messages": [{"role": "user", "content": case}]}
    outcomes: list[Any] = []
    timeout_s = 0.5 if case == "slow" else 10.0  # only the slow case is about the deadline (CI may be loaded)
    for lean in (True, False):
        try:
            if lean:
                outcomes.append((await backend.chat(dep, params, timeout_s=timeout_s)).body)
            else:
                response = await backend.client(dep).post(
                    CHAT_PATH, body={**params, "model": dep.deployment, "stream": False}, cast_to=httpx2.Response,
                    options={"timeout": timeout_s})
                outcomes.append(orjson.loads(response.content))
        except (BackendError, orjson.JSONDecodeError) as exc:
            outcomes.append(exc)
        except Exception as exc:  # the SDK's exception, as the backend translated it before
            outcomes.append(translate(dep, exc))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("api_style", ["azure", "openai"])
async def test_the_request_is_the_sdk_clients_request(server: str, api_style: str) -> None:
    backends = ModelBackends(timeout_s=5, connect_timeout_s=1)
    dep = deployment(server if api_style == "azure" else f"{server}/v1", api_style)
    try:
        lean, sdk = await both(backends, dep, "ok")
    finally:
        await backends.of(dep).close()
    assert lean == sdk == {"id": "x", "choices": [{"message": {"content": "hi"}}]}
    mine, theirs = SEEN
    assert {k: mine[k] for k in ("path", "query", "api-key", "authorization", "x-extra", "body")} == {
        k: theirs[k] for k in ("path", "query", "api-key", "authorization", "x-extra", "body")}
    azure_path = "/openai/deployments/gpt-4o-mini/chat/completions"
    assert mine["path"] == (azure_path if api_style == "azure" else "/v1/chat/completions")


@pytest.mark.parametrize("case", ["429", "filtered", "500-text", "bad-json", "slow"])
async def test_every_failure_is_the_same_backend_error_as_through_the_sdk(server: str, case: str) -> None:
    backends = ModelBackends(timeout_s=5, connect_timeout_s=1)
    dep = deployment(server)
    try:
        lean, sdk = await both(backends, dep, case)
    finally:
        await backends.of(dep).close()
    if case == "bad-json":  # the SDK hands the bytes back; the backend refused them before as now
        assert isinstance(sdk, orjson.JSONDecodeError)
        assert isinstance(lean, BackendError) and lean.status == 200 and lean.retryable
        assert lean.message.startswith("invalid JSON from the model")
        return
    assert isinstance(lean, BackendError) and isinstance(sdk, BackendError)
    assert (lean.status, lean.code, lean.retryable) == (sdk.status, sdk.code, sdk.retryable)
    assert lean.message == sdk.message
    assert lean.headers.get("retry-after") == sdk.headers.get("retry-after")
    assert lean.body == sdk.body


async def test_a_closed_port_is_a_retryable_connection_error() -> None:
    backends = ModelBackends(timeout_s=5, connect_timeout_s=1)
    dep = deployment(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(BackendError) as caught:
            await backends.chat(dep, {"messages": [{"role": "user", "content": "ok"}]})
    finally:
        await backends.of(dep).close()
    assert caught.value.code == "connection" and caught.value.retryable and caught.value.status is None


async def read_stream(backends: ModelBackends, dep: Deployment, case: str) -> tuple[list[Any], BackendError | None]:
    chunks: list[Any] = []
    try:
        async for chunk in await backends.chat_stream(dep, {"messages": [{"role": "user", "content": case}]}):
            chunks.append(chunk)
    except BackendError as exc:
        return chunks, exc
    return chunks, None


async def test_a_stream_is_the_servers_events_and_its_failures_are_backend_errors(server: str) -> None:
    backends = ModelBackends(timeout_s=5, connect_timeout_s=1)
    dep = deployment(server)
    try:
        chunks, error = await read_stream(backends, dep, "stream")
        sent = SEEN[-1]["body"]
        cut_chunks, cut = await read_stream(backends, dep, "stream-cut")
        error_chunks, failed = await read_stream(backends, dep, "stream-error")
        with pytest.raises(BackendError) as refused:  # an error status raises when the stream is opened
            await backends.chat_stream(dep, {"messages": [{"role": "user", "content": "429"}]})
    finally:
        await backends.of(dep).close()
    assert error is None and chunks == CHUNKS
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    # a cut connection is what the SDK made of it: a retryable connection error (the relay reports it
    # to the client as stream_interrupted once chunks were sent; before the first one, failover retries)
    assert cut_chunks == CHUNKS[:2] and cut is not None and cut.code == "connection" and cut.retryable
    assert error_chunks == CHUNKS[:2] and failed is not None and failed.code == "server_error"
    assert failed.message == "overloaded"
    assert (refused.value.status, refused.value.headers["retry-after"], refused.value.retryable) == (429, "5", True)
