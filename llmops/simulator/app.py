"""The Azure OpenAI simulator: Azure's REST shape, served by Starlette (dev-only, never deployed).

Routes:
- ``POST /openai/deployments/{name}/chat/completions?api-version=...`` (JSON or SSE streaming); each
  deployment accepts what its model family accepts (``families.py``: reasoning models refuse ``max_tokens``)
- ``POST /openai/deployments/{name}/embeddings?api-version=...``
- ``GET /openai/models`` and ``GET /openai/deployments`` (what the SDK's ``models.list()`` reads)
- ``POST /v1/chat/completions`` (OpenAI shape, ``model`` names the deployment)
- control: ``GET /control/state``, ``POST /control/faults`` ``{"deployment": "name"|"*", ...Faults}``
  (``"create": true`` first adds a model the OpenAI-shaped route has not served yet),
  ``POST /control/limits`` ``{"deployment", "tokens_per_minute", "requests_per_minute"}``,
  ``POST /control/latency`` ``{"first_token_ms", "per_token_ms", "per_token_sd_ms"}``, ``POST /control/reset``.
"""

from __future__ import annotations

import asyncio
import base64
import random
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from llmops.simulator import families, generator, tools
from llmops.simulator.replies import json_response as _json
from llmops.simulator.state import DeploymentState, Faults, LatencyModel, Limits, SimulatorState
from shared.api import sse
from shared.model_catalog import load_catalog

DEFAULT_MAX_TOKENS = 1000  # what a request without max_tokens is charged against the TPM window


def base64_floats(vector: list[float]) -> str:
    """An embedding as the API's ``encoding_format: base64`` sends it: little-endian float32 bytes."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None,
           extra: dict[str, Any] | None = None) -> Response:
    return _json({"error": {"message": message, "type": None, "param": None, "code": code, **(extra or {})}},
                 status, headers)


_FILTER_OK = {c: {"filtered": False, "severity": "safe"} for c in ("hate", "self_harm", "sexual", "violence")}


class Simulator:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    # -- helpers ---------------------------------------------------------------------------
    def _check_auth(self, request: Request) -> Response | None:
        presented = request.headers.get("api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if not presented:
            return _error(401, "Access denied due to missing subscription key.", "401")
        if self.state.api_key and presented.strip() != self.state.api_key:
            return _error(401, "Access denied due to invalid subscription key.", "401")
        return None

    async def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "Invalid JSON body.", "invalid_json")
        return body if isinstance(body, dict) else _error(400, "Body must be a JSON object.", "invalid_json")

    async def _admit(self, deployment: DeploymentState, body: dict[str, Any]) -> Response | dict[str, str]:
        """Faults first (in the order a real service would hit them), then the rate limit."""
        faults = deployment.faults
        if faults.extra_latency_ms:
            await asyncio.sleep(faults.extra_latency_ms / 1000)
        if self.state.roll(faults.timeout_rate):
            deployment.count("timeout")
            await asyncio.sleep(faults.timeout_s)
            return _error(408, "The operation was timeout.", "timeout")
        if self.state.roll(faults.error_rate):
            deployment.count(f"fault_{faults.error_status}")
            headers = {}
            if faults.error_status in (429, 503):
                retry = faults.retry_after_s if faults.retry_after_s is not None else 1.0
                headers = {"retry-after": str(max(int(retry), 0)), "retry-after-ms": str(int(retry * 1000))}
            return _error(faults.error_status, f"Simulated failure {faults.error_status}.",
                          "429" if faults.error_status == 429 else "server_error", headers)
        if self.state.roll(faults.content_filter_rate):
            deployment.count("content_filter")
            return _error(400, "The response was filtered due to the prompt triggering content management policy.",
                          "content_filter", extra={"innererror": {"code": "ResponsibleAIPolicyViolation"}})
        messages = body.get("messages") or []
        estimate = generator.count_message_tokens(messages) + int(
            body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS)
        decision = deployment.admit(estimate)
        if not decision.allowed:
            deployment.count("rate_limited")
            return _error(429, "Requests to the deployment have exceeded the rate limit. "
                          f"Retry after {decision.headers['retry-after']} seconds.", "429", decision.headers)
        return decision.headers

    # -- chat ------------------------------------------------------------------------------
    async def chat(self, request: Request, deployment_name: str | None = None, *, azure_v1: bool = False
                   ) -> Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        name = deployment_name or body.get("model")
        if deployment_name is not None and not request.query_params.get("api-version"):
            return _error(404, "Resource not found: the api-version query parameter is required.", "404")
        deployment = self.state.get(str(name))
        if deployment is None and deployment_name is None and not azure_v1 and isinstance(name, str) and name:
            # The OpenAI-shaped route stands in for any OpenAI-compatible server (e.g. vLLM serving a
            # fine-tuned adapter): it serves whatever model it is asked for.
            deployment = self.state.add(name)
        if deployment is None:
            return _error(404, f"The API deployment for this resource does not exist: {name}.", "DeploymentNotFound")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "'messages' is a required property.", "invalid_request")
        family = load_catalog().family(deployment.family)
        if (refused := families.refusal(family, body)) is not None:
            deployment.count("refused_parameter")
            return _json(refused, 400)
        admitted = await self._admit(deployment, body)
        if isinstance(admitted, Response):
            return admitted
        reasoning = families.reasoning_tokens(family, body, generator.seed_of(body["messages"], "reasoning"))
        result = generator.complete(families.visible_request(body, reasoning), default_tokens=self.state.answer_tokens,
                                    hallucinate=self.state.roll(deployment.faults.hallucination_rate))
        if reasoning:
            result["usage"] = families.add_reasoning(result["usage"], reasoning)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model = f"{deployment.name}-sim"
        rng = random.Random(generator.seed_of(body["messages"], "latency"))
        headers = {**admitted, "apim-request-id": str(uuid.uuid4()), "x-ms-region": "Local Simulator"}
        if body.get("stream"):
            deployment.count("ok_stream")
            events = self._stream(deployment, body, result, completion_id, model, rng)
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        delay = self.state.latency.total_s(result["usage"]["completion_tokens"], rng)
        if delay:
            await asyncio.sleep(delay)
        deployment.count("ok")
        return _json({
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "system_fingerprint": "fp_llmops_sim",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTER_OK}],
            "choices": [{"index": 0, "message": result["message"], "finish_reason": result["finish_reason"],
                         "logprobs": None, "content_filter_results": _FILTER_OK}],
            "usage": result["usage"],
        }, headers=headers)

    async def _stream(self, deployment: DeploymentState, body: dict[str, Any], result: dict[str, Any],
                      completion_id: str, model: str, rng: random.Random) -> AsyncIterator[bytes]:
        created = int(time.time())
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_llmops_sim"}
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        cut_after = deployment.faults.stream_cut_after_chunks if self.state.roll(
            deployment.faults.stream_cut_rate) else None
        latency = self.state.latency
        if latency.first_token_ms:
            await asyncio.sleep(latency.first_token_ms / 1000)
        event = sse.event
        yield event({"id": "", "object": "", "created": 0, "model": "", "choices": [],
                     "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTER_OK}]})
        deltas = tools.message_deltas(result["message"], generator.split_for_stream)
        for sent, delta in enumerate(deltas):
            if cut_after is not None and sent >= cut_after:
                deployment.count("stream_cut")
                raise ConnectionAbortedError("simulated stream cut")
            yield event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None,
                                              "content_filter_results": _FILTER_OK}], **(
                {"usage": None} if include_usage else {})})
            if sent and (pause := latency.token_delay_s(rng)):
                await asyncio.sleep(pause)
        yield event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": result["finish_reason"],
                                          "logprobs": None}], **({"usage": None} if include_usage else {})})
        if include_usage:
            yield event({**base, "choices": [], "usage": result["usage"]})
        yield sse.DONE

    # -- embeddings and models ------------------------------------------------------------
    async def embeddings(self, request: Request) -> Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        # /openai/deployments/{deployment}/embeddings names it in the path; Azure's v1 API in the body
        deployment = self.state.get(str(request.path_params.get("deployment") or body.get("model")))
        if deployment is None:
            return _error(404, "The API deployment for this resource does not exist.", "DeploymentNotFound")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return _error(400, "'input' must be a string or a list of strings.", "invalid_request")
        dimensions = body.get("dimensions") or 1536
        if not isinstance(dimensions, int) or not 1 <= dimensions <= 3072:
            return _error(400, "'dimensions' must be an integer between 1 and 3072.", "invalid_request")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _error(400, "'encoding_format' must be 'float' or 'base64'.", "invalid_request")
        tokens = sum(generator.count_text_tokens(t) for t in texts)
        deployment.count("embeddings")
        vectors = [generator.embedding(t, dimensions) for t in texts]
        return _json({"object": "list", "model": deployment.name,
                      "data": [{"object": "embedding", "index": i,
                                "embedding": vector if encoding == "float" else base64_floats(vector)}
                               for i, vector in enumerate(vectors)],
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def models(self, request: Request) -> Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        return _json({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "llmops-simulator"}
            for name in self.state.deployments]})

    # -- control ---------------------------------------------------------------------------
    async def control_state(self, request: Request) -> Response:
        return _json(self.state.snapshot())

    async def control_faults(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        target = str(body.pop("deployment", "*"))
        if body.pop("create", False) and target != "*":  # a model the OpenAI-shaped route will serve
            self.state.add(target)
        try:
            faults = Faults.model_validate(body)
            names = self.state.set_faults(target, faults)
        except ValidationError as exc:
            return _error(400, str(exc), "invalid_faults")
        except KeyError:
            return _error(404, f"unknown deployment {target}", "DeploymentNotFound")
        return _json({"deployments": names, "faults": faults.model_dump()})

    async def control_limits(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        name = str(body.get("deployment"))
        if self.state.get(name) is None:
            return _error(404, f"unknown deployment {name}", "DeploymentNotFound")
        self.state.set_limits(name, Limits(body.get("tokens_per_minute"), body.get("requests_per_minute")))
        return _json(self.state.snapshot()["deployments"][name])

    async def control_latency(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        self.state.latency = LatencyModel(**{k: float(v) for k, v in body.items()
                                             if k in ("first_token_ms", "per_token_ms", "per_token_sd_ms")})
        return _json(self.state.snapshot()["latency"])

    async def control_reset(self, request: Request) -> Response:
        self.state.reset()
        return _json({"reset": True})


def create_app(state: SimulatorState) -> Starlette:
    sim = Simulator(state)

    async def azure_chat(request: Request) -> Response:
        return await sim.chat(request, request.path_params["deployment"])

    async def azure_v1_chat(request: Request) -> Response:  # Azure OpenAI's v1 API: no api-version
        return await sim.chat(request, azure_v1=True)

    async def sim_responses(request: Request) -> Response:
        from llmops.simulator.responses import responses

        return await responses(sim, request)

    app = Starlette(routes=[
        Route("/openai/deployments/{deployment}/chat/completions", azure_chat, methods=["POST"]),
        Route("/openai/deployments/{deployment}/embeddings", sim.embeddings, methods=["POST"]),
        Route("/openai/models", sim.models, methods=["GET"]),
        Route("/openai/deployments", sim.models, methods=["GET"]),
        Route("/v1/chat/completions", sim.chat, methods=["POST"]),
        Route("/openai/v1/chat/completions", azure_v1_chat, methods=["POST"]),
        Route("/openai/v1/embeddings", sim.embeddings, methods=["POST"]),
        Route("/openai/v1/models", sim.models, methods=["GET"]),
        Route("/openai/responses", sim_responses, methods=["POST"]),
        Route("/openai/v1/responses", sim_responses, methods=["POST"]),
        Route("/v1/responses", sim_responses, methods=["POST"]),
        Route("/control/state", sim.control_state, methods=["GET"]),
        Route("/control/faults", sim.control_faults, methods=["POST"]),
        Route("/control/limits", sim.control_limits, methods=["POST"]),
        Route("/control/latency", sim.control_latency, methods=["POST"]),
        Route("/control/reset", sim.control_reset, methods=["POST"]),
    ])
    app.state.simulator = state
    return app
