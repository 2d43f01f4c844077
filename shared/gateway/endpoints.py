"""The endpoints of the gateway, each one a kind, a parser and a list of steps.

An ``Endpoint`` says what one API operation is to the pipeline: ``kind`` (the operation name in
the request log, telemetry and ``gen_ai.operation.name``), ``parse`` (validates ``ctx.body`` into
``ctx.request`` and sets ``ctx.messages`` and ``ctx.stream``; raises ``ApiError`` 400 naming the bad
parameter) and ``steps`` (``shared.gateway.steps``), run in order until one returns a reply.
Authentication, reading the capped body, errors and recording are the pipeline's, the same for
every endpoint.

Adding an endpoint kind (embeddings, responses, ...):

1. a request schema in ``shared/api/schemas.py`` whose model satisfies
   ``shared.gateway.context.ModelRequest`` (``model``, ``stream``, ``temperature``, ``top_p``,
   ``output_token_limit``);
2. a ``parse_<kind>`` function and an ``<kind>_endpoint(steps)`` factory here, reusing the steps that
   apply (``route``, ``admit``, ``screen_input``...) and, where the call differs, one new step in
   ``Steps`` (e.g. ``call_embeddings`` through ``Backend.embed``);
3. a method on ``shared.gateway.pipeline.Gateway`` (``embeddings(read_body, headers)``) and a thin
   HTTP function in ``functions/gateway.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic

from shared.api.schemas import ChatCompletionRequest, parse_chat_request
from shared.gateway.context import R, Reply, RequestContext
from shared.gateway.steps import Steps
from shared.observability.names import OPERATION_CHAT

Step = Callable[[RequestContext[R]], Awaitable[Reply | None]]


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[R]):
    kind: str
    parse: Callable[[RequestContext[R]], None]
    steps: Sequence[Step[R]]


def parse_chat(max_messages: int) -> Callable[[RequestContext[ChatCompletionRequest]], None]:
    def parse(ctx: RequestContext[ChatCompletionRequest]) -> None:
        ctx.request = parse_chat_request(ctx.body, max_messages=max_messages)
        ctx.stream = ctx.request.stream
        ctx.messages = list(ctx.body.get("messages") or [])

    return parse


def chat_endpoint(steps: Steps) -> Endpoint[ChatCompletionRequest]:
    """``POST /v1/chat/completions`` (and the Azure OpenAI route shape)."""
    orchestration = steps.orchestration
    return Endpoint(OPERATION_CHAT, parse_chat(steps.max_messages), (
        steps.resolve_prompt,
        *((orchestration.recall, orchestration.ground) if orchestration is not None else ()),
        steps.optimise,
        steps.route,
        steps.divert_to_canary,
        steps.fit_to_model,
        steps.admit,
        steps.screen_input,
        steps.call_chat,
    ))
