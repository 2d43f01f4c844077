"""The chat gateway: one request from the client's bytes to the model and back.

Steps, in order: authenticate -> read and validate the body -> choose the deployment -> call the
model (or open a stream) -> shape the reply -> record (request log + telemetry). Every outcome,
including every error, is recorded exactly once. Client mistakes become 4xx ``ApiError``s, model
failures 429/502/504; an unexpected exception is logged with its stack and answered with a 500
whose body names the request id (it is a bug to fix, never a normal path).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from shared.api.errors import ApiError
from shared.api.schemas import backend_params, decode_json_object, parse_chat_request
from shared.auth import KeyService
from shared.backends import BackendError, ModelBackends
from shared.config import Settings
from shared.deployments import AUTO_MODEL, DeploymentRegistry
from shared.gateway.context import JsonReply, Reply, RequestContext, StreamReply, usage_of
from shared.gateway.streaming import open_stream, sse_events
from shared.observability.telemetry import Telemetry
from shared.request_log import RequestLog
from shared.tenants import TenantDirectory

if TYPE_CHECKING:  # the guardrails pull in numpy: imported when the platform is built, not with the app
    from shared.guardrails.service import GuardrailService

log = logging.getLogger(__name__)
BodyReader = Callable[[int], Awaitable[bytes]]
UNAUTHENTICATED = "_unauthenticated"


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "auth_error"
    if status == 429:
        return "rate_limited"
    if status == 499:
        return "client_disconnected"
    if status == 500:
        return "internal_error"
    if status >= 500:
        return "upstream_error"
    return "client_error"


def completion_text(body: Mapping[str, Any]) -> str:
    """The answer's text (or its tool calls as JSON) from a completion body."""
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    if message.get("content") is not None:
        return str(message["content"])
    return orjson.dumps(message.get("tool_calls") or []).decode()


class ChatGateway:
    def __init__(
        self,
        *,
        settings: Settings,
        keys: KeyService,
        tenants: TenantDirectory,
        deployments: DeploymentRegistry,
        backends: ModelBackends,
        request_log: RequestLog,
        telemetry: Telemetry,
        guardrails: GuardrailService | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.tenants = tenants
        self.deployments = deployments
        self.backends = backends
        self.request_log = request_log
        self.telemetry = telemetry
        self.guardrails = guardrails

    # -- entry point -----------------------------------------------------------------------
    async def chat(self, read_body: BodyReader, headers: Mapping[str, str], *, model: str | None = None) -> Reply:
        """Serve one chat completion; ``model`` comes from the URL for Azure-shaped routes."""
        ctx = RequestContext()
        try:
            await self.authenticate(ctx, headers)
            await self.parse(ctx, read_body, model)
            self.choose_deployment(ctx)
            if self.guardrails is not None:  # input guardrails: may redact ctx.messages or raise a 400
                from shared.guardrails.gateway import RequestGuardrails

                ctx.guardrails = RequestGuardrails(self.guardrails, ctx)
                await ctx.guardrails.check_input()
            if ctx.stream:
                return await self.start_stream(ctx)
            return await self.complete(ctx)
        except ApiError as error:
            return self.fail(ctx, error)
        except BackendError as exc:
            ctx.record["backend_error"] = {"deployment": exc.deployment, "status": exc.status, "code": exc.code}
            return self.fail(ctx, exc.to_api_error())
        except Exception:
            log.exception("unexpected error in request %s", ctx.request_id)
            return self.fail(ctx, ApiError(500, f"Internal error; request id {ctx.request_id}.",
                                           type="server_error", code="internal_error"))

    # -- steps -----------------------------------------------------------------------------
    async def authenticate(self, ctx: RequestContext, headers: Mapping[str, str]) -> None:
        principal = await self.keys.authenticate(headers)
        if principal is None:
            raise ApiError.unauthorized()
        app = await self.tenants.app(principal.tenant_id, principal.app_id)
        if app is None:  # the app was deleted after the key was issued
            raise ApiError(403, "This key's app no longer exists.", type="permission_error", code="app_disabled")
        ctx.principal = principal
        ctx.app_policy = app.policy

    async def parse(self, ctx: RequestContext, read_body: BodyReader, model: str | None = None) -> None:
        raw = await read_body(self.settings.max_body_bytes)
        ctx.body = decode_json_object(raw)
        if model is not None:  # Azure OpenAI SDKs name the deployment in the path, not the body
            ctx.body["model"] = model
        ctx.request = parse_chat_request(ctx.body, max_messages=self.settings.max_messages)
        ctx.stream = ctx.request.stream
        ctx.messages = list(ctx.body.get("messages") or [])

    def choose_deployment(self, ctx: RequestContext) -> None:
        assert ctx.request is not None
        model = ctx.request.model
        if model == AUTO_MODEL:
            ctx.deployment = self.deployments.default()
            ctx.record["route"] = {"reason": "default", "tier": ctx.deployment.tier}
            return
        deployment = self.deployments.get(model)
        if deployment is None or deployment.tier == "embeddings":
            raise ApiError.not_found(
                f"The model '{model}' does not exist. Available: {', '.join(self.deployments.model_names())}.",
                param="model", code="model_not_found")
        ctx.deployment = deployment

    async def complete(self, ctx: RequestContext) -> JsonReply:
        assert ctx.deployment is not None
        params = backend_params(ctx.body, ctx.messages)
        started = time.perf_counter_ns()
        try:
            result = await self.backends.chat(ctx.deployment, params, timeout_s=self.settings.backend_timeout_s)
        finally:
            ctx.backend_ns += time.perf_counter_ns() - started
        self.account(ctx, result.body, usage_of(result.body))
        if ctx.guardrails is not None:  # output guardrails: may redact the answer or raise a 422
            await ctx.guardrails.check_output(result.body)
        ctx.completion_text = completion_text(result.body)
        ctx.record["backend_latency_ms"] = round(result.latency_s * 1000, 3)
        headers = ctx.base_headers()
        headers["x-llmops-cost-usd"] = f"{ctx.record['cost_usd']:.8f}"
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        body = orjson.dumps(result.body)
        self.finish(ctx, 200)
        return JsonReply(200, body, headers)

    async def start_stream(self, ctx: RequestContext) -> StreamReply:
        assert ctx.deployment is not None
        params = backend_params(ctx.body, ctx.messages)
        opened = await open_stream(ctx, self.backends, ctx.deployment, params, self.settings.backend_timeout_s)
        headers = ctx.base_headers()
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        headers["cache-control"] = "no-cache"
        return StreamReply(200, sse_events(ctx, opened, self), headers)

    # -- accounting and recording ----------------------------------------------------------
    def account(self, ctx: RequestContext, body: Mapping[str, Any], usage: dict[str, int]) -> None:
        """Tokens, cost and response metadata into the record."""
        assert ctx.deployment is not None
        ctx.record["usage"] = usage
        ctx.record["cost_usd"] = ctx.deployment.cost_usd(
            usage["prompt_tokens"], usage["completion_tokens"], usage["cached_tokens"])
        ctx.record["response_model"] = body.get("model") or ctx.deployment.model
        ctx.record["response_id"] = body.get("id")
        choices = body.get("choices") or []
        ctx.record["finish_reasons"] = [c.get("finish_reason") for c in choices if c.get("finish_reason")]

    def fail(self, ctx: RequestContext, error: ApiError) -> JsonReply:
        ctx.record["error_code"] = error.code or error.type
        ctx.record["error_message"] = error.message[:500]
        headers = {**ctx.base_headers(), **error.headers}
        self.finish(ctx, error.status)
        return JsonReply(error.status, error.body_bytes(), headers)

    def finish(self, ctx: RequestContext, status: int) -> None:
        """Complete the record and hand it to the request log and telemetry (no I/O here)."""
        record = ctx.record
        principal = ctx.principal
        request = ctx.request
        record.update(
            id=ctx.request_id,
            tenant_id=principal.tenant_id if principal else UNAUTHENTICATED,
            app_id=principal.app_id if principal else None,
            key_id=principal.key_id if principal else None,
            ts=ctx.received_wall_ns / 1e9,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ctx.received_wall_ns / 1e9)),
            requested_model=request.model if request else None,
            deployment=ctx.deployment.alias if ctx.deployment else None,
            tier=ctx.deployment.tier if ctx.deployment else None,
            server_address=ctx.deployment.endpoint if ctx.deployment else None,
            status=status,
            outcome=outcome_of(status),
            streamed=ctx.stream,
            latency_ms=round(ctx.elapsed_ms(), 3),
            overhead_ms=round(ctx.overhead_ms(), 3),
        )
        record.setdefault("cost_usd", 0.0)
        if ctx.completion_text is not None and (ctx.app_policy.get("feedback") or {}).get("retain_transcripts"):
            record["transcript"] = {"messages": ctx.messages, "completion": ctx.completion_text}
        if request is not None:
            record["max_tokens"] = request.output_token_limit
            record["temperature"] = request.temperature
            record["top_p"] = request.top_p
        self.request_log.record(record)
        span = self.telemetry.start_chat_span(record["requested_model"] or "unknown", ctx.received_wall_ns)
        self.telemetry.record_request(span, record)
