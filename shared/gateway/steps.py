"""The steps a request goes through, each one method an endpoint may put in its list.

Every step has the shape ``async def step(ctx) -> Reply | None``: it reads and writes the request's
context (``shared.gateway.context``) and returns a reply only when it answers the request itself (a
cache hit, the model's answer). Which steps an endpoint runs, and in which order, is the endpoint's
definition (``shared.gateway.endpoints``); the pipeline (``shared.gateway.pipeline``) runs them and
owns the errors. The steps of chat completions, in order:

- ``resolve_prompt``: a ``prompt`` reference (registry name + label or version + variables) becomes
  the messages (``shared.prompts.gateway``);
- ``optimise``: token optimisation when the app's ``optimisation`` policy enables it;
- ``route``: the tier and the plan of deployments (``shared.routing``);
- ``divert_to_canary``: a fine-tuned candidate in canary takes its share (``shared.rollouts``);
- ``fit_to_model``: under the app's ``models`` policy ``refuse``, a parameter the chosen deployment's
  model family would refuse is a 400 here (by default the backend drops it: ``shared.model_catalog``);
- ``admit``: the request's worst case reserved against the tenant's and app's limits;
- ``screen_input``: input guardrails and the cache lookup, concurrently; a hit answers here;
- ``call_chat``: the model, with retries and failover, as JSON or a stream; output guardrails; the
  answer stored in the cache in the background.

Judging input checks run concurrently with the model call when the app allows it and are awaited
before any of the answer is used (``input_verdicts``): their cost hides behind the model's latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from shared.api.errors import ApiError
from shared.api.schemas import backend_params
from shared.backends import Backend, BackendResult
from shared.deployments import AUTO_MODEL, Deployment
from shared.gateway.context import ChatContext, JsonReply, Reply, RequestGuard, StreamReply, answer_model, usage_of
from shared.gateway.recorder import Recorder, completion_text
from shared.gateway.streaming import OpenedStream, StreamRelay
from shared.limits import LimitExceeded, UsageLimits
from shared.model_catalog.shaping import ModelsPolicy, output_limit_param, refused_params
from shared.optimisation import OptimisationPolicy, optimise
from shared.policies import SectionCache
from shared.request_record import Attempt
from shared.rollouts import RolloutRouter
from shared.routing import FailoverCaller, Router, RoutingPolicy
from shared.routing.breaker import OPEN

if TYPE_CHECKING:  # the features pull in numpy: imported when the platform is built, not with the app
    from shared.cache.gateway import GatewayCache
    from shared.cache.service import CacheHit
    from shared.gateway.orchestration import OrchestrationSteps
    from shared.prompts.resolver import PromptResolver

GuardFactory = Callable[[ChatContext], RequestGuard]  # e.g. partial(RequestGuardrails, GuardrailService(...))


class Steps:
    def __init__(
        self,
        *,
        backends: Backend,
        recorder: Recorder,
        router: Router,
        failover: FailoverCaller,
        max_messages: int,
        limits: UsageLimits | None = None,
        rollouts: RolloutRouter | None = None,
        guardrails: GuardFactory | None = None,
        prompts: PromptResolver | None = None,
        cache: GatewayCache | None = None,
        orchestration: OrchestrationSteps | None = None,
    ) -> None:
        self.orchestration = orchestration
        self.backends = backends
        self.recorder = recorder
        self.router = router
        self.failover = failover
        self.max_messages = max_messages
        self.limits = limits
        self.rollouts = rollouts
        self.guardrails = guardrails
        self.prompts = prompts
        self.cache = cache
        self.relay = StreamRelay(backends, recorder, on_interrupted=self.stream_interrupted, cache=cache)
        self._routing_sections = SectionCache(RoutingPolicy, "routing")
        self._optimisation_sections = SectionCache(OptimisationPolicy, "optimisation")
        self._models_sections = SectionCache(ModelsPolicy, "models")

    # -- before the model ------------------------------------------------------------------
    async def resolve_prompt(self, ctx: ChatContext) -> None:
        if "prompt" not in ctx.body:
            return
        if self.prompts is None:
            raise ApiError.bad_request("This gateway has no prompt registry.", param="prompt", code="unsupported")
        from shared.prompts.gateway import apply_prompt

        await apply_prompt(self.prompts, ctx, max_messages=self.max_messages)

    async def optimise(self, ctx: ChatContext) -> None:
        section = ctx.app_policy.get("optimisation")
        if section is None:
            return
        policy: OptimisationPolicy = self._optimisation_sections.get(section)
        if not policy.enabled:
            return
        ctx.messages, report = optimise(ctx.messages, ctx.body, policy)
        ctx.prompt_tokens = report["tokens_after"]
        ctx.record["optimisation"] = report
        if "max_tokens" in report and ctx.request is not None:
            ctx.request = ctx.request.model_copy(update={
                k: ctx.body[k] for k in ("max_tokens", "max_completion_tokens") if ctx.body.get(k) is not None})

    async def route(self, ctx: ChatContext) -> None:
        """An explicit model, a pinned one, or ``auto`` scored into the small or frontier pool."""
        request = ctx.request
        assert request is not None
        policy: RoutingPolicy = self._routing_sections.get(ctx.app_policy.get("routing"))
        scored = request.model == AUTO_MODEL or policy.route_explicit_models
        decision = self.router.decide(
            request.model, policy, ctx.messages, prompt_tokens=ctx.prompt_token_count() if scored else 0,
            max_output_tokens=request.output_token_limit, tools=request.tools)
        ctx.route = decision
        ctx.deployment = decision.plan[0]
        ctx.record["route"] = decision.record()
        ctx.response_headers["x-llmops-route"] = decision.header()

    async def divert_to_canary(self, ctx: ChatContext) -> None:
        """A canary (or promoted) fine-tuned candidate takes its share of the chosen deployment's traffic.

        The candidate goes to the front of the plan, so when it fails the request fails over to the
        production deployments behind it: users do not see a bad canary's errors, the canary judge does
        (the failed attempt is in the record). A candidate whose circuit is open gets no share."""
        if self.rollouts is None or ctx.route is None:
            return
        diverted = await self.rollouts.divert(ctx.route.plan[0].alias)
        if diverted is not None and self.failover.breakers.get(diverted[0].alias).state != OPEN:
            candidate, rollout = diverted
            ctx.record["rollout_id"] = rollout.id
            ctx.record["route"]["canary_of"] = ctx.route.plan[0].alias
            ctx.route.plan = [candidate, *ctx.route.plan]
            ctx.deployment = candidate

    async def fit_to_model(self, ctx: ChatContext) -> None:
        """Refuse, when the app's policy says so, what the deployment's model family would refuse."""
        section = ctx.app_policy.get("models")
        if section is None or ctx.deployment is None:
            return
        policy: ModelsPolicy = self._models_sections.get(section)
        if policy.unsupported_params != "refuse":
            return
        refused = refused_params(ctx.body, ctx.deployment.model_family)
        if refused:
            param, why = refused[0]
            raise ApiError.bad_request(
                f"{why} (deployment {ctx.deployment.alias!r} serves {ctx.deployment.model}); remove the parameter, "
                f"or ask for the app's models policy 'drop'.", param=param, code="unsupported_parameter")

    async def admit(self, ctx: ChatContext) -> None:
        """Reserve the request's worst case against the tenant's and app's limits (one store round trip)."""
        if self.limits is None or ctx.app is None or ctx.request is None or ctx.route is None:
            return
        scoped = self.limits.scoped(ctx.app)
        if not scoped:
            return
        output = ctx.request.output_token_limit
        if output is None and any(policy.bounds_tokens for _, policy in scoped):
            output = self.limits.output_allowance(scoped)  # so the reservation bounds the real spend
            field = output_limit_param(ctx.route.plan[0].model_family)  # max_completion_tokens for reasoning
            ctx.body[field] = output
            ctx.request = ctx.request.model_copy(update={field: output})
            ctx.record["max_tokens_set_by"] = "limits"
        prompt = ctx.prompt_token_count()
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

    async def screen_input(self, ctx: ChatContext) -> Reply | None:
        """Input guardrails and the cache lookup (keyed on the messages before any redaction), concurrently."""
        if self.cache is None:
            await self.start_input_guardrails(ctx)
            return None
        self.cache.begin(ctx, ctx.headers)
        _, hit = await asyncio.gather(self.start_input_guardrails(ctx), self.cache.lookup(ctx))
        if hit is None:
            return None
        await self.input_verdicts(ctx)  # a blocked input gets its 400, never a cached answer
        return await self.serve_hit(ctx, hit)

    async def start_input_guardrails(self, ctx: ChatContext) -> None:
        """Redactions run now (they change what the model sees); checks that only judge run beside the
        model call when the app allows it."""
        if self.guardrails is None:
            return
        guard = ctx.guardrails = self.guardrails(ctx)
        if not guard.concurrent:
            await guard.check_input()
            return
        await guard.check_input("rewrite")
        ctx.input_checks = asyncio.create_task(guard.check_input("verdict"))

    @staticmethod
    async def input_verdicts(ctx: ChatContext) -> None:
        """Wait for the concurrent input checks; a block raises its 400 and the answer is discarded."""
        task, ctx.input_checks = ctx.input_checks, None
        if task is not None:
            await task

    # -- the model -------------------------------------------------------------------------
    async def call_chat(self, ctx: ChatContext) -> Reply:
        return await (self.start_stream(ctx) if ctx.stream else self.complete(ctx))

    async def complete(self, ctx: ChatContext) -> JsonReply:
        assert ctx.route is not None
        params = backend_params(ctx.body, ctx.messages)

        async def attempt(deployment: Deployment, timeout_s: float) -> BackendResult:
            return await self.backends.chat(deployment, params, timeout_s=timeout_s)

        started = time.perf_counter_ns()
        try:
            result, ctx.deployment = await self.failover.call(ctx.route.plan, attempt, attempts_of(ctx))
        finally:
            ctx.backend_ns += time.perf_counter_ns() - started
        self.recorder.account(ctx, result.body, usage_of(result.body))  # a blocked request's tokens are spent
        await self.input_verdicts(ctx)
        if ctx.guardrails is not None:  # output guardrails: may redact the answer or raise a 422
            await ctx.guardrails.check_output(result.body)
        ctx.completion_text = completion_text(result.body)
        if self.cache is not None:
            self.cache.store_later(ctx, result.body)
        await ctx.commit(answer_message(result.body))
        ctx.record["backend_latency_ms"] = round(result.latency_s * 1000, 3)
        headers = ctx.base_headers()
        headers["x-llmops-cost-usd"] = f"{ctx.record.get('cost_usd', 0.0):.8f}"
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        body = orjson.dumps(with_citations(ctx, {**result.body, "model": answer_model(ctx)}))
        self.recorder.finish(ctx, 200)
        return JsonReply(200, body, headers)

    async def start_stream(self, ctx: ChatContext) -> StreamReply:
        """Open the stream with failover: until its first chunk arrives another deployment may be tried."""
        assert ctx.route is not None
        params = backend_params(ctx.body, ctx.messages)

        async def attempt(deployment: Deployment, timeout_s: float) -> OpenedStream:
            return await self.relay.open(ctx, deployment, params, timeout_s)

        opened, ctx.deployment = await self.failover.call(ctx.route.plan, attempt, attempts_of(ctx))
        try:
            await self.input_verdicts(ctx)  # nothing of the answer has reached the client yet
        except ApiError:
            await self.relay.close(opened)
            raise
        headers = ctx.base_headers()
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        headers["cache-control"] = "no-cache"
        return StreamReply(200, self.relay.events(ctx, opened), headers)

    async def serve_hit(self, ctx: ChatContext, hit: CacheHit) -> Reply:
        """Answer from the cache: the stored answer at zero token cost, as JSON or replayed as a stream."""
        assert self.cache is not None
        self.recorder.account(ctx, hit.response, usage_of(hit.response))
        ctx.completion_text = completion_text(hit.response)
        ctx.record["backend_latency_ms"] = 0.0
        await ctx.commit(answer_message(hit.response))
        headers = ctx.base_headers()
        headers["x-llmops-cost-usd"] = f"{0.0:.8f}"
        headers["x-llmops-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        if ctx.stream:
            assert ctx.request is not None
            ctx.record["stream_end"] = "complete"
            ctx.record["ttft_ms"] = round(ctx.elapsed_ms(), 3)
            headers["cache-control"] = "no-cache"
            events = self.cache.hit_events(hit, ctx.request.wants_usage_in_stream)
            self.recorder.finish(ctx, 200)
            return StreamReply(200, events, headers)
        self.recorder.finish(ctx, 200)
        return JsonReply(200, orjson.dumps(with_citations(ctx, {**hit.response, "model": answer_model(ctx)})), headers)

    def stream_interrupted(self, deployment: Deployment) -> None:
        """A stream broke after its first byte: the deployment failed, but nothing can be retried now."""
        self.failover.breakers.get(deployment.alias).failure()


def attempts_of(ctx: ChatContext) -> list[Attempt]:
    return ctx.record.setdefault("attempts", [])


def answer_message(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message of a completion as a conversation turn (what memory keeps)."""
    message = ((body.get("choices") or [{}])[0].get("message")) or {}
    answer: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        answer["tool_calls"] = message["tool_calls"]
    return answer


def with_citations(ctx: ChatContext, body: dict[str, Any]) -> dict[str, Any]:
    """The answer with the grounding citations as the ``citations`` extension field (when grounded)."""
    if not ctx.passages:
        return body
    from shared.gateway.orchestration import citations

    return {**body, "citations": citations(ctx)}
