"""The gateway: one request pipeline that serves every endpoint.

``Gateway.serve(endpoint, read_body, headers)`` runs one request of any endpoint kind
(``shared.gateway.endpoints``): authenticate (``shared.auth.Authenticator``, the same 401/403 on
every route) -> read the capped body and decode it -> the endpoint's parser -> the endpoint's steps
(``shared.gateway.steps``) until one replies. Every outcome, including every error, is recorded
exactly once by the recorder (``shared.gateway.recorder``): the request log, the limit settlement and
telemetry. Client mistakes become 4xx ``ApiError``s, model failures 429/502/504; a stored policy that
no longer validates is a 500 naming it; an unexpected exception is logged with its stack and answered
with a 500 whose body names the request id (it is a bug to fix, never a normal path).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from shared.api.errors import ApiError
from shared.api.schemas import decode_json_object
from shared.auth import Authenticator
from shared.backends import Backend, BackendError
from shared.config import RequestSettings
from shared.deployments import DeploymentRegistry
from shared.gateway.context import R, Reply, RequestContext
from shared.gateway.endpoints import Endpoint, chat_endpoint
from shared.gateway.recorder import Recorder, RecordSink
from shared.gateway.steps import GuardFactory, Steps
from shared.limits import UsageLimits
from shared.observability.telemetry import Telemetry
from shared.policies import PolicyError
from shared.rollouts import RolloutRouter
from shared.routing import FailoverCaller, Router

if TYPE_CHECKING:
    from shared.cache.gateway import GatewayCache
    from shared.gateway.orchestration import OrchestrationSteps
    from shared.prompts.resolver import PromptResolver

log = logging.getLogger(__name__)
BodyReader = Callable[[int], Awaitable[bytes]]


class Gateway:
    def __init__(
        self,
        *,
        settings: RequestSettings,
        auth: Authenticator,
        deployments: DeploymentRegistry,
        backends: Backend,
        request_log: RecordSink,
        telemetry: Telemetry,
        failover: FailoverCaller,
        limits: UsageLimits | None = None,
        router: Router | None = None,
        rollouts: RolloutRouter | None = None,
        guardrails: GuardFactory | None = None,
        prompts: PromptResolver | None = None,
        cache: GatewayCache | None = None,
        orchestration: OrchestrationSteps | None = None,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.deployments = deployments
        self.recorder = Recorder(request_log, telemetry, limits.limiter if limits is not None else None)
        self.steps = Steps(
            backends=backends, recorder=self.recorder, router=router or Router(deployments), failover=failover,
            max_messages=settings.max_messages, limits=limits, rollouts=rollouts, guardrails=guardrails,
            prompts=prompts, cache=cache, orchestration=orchestration)
        self.chat_completions = chat_endpoint(self.steps)
        from shared.gateway.embeddings import EmbeddingSteps, embeddings_endpoint

        # the response cache's exact tier also serves embeddings (a gateway may run without a cache)
        exact = getattr(getattr(cache, "cache", None), "exact", None)
        self.embeddings_endpoint = embeddings_endpoint(self.steps, EmbeddingSteps(self.steps, deployments, exact))
        from shared.gateway.responses import ResponsesSteps, responses_endpoint

        memory = orchestration.memory if orchestration is not None else None
        self.response_store = None
        if memory is not None:
            from shared.conversations.responses import ResponseStore

            self.response_store = ResponseStore(memory)
        self.responses_endpoint = responses_endpoint(self.steps, ResponsesSteps(self.steps, self.response_store))

    # the services the steps use, for the platform's shutdown and for tests
    @property
    def failover(self) -> FailoverCaller:
        return self.steps.failover

    @property
    def limits(self) -> UsageLimits | None:
        return self.steps.limits

    @property
    def cache(self) -> GatewayCache | None:
        return self.steps.cache

    @property
    def prompts(self) -> PromptResolver | None:
        return self.steps.prompts

    # -- endpoints -------------------------------------------------------------------------
    async def chat(self, read_body: BodyReader, headers: Mapping[str, str], *, model: str | None = None) -> Reply:
        """One chat completion; ``model`` comes from the URL for Azure-shaped routes."""
        return await self.serve(self.chat_completions, read_body, headers, model=model)

    async def embeddings(self, read_body: BodyReader, headers: Mapping[str, str], *, model: str | None = None
                         ) -> Reply:
        """One embeddings request (``shared.gateway.embeddings``)."""
        return await self.serve(self.embeddings_endpoint, read_body, headers, model=model)

    async def responses(self, read_body: BodyReader, headers: Mapping[str, str]) -> Reply:
        """One Responses API request (``shared.gateway.responses``)."""
        return await self.serve(self.responses_endpoint, read_body, headers)

    async def serve(self, endpoint: Endpoint[R], read_body: BodyReader, headers: Mapping[str, str], *,
                    model: str | None = None) -> Reply:
        ctx: RequestContext[R] = RequestContext(operation=endpoint.kind, headers=headers)
        try:
            ctx.authenticated(await self.auth.authenticate(headers))
            ctx.body = decode_json_object(await read_body(self.settings.max_body_bytes))
            if model is not None:  # Azure OpenAI SDKs name the deployment in the path, not the body
                ctx.body["model"] = model
            endpoint.parse(ctx)
            for step in endpoint.steps:
                reply = await step(ctx)
                if reply is not None:
                    return reply
            raise RuntimeError(f"the steps of the {endpoint.kind} endpoint gave no reply")
        except ApiError as error:
            return self.recorder.fail(ctx, error)
        except BackendError as exc:
            ctx.record["backend_error"] = {"deployment": exc.deployment, "status": exc.status, "code": exc.code}
            ctx.deployment = self.deployments.get(exc.deployment) or ctx.deployment
            return self.recorder.fail(ctx, exc.to_api_error())
        except PolicyError as exc:  # a stored policy that no longer validates: an operator's mistake
            log.error("request %s: %s", ctx.request_id, exc)
            return self.recorder.fail(ctx, ApiError(500, f"This app's policy is invalid: {exc}",
                                                    type="server_error", code="invalid_tenant_policy"))
        except Exception:
            log.exception("unexpected error in request %s", ctx.request_id)
            return self.recorder.fail(ctx, ApiError(500, f"Internal error; request id {ctx.request_id}.",
                                                    type="server_error", code="internal_error"))
        finally:
            if ctx.input_checks is not None:  # the request ended before its input checks were needed
                ctx.input_checks.cancel()
