"""The simulator's Responses API: ``POST /openai/responses?api-version=...`` (Azure, ``model`` names the
deployment), ``POST /openai/v1/responses`` and ``POST /v1/responses`` (OpenAI shape).

The request is translated to a chat request (``shared/responses/translate.py``), answered by the same
generator as chat (so tools, structured output, grounded answers and faults behave alike), and the
answer returned as a Response object or as Responses stream events. Like a deployment told
``store: false`` it keeps nothing: ``previous_response_id`` is refused (the gateway resolves it from
its own conversation memory and never forwards it).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from llmops.simulator import families, generator, tools
from llmops.simulator.replies import json_response as _json
from llmops.simulator.state import DeploymentState, SimulatorState
from shared.model_catalog import load_catalog
from shared.responses.events import ResponseEventStream, sse
from shared.responses.translate import (
    ResponsesRequest,
    ResponsesRequestError,
    chat_body,
    from_chat_completion,
    parse_responses_request,
)


class Simulator(Protocol):
    """What this route uses of the simulator (``app.Simulator``, which passes itself in)."""

    state: SimulatorState

    def _check_auth(self, request: Request) -> Response | None: ...

    async def _body(self, request: Request) -> dict[str, Any] | Response: ...

    async def _admit(self, deployment: DeploymentState, body: dict[str, Any]) -> Response | dict[str, str]: ...


def _error(status: int, message: str, code: str, param: str | None = None) -> Response:
    return _json({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}},
                 status)


async def responses(sim: Simulator, request: Request) -> Response:
    if (denied := sim._check_auth(request)) is not None:
        return denied
    body = await sim._body(request)
    if isinstance(body, Response):
        return body
    azure = request.url.path.startswith("/openai/responses")
    if azure and not request.query_params.get("api-version"):
        return _error(404, "Resource not found: the api-version query parameter is required.", "404")
    try:
        parsed = parse_responses_request(body)
        if parsed.previous_response_id is not None or parsed.conversation is not None:
            raise ResponsesRequestError("This deployment stores no responses: previous_response_id and "
                                        "conversation are not supported.", "previous_response_id")
        chat = chat_body(parsed)
    except ResponsesRequestError as exc:
        return _error(400, exc.message, exc.code, exc.param)
    deployment = sim.state.get(parsed.model)
    if deployment is None and not azure:
        deployment = sim.state.add(parsed.model)
    if deployment is None:
        return _error(404, f"The API deployment for this resource does not exist: {parsed.model}.",
                      "DeploymentNotFound")
    family = load_catalog().family(deployment.family)
    if (refused := families.refusal(family, chat)) is not None:  # e.g. temperature on a reasoning model
        deployment.count("refused_parameter")
        return _json(refused, 400)
    admitted = await sim._admit(deployment, chat)
    if isinstance(admitted, Response):
        return admitted
    reasoning = families.reasoning_tokens(family, chat, generator.seed_of(chat["messages"], "reasoning"))
    result = generator.complete(families.visible_request(chat, reasoning),
                                hallucinate=sim.state.roll(deployment.faults.hallucination_rate))
    if reasoning:
        result["usage"] = families.add_reasoning(result["usage"], reasoning)
    response_id = f"resp_{uuid.uuid4().hex}"
    model = f"{deployment.name}-sim"
    headers = {**admitted, "apim-request-id": str(uuid.uuid4()), "x-ms-region": "Local Simulator"}
    rng = random.Random(generator.seed_of(chat["messages"], "latency"))
    if parsed.stream:
        deployment.count("ok_stream")
        deployment.count("responses_api")
        events = _events(sim, parsed, result, response_id, model, rng)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    delay = sim.state.latency.total_s(result["usage"]["completion_tokens"], rng)
    if delay:
        await asyncio.sleep(delay)
    deployment.count("ok")
    deployment.count("responses_api")
    completion = {"model": model, "choices": [{"message": result["message"], "finish_reason": result["finish_reason"]}],
                  "usage": result["usage"]}
    return _json(from_chat_completion(completion, parsed, response_id), headers=headers)


def chat_chunks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat stream chunks of a generated answer (what the chat route streams)."""
    deltas = tools.message_deltas(result["message"], generator.split_for_stream)
    chunks = [{"choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": result["finish_reason"]}]})
    chunks.append({"choices": [], "usage": result["usage"]})
    return chunks


async def _events(sim: Simulator, parsed: ResponsesRequest, result: dict[str, Any], response_id: str, model: str,
                  rng: random.Random) -> AsyncIterator[bytes]:
    stream = ResponseEventStream(parsed, response_id, model)
    latency = sim.state.latency
    if latency.first_token_ms:
        await asyncio.sleep(latency.first_token_ms / 1000)
    for event in stream.start():
        yield sse(event)
    for sent, chunk in enumerate(chat_chunks(result)):
        for event in stream.feed(chunk):
            yield sse(event)
        if sent and (pause := latency.token_delay_s(rng)):
            await asyncio.sleep(pause)
    for event in stream.finish():
        yield sse(event)
