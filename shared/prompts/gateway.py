"""The prompt step inside the chat gateway: resolve ``prompt`` (the documented extension field),
render it into the request, and mark the request with the prompt version that produced it
(``x-llmops-prompt``, ``record["prompt"]``, the span's ``llmops.prompt``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.api.errors import ApiError
from shared.api.schemas import parse_chat_request
from shared.prompts.resolver import PROMPT_HEADER, PromptRequestError, PromptResolver

if TYPE_CHECKING:
    from shared.gateway.context import ChatContext


def ab_key(ctx: ChatContext) -> str | None:
    """What keeps a user on one side of an A/B split: the request's ``user`` field, else none (random)."""
    user = ctx.body.get("user")
    principal = ctx.principal
    if isinstance(user, str) and user and principal is not None:
        return f"{principal.tenant_id}/{principal.app_id}/{user}"
    return None


async def apply_prompt(resolver: PromptResolver, ctx: ChatContext, *, max_messages: int) -> None:
    """Replace ``ctx.body``/``ctx.messages`` with the rendered prompt (no-op without a ``prompt`` field)."""
    try:
        prepared = await resolver.prepare(ctx.body, ab_key=ab_key(ctx))
    except PromptRequestError as exc:
        if exc.status == 404:
            raise ApiError.not_found(exc.message, param=exc.param, code=exc.code) from None
        raise ApiError.bad_request(exc.message, param=exc.param, code=exc.code or "invalid_prompt") from None
    if prepared is None:
        return
    ctx.body = prepared.body
    ctx.request = parse_chat_request(ctx.body, max_messages=max_messages)
    ctx.messages = list(ctx.body["messages"])
    ctx.record["prompt"] = prepared.record
    ctx.response_headers[PROMPT_HEADER] = prepared.header
    if prepared.rendered.guardrails is not None:  # the prompt's own guardrail policy section
        ctx.app_policy = {**ctx.app_policy, "guardrails": prepared.rendered.guardrails}
