"""``POST /v1/responses`` on the pipeline: the Responses API served through the chat steps.

The request is validated (``shared.responses.translate``), its ``previous_response_id`` or
``conversation`` resolved from conversation memory (``shared.conversations.responses``), and turned into
the equivalent chat request; from there it takes the chat steps (grounding, optimisation, routing,
canary, limits, input guardrails and cache, the model with failover, output guardrails, recording).
The answer is re-told as a Response (JSON) or as Responses stream events, translated chunk by chunk as
the chat stream arrives. With ``store`` (the default) the response and its turn are kept in memory
before the client sees the end, so ``previous_response_id`` works on the next request, and
``GET``/``DELETE /v1/responses/{id}`` find it.

Deployments that speak the Responses API natively are served the same way for now: the chat
translation is what every Azure OpenAI deployment accepts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from shared.api.errors import ApiError
from shared.gateway.context import JsonReply, Reply, RequestContext, StreamReply
from shared.gateway.endpoints import Endpoint, parse_chat
from shared.gateway.steps import Steps
from shared.responses.events import ResponseEventStream, sse
from shared.responses.items import input_to_messages
from shared.responses.translate import (
    ResponsesRequestError,
    chat_body,
    from_chat_completion,
    new_response_id,
    output_messages,
    parse_responses_request,
)

if TYPE_CHECKING:
    from shared.conversations.responses import Continuation, ResponseStore

OPERATION_RESPONSES = "responses"


class ResponsesSteps:
    def __init__(self, steps: Steps, store: ResponseStore | None) -> None:
        self.steps = steps
        self.store = store

    async def prepare(self, ctx: RequestContext[Any]) -> None:
        from shared.conversations.memory import ConversationNotFoundError
        from shared.conversations.responses import Continuation, ResponseNotFoundError

        original = ctx.body
        try:
            request = parse_responses_request(original)
        except ResponsesRequestError as exc:
            raise ApiError.bad_request(exc.message, param=exc.param, code=exc.code) from None
        assert ctx.principal is not None
        continuation = Continuation(None, 0, [])
        if request.previous_response_id is not None or request.conversation_id is not None:
            if self.store is None:
                raise ApiError.bad_request("This gateway stores no responses.", param="previous_response_id",
                                           code="unsupported")
            try:
                continuation = await self.store.continuation(
                    ctx.principal.tenant_id, previous_response_id=request.previous_response_id,
                    conversation_id=request.conversation_id, user=request.user)
            except ResponseNotFoundError:
                raise ApiError.not_found(f"No stored response '{request.previous_response_id}'.",
                                         param="previous_response_id", code="response_not_found") from None
            except ConversationNotFoundError:
                raise ApiError.not_found(f"No conversation '{request.conversation_id}'.", param="conversation",
                                         code="conversation_not_found") from None
        try:
            body = chat_body(request, continuation.history)
            turn = input_to_messages(request.input)
        except ResponsesRequestError as exc:
            raise ApiError.bad_request(exc.message, param=exc.param, code=exc.code) from None
        if "grounding" in original:
            body["grounding"] = original["grounding"]
        ctx.body = body
        parse_chat(self.steps.max_messages)(ctx)
        ctx.response_state = (request, continuation, turn, new_response_id())

    async def screen(self, ctx: RequestContext[Any]) -> Reply | None:
        """Input guardrails and the cache; a cached chat answer is re-told as a Response too."""
        reply = await self.steps.screen_input(ctx)
        return None if reply is None else await self._convert(ctx, reply)

    async def call(self, ctx: RequestContext[Any]) -> Reply:
        return await self._convert(ctx, await self.steps.call_chat(ctx))

    async def _convert(self, ctx: RequestContext[Any], reply: Reply) -> Reply:
        request, continuation, turn, response_id = ctx.response_state
        if isinstance(reply, JsonReply):
            response = from_chat_completion(orjson.loads(reply.body), request, response_id)
            await self._save(ctx, continuation, turn, response)
            return JsonReply(reply.status, orjson.dumps(response), reply.headers)
        return StreamReply(reply.status, self._events(ctx, reply.events, continuation, turn, response_id),
                           reply.headers)

    async def _save(self, ctx: RequestContext[Any], continuation: Continuation, turn: list[dict[str, Any]],
                    response: dict[str, Any]) -> None:
        request = ctx.response_state[0]
        if not request.store or self.store is None or ctx.principal is None:
            return
        await self.store.save(ctx.principal.tenant_id, ctx.principal.app_id, request.user, continuation,
                              [*turn, *output_messages(response)], response)
        ctx.record["response_stored"] = response["id"]

    async def _events(self, ctx: RequestContext[Any], chat_events: AsyncIterator[bytes], continuation: Continuation,
                      turn: list[dict[str, Any]], response_id: str) -> AsyncIterator[bytes]:
        request = ctx.response_state[0]
        model = ctx.deployment.model if ctx.deployment is not None else request.model
        stream = ResponseEventStream(request, response_id, model)
        for event in stream.start():
            yield sse(event)
        async for raw in chat_events:
            for line in raw.split(b"\n"):
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    final = stream.finish()
                    await self._save(ctx, continuation, turn, final[-1]["response"])
                    for event in final:
                        yield sse(event)
                    return
                chunk = orjson.loads(data)
                if "error" in chunk:
                    error = chunk["error"]
                    for event in stream.fail(str(error.get("code")), str(error.get("message")), error.get("param")):
                        yield sse(event)
                    return
                for event in stream.feed(chunk):
                    yield sse(event)


def responses_endpoint(steps: Steps, responses: ResponsesSteps) -> Endpoint[Any]:
    orchestration = steps.orchestration
    return Endpoint(OPERATION_RESPONSES, lambda ctx: None, (
        responses.prepare,
        *((orchestration.ground,) if orchestration is not None else ()),
        steps.optimise, steps.route, steps.divert_to_canary, steps.fit_to_model, steps.admit, responses.screen,
        responses.call,
    ))

