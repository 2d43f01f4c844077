"""``POST /v1/embeddings`` (and Azure's ``/openai/deployments/{model}/embeddings``) on the pipeline.

Parse: ``model`` (an embeddings deployment alias, or ``auto`` for the first one), ``input`` (a string,
a list of strings, or token arrays), ``encoding_format`` (``float``/``base64``), ``dimensions``,
``user``. Then the shared steps' kind of work, for embeddings: route to the embeddings deployments
(the named one first, then the others serving the same model), admit the input tokens against the
tenant's limits and budget, answer from the exact cache when the same input was embedded before
(per tenant and deployment, ``x-llmops-cache: hit-exact``), else call the model with retries and
failover and store the answer. Cost is the deployment's input price; everything is recorded like chat.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any, Literal, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from shared.api.errors import ApiError
from shared.backends import BackendResult
from shared.deployments import AUTO_MODEL, Deployment, DeploymentRegistry
from shared.gateway.context import JsonReply, Reply, RequestContext
from shared.gateway.endpoints import Endpoint
from shared.gateway.steps import Steps
from shared.observability.names import OPERATION_EMBEDDINGS
from shared.routing import RouteDecision
from shared.tokens import count_text_tokens

if TYPE_CHECKING:
    from shared.cache.exact import ExactCache
    from shared.gateway.context import ChatContext

MAX_INPUTS = 2048
CACHE_TTL_S = 24 * 3600


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[StrictStr] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1, le=3072)
    user: StrictStr | None = None
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None

    @property
    def output_token_limit(self) -> int | None:
        return 0

    def texts(self) -> list[str]:
        """The inputs as text, for counting tokens (token arrays count one token each)."""
        value = self.input
        if isinstance(value, str):
            return [value]
        return [v if isinstance(v, str) else " ".join("x" for _ in v) if isinstance(v, list) else "x"
                for v in value]


EmbeddingsContext = RequestContext[EmbeddingsRequest]


def parse_embeddings(ctx: EmbeddingsContext) -> None:
    try:
        request = EmbeddingsRequest.model_validate(ctx.body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in first.get("loc", ())[:1]) or None
        if first.get("type") == "missing":
            raise ApiError.bad_request(f"Missing required parameter: '{param}'.", param=param, code="missing") from None
        raise ApiError.bad_request(f"Invalid value for '{param}': {first.get('msg', 'invalid')}.", param=param,
                                   code="invalid_value") from None
    count = 1 if isinstance(request.input, str) else len(request.input)
    if count == 0 or request.input == "":
        raise ApiError.bad_request("'input' must not be empty.", param="input", code="empty_array")
    if count > MAX_INPUTS:
        raise ApiError.bad_request(f"At most {MAX_INPUTS} inputs per request, got {count}.", param="input",
                                   code="too_many_inputs")
    ctx.request = request
    ctx.prompt_tokens = sum(count_text_tokens(t) for t in request.texts())


def embeddings_plan(registry: DeploymentRegistry, model: str) -> RouteDecision:
    pool = registry.by_tier("embeddings")
    names = ", ".join(d.alias for d in pool) or "none configured"
    if model == AUTO_MODEL:
        if not pool:
            raise ApiError.not_found("No embeddings deployment is configured.", param="model", code="model_not_found")
        return RouteDecision("auto", "embeddings", pool)
    chosen = registry.get(model)
    if chosen is None or chosen.tier != "embeddings":
        raise ApiError.not_found(f"The embeddings model '{model}' does not exist. Available: {names}.",
                                 param="model", code="model_not_found")
    return RouteDecision("explicit", "embeddings",
                         [chosen, *(d for d in pool if d is not chosen and d.model == chosen.model)])


def cache_key(tenant_id: str, deployment: Deployment, body: dict[str, Any]) -> str:
    material = orjson.dumps({"tenant": tenant_id, "deployment": deployment.alias, "model": deployment.model,
                             "endpoint": deployment.endpoint, "input": body.get("input"),
                             "dimensions": body.get("dimensions"), "format": body.get("encoding_format")},
                            option=orjson.OPT_SORT_KEYS)
    return "emb_" + hashlib.sha256(material).hexdigest()


class EmbeddingSteps:
    """The steps only embeddings need; the rest (``admit``) are the shared ``Steps``."""

    def __init__(self, steps: Steps, registry: DeploymentRegistry, exact: ExactCache | None) -> None:
        self.steps = steps
        self.registry = registry
        self.exact = exact

    async def route(self, ctx: EmbeddingsContext) -> None:
        assert ctx.request is not None
        ctx.route = embeddings_plan(self.registry, ctx.request.model)
        ctx.deployment = ctx.route.plan[0]
        ctx.record["route"] = ctx.route.record()
        ctx.response_headers["x-llmops-route"] = ctx.route.header()

    def _key(self, ctx: EmbeddingsContext) -> str | None:
        if self.exact is None or ctx.principal is None or ctx.deployment is None:
            return None
        if "no-store" in ctx.headers.get("cache-control", "").lower():
            return None
        return cache_key(ctx.principal.tenant_id, ctx.deployment, ctx.body)

    async def call(self, ctx: EmbeddingsContext) -> Reply:
        assert ctx.route is not None and ctx.principal is not None
        key = self._key(ctx)
        headers_cache = "miss" if key else "bypass"
        if key is not None and self.exact is not None and "no-cache" not in ctx.headers.get("cache-control", ""):
            hit = await self.exact.get(ctx.principal.tenant_id, key)
            if hit is not None:
                return self._reply(ctx, dict(hit.response), cached=True, latency_s=0.0)
        params = {k: v for k, v in ctx.body.items() if k in ("input", "encoding_format", "dimensions", "user")}

        async def attempt(deployment: Deployment, timeout_s: float) -> BackendResult:
            return await self.steps.backends.embeddings(deployment, params, timeout_s=timeout_s)

        started = time.perf_counter_ns()
        try:
            result, ctx.deployment = await self.steps.failover.call(ctx.route.plan, attempt,
                                                                    ctx.record.setdefault("attempts", []))
        finally:
            ctx.backend_ns += time.perf_counter_ns() - started
        if key is not None and self.exact is not None:
            await self.exact.put(ctx.principal.tenant_id, key, result.body, CACHE_TTL_S,
                                 {"deployment": ctx.deployment.alias, "model": ctx.deployment.model})
        ctx.record["cache"] = headers_cache
        return self._reply(ctx, result.body, cached=False, latency_s=result.latency_s)

    def _reply(self, ctx: EmbeddingsContext, body: dict[str, Any], *, cached: bool, latency_s: float) -> JsonReply:
        assert ctx.deployment is not None
        usage = body.get("usage") or {}
        tokens = int(usage.get("prompt_tokens") or ctx.prompt_token_count())
        if cached:
            body = {**body, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
            ctx.record["cache"] = "hit-exact"
        self.steps.recorder.account(ctx, body, {"prompt_tokens": 0 if cached else tokens, "completion_tokens": 0,
                                                "cached_tokens": 0, "total_tokens": 0 if cached else tokens})
        ctx.record["backend_latency_ms"] = round(latency_s * 1000, 3)
        headers = ctx.base_headers()
        headers["x-llmops-cache"] = "hit-exact" if cached else str(ctx.record.get("cache", "miss"))
        headers["x-llmops-cost-usd"] = f"{ctx.record.get('cost_usd', 0.0):.8f}"
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        self.steps.recorder.finish(ctx, 200)
        return JsonReply(200, orjson.dumps(body), headers)


def embeddings_endpoint(steps: Steps, embedding_steps: EmbeddingSteps) -> Endpoint[EmbeddingsRequest]:
    async def admit(ctx: EmbeddingsContext) -> None:  # the shared step reads only what every request has
        await steps.admit(cast("ChatContext", ctx))

    return Endpoint(OPERATION_EMBEDDINGS, parse_embeddings, (embedding_steps.route, admit, embedding_steps.call))
