"""The chat gateway: one request from the client's bytes to the model and back.

Steps, in order: authenticate -> read and validate the body -> optimise the prompt (per app, opt-in)
-> route (choose the tier and the plan of deployments) -> admit (reserve limits and budget) -> call
the model with retries and failover (or open a stream) -> shape the reply -> record (request log +
telemetry) and settle the reservation in the background. Every outcome,
including every error, is recorded exactly once. Client mistakes become 4xx ``ApiError``s, model
failures 429/502/504; an unexpected exception is logged with its stack and answered with a 500
whose body names the request id (it is a bug to fix, never a normal path).
"""

from __future__ import annotations

import asyncio
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
from shared.gateway.recording import account, complete_record, completion_text
from shared.gateway.streaming import close_stream, open_stream, sse_events
from shared.limits import LimitExceeded, UsageLimits
from shared.observability.telemetry import Telemetry
from shared.optimisation import OptimisationPolicy, optimise
from shared.policies import PolicyError, SectionCache
from shared.request_log import RequestLog
from shared.rollouts import RolloutRouter
from shared.routing import BreakerBoard, FailoverCaller, RetryPolicy, Router, RoutingPolicy
from shared.routing.breaker import OPEN
from shared.tenants import TenantDirectory
from shared.tokens import count_message_tokens

if TYPE_CHECKING:  # the guardrails pull in numpy: imported when the platform is built, not with the app
    from shared.cache.gateway import GatewayCache
    from shared.cache.service import CacheHit
    from shared.guardrails.service import GuardrailService
    from shared.prompts.resolver import PromptResolver

log = logging.getLogger(__name__)
BodyReader = Callable[[int], Awaitable[bytes]]


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
        limits: UsageLimits | None = None,
        router: Router | None = None,
        failover: FailoverCaller | None = None,
        guardrails: GuardrailService | None = None,
        prompts: PromptResolver | None = None,
        cache: GatewayCache | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.tenants = tenants
        self.deployments = deployments
        self.backends = backends
        self.request_log = request_log
        self.telemetry = telemetry
        self.rollouts: RolloutRouter | None = None  # set by the platform
        self.limits = limits
        self.router = router or Router(deployments)
        self.failover = failover or FailoverCaller(
            RetryPolicy.from_settings(settings),
            BreakerBoard(settings.breaker_failure_threshold, settings.breaker_open_s))
        self._routing_sections = SectionCache(RoutingPolicy, "routing")
        self._optimisation_sections = SectionCache(OptimisationPolicy, "optimisation")
        self.guardrails = guardrails
        self.prompts = prompts
        self.cache = cache

    # -- entry point -----------------------------------------------------------------------
    async def chat(self, read_body: BodyReader, headers: Mapping[str, str], *, model: str | None = None) -> Reply:
        """Serve one chat completion; ``model`` comes from the URL for Azure-shaped routes."""
        ctx = RequestContext()
        try:
            await self.authenticate(ctx, headers)
            await self.parse(ctx, read_body, model)
            await self.resolve_prompt(ctx)
            self.optimise(ctx)
            self.choose_deployment(ctx)
            await self.apply_rollouts(ctx)
            await self.admit(ctx)
            if self.cache is not None:  # keyed on the messages as they were before any redaction
                self.cache.begin(ctx, headers)
                _, hit = await asyncio.gather(self.start_input_guardrails(ctx), self.cache.lookup(ctx))
                if hit is not None:
                    await self.input_verdicts(ctx)  # a blocked input gets its 400, never a cached answer
                    return self.serve_hit(ctx, hit)
            else:
                await self.start_input_guardrails(ctx)
            if ctx.stream:
                return await self.start_stream(ctx)
            return await self.complete(ctx)
        except ApiError as error:
            return self.fail(ctx, error)
        except BackendError as exc:
            ctx.record["backend_error"] = {"deployment": exc.deployment, "status": exc.status, "code": exc.code}
            ctx.deployment = self.deployments.get(exc.deployment) or ctx.deployment
            return self.fail(ctx, exc.to_api_error())
        except PolicyError as exc:  # a stored policy that no longer validates: an operator's mistake
            log.error("request %s: %s", ctx.request_id, exc)
            return self.fail(ctx, ApiError(500, f"This app's policy is invalid: {exc}", type="server_error",
                                           code="invalid_tenant_policy"))
        except Exception:
            log.exception("unexpected error in request %s", ctx.request_id)
            return self.fail(ctx, ApiError(500, f"Internal error; request id {ctx.request_id}.",
                                           type="server_error", code="internal_error"))
        finally:
            if ctx.input_checks is not None:  # the request ended before its input checks were needed
                ctx.input_checks.cancel()

    # -- steps -----------------------------------------------------------------------------
    async def start_input_guardrails(self, ctx: RequestContext) -> None:
        """Input guardrails. Redactions run now (they change what the model sees); checks that only
        judge run concurrently with the model call when the app allows it, and are awaited before any
        of the answer is used (``input_verdicts``): their ~10 ms hide behind the model's latency."""
        if self.guardrails is None:
            return
        from shared.guardrails.gateway import RequestGuardrails

        ctx.guardrails = RequestGuardrails(self.guardrails, ctx)
        if not ctx.guardrails.concurrent:
            await ctx.guardrails.check_input()
            return
        await ctx.guardrails.check_input("rewrite")
        ctx.input_checks = asyncio.create_task(ctx.guardrails.check_input("verdict"))

    async def input_verdicts(self, ctx: RequestContext) -> None:
        """Wait for the concurrent input checks; a block raises its 400 and the answer is discarded."""
        task, ctx.input_checks = ctx.input_checks, None
        if task is not None:
            await task

    async def authenticate(self, ctx: RequestContext, headers: Mapping[str, str]) -> None:
        principal = await self.keys.authenticate(headers)
        if principal is None:
            raise ApiError.unauthorized()
        app = await self.tenants.app(principal.tenant_id, principal.app_id)
        if app is None:  # the app was deleted after the key was issued
            raise ApiError(403, "This key's app no longer exists.", type="permission_error", code="app_disabled")
        ctx.principal = principal
        ctx.app = app
        ctx.app_policy = app.policy

    async def parse(self, ctx: RequestContext, read_body: BodyReader, model: str | None = None) -> None:
        raw = await read_body(self.settings.max_body_bytes)
        ctx.body = decode_json_object(raw)
        if model is not None:  # Azure OpenAI SDKs name the deployment in the path, not the body
            ctx.body["model"] = model
        ctx.request = parse_chat_request(ctx.body, max_messages=self.settings.max_messages)
        ctx.stream = ctx.request.stream
        ctx.messages = list(ctx.body.get("messages") or [])

    async def resolve_prompt(self, ctx: RequestContext) -> None:
        """A ``prompt`` reference (registry name + label or version + variables) becomes the messages."""
        if self.prompts is not None and "prompt" in ctx.body:
            from shared.prompts.gateway import apply_prompt

            await apply_prompt(self.prompts, ctx, max_messages=self.settings.max_messages)
        elif "prompt" in ctx.body:
            raise ApiError.bad_request("This gateway has no prompt registry.", param="prompt", code="unsupported")

    def prompt_tokens(self, ctx: RequestContext) -> int:
        """The conversation's token count, counted once and only when a step needs it."""
        if ctx.prompt_tokens is None:
            ctx.prompt_tokens = count_message_tokens(ctx.messages)
        return ctx.prompt_tokens

    def optimise(self, ctx: RequestContext) -> None:
        """Token optimisation, when the app's ``optimisation`` policy enables it (shared/optimisation.py)."""
        section = ctx.app_policy.get("optimisation")
        if section is None:
            return
        policy = self._optimisation_sections.get(section)
        if not policy.enabled:
            return
        ctx.messages, report = optimise(ctx.messages, ctx.body, policy)
        ctx.prompt_tokens = report["tokens_after"]
        ctx.record["optimisation"] = report
        if "max_tokens" in report and ctx.request is not None:
            ctx.request = ctx.request.model_copy(update={
                k: ctx.body[k] for k in ("max_tokens", "max_completion_tokens") if ctx.body.get(k) is not None})

    def choose_deployment(self, ctx: RequestContext) -> None:
        """Route: an explicit model, a pinned one, or ``auto`` scored into the small or frontier pool."""
        request = ctx.request
        assert request is not None
        policy = self._routing_sections.get(ctx.app_policy.get("routing"))
        scored = request.model == AUTO_MODEL or policy.route_explicit_models
        decision = self.router.decide(
            request.model, policy, ctx.messages, prompt_tokens=self.prompt_tokens(ctx) if scored else 0,
            max_output_tokens=request.output_token_limit, tools=request.tools)
        ctx.route = decision
        ctx.deployment = decision.plan[0]
        ctx.record["route"] = decision.record()
        ctx.response_headers["x-llmops-route"] = decision.header()

    async def admit(self, ctx: RequestContext) -> None:
        """Reserve the request's worst case against the tenant's and app's limits (one store round trip)."""
        if self.limits is None or ctx.app is None or ctx.request is None or ctx.route is None:
            return
        scoped = self.limits.scoped(ctx.app)
        if not scoped:
            return
        output = ctx.request.output_token_limit
        if output is None and any(policy.bounds_tokens for _, policy in scoped):
            output = self.limits.output_allowance(scoped)  # so the reservation bounds the real spend
            ctx.body["max_tokens"] = output
            ctx.request = ctx.request.model_copy(update={"max_tokens": output})
            ctx.record["max_tokens_set_by"] = "limits"
        prompt = self.prompt_tokens(ctx)
        tokens = prompt + (output or 0)
        cost = max(d.cost_usd(prompt, output or 0) for d in ctx.route.plan)
        limiter = self.limits.limiter
        try:
            ctx.reservation = await limiter.reserve(limiter.windows(scoped, tokens=tokens, cost_usd=cost),
                                                    tokens=tokens, cost_usd=cost)
        except LimitExceeded as exc:
            ctx.record["limit_kind"] = exc.kind
            raise
        ctx.record["reserved"] = {"tokens": tokens, "cost_usd": cost}
        ctx.response_headers.update(ctx.reservation.headers)

    async def apply_rollouts(self, ctx: RequestContext) -> None:
        """A canary (or promoted) fine-tuned candidate takes its share of the chosen deployment's traffic.

        The candidate goes to the front of the plan, so when it fails the request fails over to the
        production deployments behind it: users do not see a bad canary's errors, the canary judge does
        (the failed attempt is in the record)."""
        if self.rollouts is None or ctx.route is None:
            return
        diverted = await self.rollouts.divert(ctx.route.plan[0].alias)
        # a candidate whose circuit is open gets no share until it recovers (its failures are on record)
        if diverted is not None and self.failover.breakers.get(diverted[0].alias).state != OPEN:
            candidate, rollout = diverted
            ctx.record["rollout_id"] = rollout.id
            ctx.record["route"]["canary_of"] = ctx.route.plan[0].alias
            ctx.route.plan = [candidate, *ctx.route.plan]
            ctx.deployment = candidate

    async def complete(self, ctx: RequestContext) -> JsonReply:
        assert ctx.route is not None
        params = backend_params(ctx.body, ctx.messages)

        async def attempt(deployment, timeout_s: float):
            return await self.backends.chat(deployment, params, timeout_s=timeout_s)

        started = time.perf_counter_ns()
        try:
            result, ctx.deployment = await self.failover.call(ctx.route.plan, attempt, self._attempts(ctx))
        finally:
            ctx.backend_ns += time.perf_counter_ns() - started
        self.account(ctx, result.body, usage_of(result.body))  # a blocked request's tokens are still spent
        await self.input_verdicts(ctx)
        if ctx.guardrails is not None:  # output guardrails: may redact the answer or raise a 422
            await ctx.guardrails.check_output(result.body)
        ctx.completion_text = completion_text(result.body)
        if self.cache is not None:
            self.cache.store_later(ctx, result.body)
        ctx.record["backend_latency_ms"] = round(result.latency_s * 1000, 3)
        headers = ctx.base_headers()
        headers["x-llmops-cost-usd"] = f"{ctx.record['cost_usd']:.8f}"
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        body = orjson.dumps(result.body)
        self.finish(ctx, 200)
        return JsonReply(200, body, headers)

    async def start_stream(self, ctx: RequestContext) -> StreamReply:
        """Open the stream with failover: until its first chunk arrives another deployment may be tried."""
        assert ctx.route is not None
        params = backend_params(ctx.body, ctx.messages)

        async def attempt(deployment, timeout_s: float):
            return await open_stream(ctx, self.backends, deployment, params, timeout_s)

        opened, ctx.deployment = await self.failover.call(ctx.route.plan, attempt, self._attempts(ctx))
        try:
            await self.input_verdicts(ctx)  # nothing of the answer has reached the client yet
        except ApiError:
            await close_stream(opened)
            raise
        headers = ctx.base_headers()
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        headers["cache-control"] = "no-cache"
        return StreamReply(200, sse_events(ctx, opened, self), headers)

    def serve_hit(self, ctx: RequestContext, hit: CacheHit) -> Reply:
        """Answer from the cache: the stored answer at zero token cost, as JSON or replayed as a stream."""
        assert self.cache is not None
        self.account(ctx, hit.response, usage_of(hit.response))
        ctx.completion_text = completion_text(hit.response)
        ctx.record["backend_latency_ms"] = 0.0
        headers = ctx.base_headers()
        headers["x-llmops-cost-usd"] = f"{0.0:.8f}"
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        if ctx.stream:
            assert ctx.request is not None
            ctx.record["stream_end"] = "complete"
            ctx.record["ttft_ms"] = round(ctx.elapsed_ms(), 3)
            headers["cache-control"] = "no-cache"
            events = self.cache.hit_events(ctx, hit, ctx.request.wants_usage_in_stream)
            self.finish(ctx, 200)
            return StreamReply(200, events, headers)
        self.finish(ctx, 200)
        return JsonReply(200, orjson.dumps(hit.response), headers)

    @staticmethod
    def _attempts(ctx: RequestContext) -> list:
        return ctx.record.setdefault("attempts", [])

    def stream_interrupted(self, ctx: RequestContext) -> None:
        """A stream broke after its first byte: the deployment failed, but nothing can be retried now."""
        if ctx.deployment is not None:
            self.failover.breakers.get(ctx.deployment.alias).failure()

    # -- accounting and recording (shared/gateway/recording.py) -----------------------------
    def account(self, ctx: RequestContext, body: Mapping[str, Any], usage: dict[str, int]) -> None:
        account(ctx, body, usage)

    def fail(self, ctx: RequestContext, error: ApiError) -> JsonReply:
        ctx.record["error_code"] = error.code or error.type
        ctx.record["error_message"] = error.message[:500]
        headers = {**ctx.base_headers(), **error.headers}
        self.finish(ctx, error.status)
        return JsonReply(error.status, error.body_bytes(), headers)

    def finish(self, ctx: RequestContext, status: int) -> None:
        """Complete the record; hand it to the request log, the limits and telemetry (no I/O here)."""
        record = complete_record(ctx, status)
        self.request_log.record(record)
        if ctx.reservation is not None and self.limits is not None:
            usage = record.get("usage") or {}
            self.limits.limiter.settle(
                ctx.reservation, tokens=int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0),
                cost_usd=float(record.get("cost_usd") or 0.0))
        span = self.telemetry.start_chat_span(record["requested_model"] or "unknown", ctx.received_wall_ns)
        self.telemetry.record_request(span, record)
