"""Orchestration steps of the pipeline: conversation memory and grounding (extension fields of chat).

- ``recall`` (``conversation_id``): the stored turns of the conversation come before the request's new
  messages, trimmed to the app's ``memory.history_token_budget`` (else ``LLMOPS_CONVERSATION_HISTORY_TOKEN_BUDGET``);
  the turn (new messages and answer) is appended once the answer is complete, before the client sees its
  end. Unknown ids, and ids of another tenant or user, are 404 ``conversation_not_found``.
- ``ground`` (``grounding: {"source": "catalog" | [...], "top_k": 4}``, from the request or its prompt
  file): the last user message is the query; the passages go into a system message as
  ``<document id="n" ...>`` sections (what the simulator answers from, and what the groundedness and
  product-claim guardrails read), the products among them to the product-claim check, and the
  citations to ``x-llmops-citations`` and the ``citations`` field of the answer.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.api.errors import ApiError
from shared.gateway.context import RequestContext
from shared.policies import SectionCache
from shared.tokens import message_text

if TYPE_CHECKING:
    from shared.conversations.memory import Conversation, ConversationStore
    from shared.grounding.retriever import Passage
    from shared.grounding.service import GroundingService

CITATIONS_HEADER = "x-llmops-citations"
CONVERSATION_HEADER = "x-llmops-conversation-id"
DEFAULT_INSTRUCTIONS = ("Answer from the numbered sources below. Cite the sources you use as [n]. If they do not "
                        "contain the answer, say that you do not know.")
Commit = Callable[[dict[str, Any]], Awaitable[None]]


class GroundingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | list[str]
    top_k: int = Field(default=4, ge=1, le=20)
    instructions: str | None = Field(default=None, max_length=4000)  # replaces DEFAULT_INSTRUCTIONS

    @field_validator("source")
    @classmethod
    def _sources(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("name at least one source")
        return value

    @property
    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    history_token_budget: int | None = Field(default=None, ge=100)


def passages_message(passages: list[Passage], instructions: str | None) -> dict[str, Any]:
    sections = []
    for number, passage in enumerate(passages, start=1):
        attributes = (f'id="{number}" source="{html.escape(passage.source)}" title="{html.escape(passage.title)}" '
                      f'location="{html.escape(passage.location)}"')
        sections.append(f"<document {attributes}>\n{passage.text}\n</document>")
    return {"role": "system", "content": (instructions or DEFAULT_INSTRUCTIONS) + "\n\n" + "\n".join(sections)}


def citations_header(passages: list[Passage]) -> str:
    return "; ".join(f"{n}={p.source}:{p.location}" for n, p in enumerate(passages, start=1))


class OrchestrationSteps:
    def __init__(self, grounding: Callable[[], GroundingService] | None, memory: ConversationStore | None, *,
                 default_budget: int) -> None:
        self._grounding = grounding
        self.memory = memory
        self.default_budget = default_budget
        self._memory_sections = SectionCache(MemoryPolicy, "memory")

    # -- conversation memory ---------------------------------------------------------------
    def budget(self, ctx: RequestContext[Any]) -> int:
        policy: MemoryPolicy = self._memory_sections.get(ctx.app_policy.get("memory"))
        return policy.history_token_budget or self.default_budget

    async def conversation(self, ctx: RequestContext[Any], conversation_id: object, user: str | None
                           ) -> Conversation:
        from shared.conversations.memory import ConversationNotFoundError

        if self.memory is None:
            raise ApiError.bad_request("This gateway has no conversation memory.", param="conversation_id",
                                       code="unsupported")
        if not isinstance(conversation_id, str):
            raise ApiError.bad_request("'conversation_id' must be a string.", param="conversation_id",
                                       code="invalid_value")
        assert ctx.principal is not None
        try:
            return await self.memory.get(ctx.principal.tenant_id, conversation_id, user)
        except ConversationNotFoundError:
            raise ApiError.not_found(f"No conversation '{conversation_id}' (for this user).",
                                     param="conversation_id", code="conversation_not_found") from None

    async def recall(self, ctx: RequestContext[Any]) -> None:
        if "conversation_id" not in ctx.body:
            return
        user = ctx.body.get("user") if isinstance(ctx.body.get("user"), str) else None
        conversation = await self.conversation(ctx, ctx.body["conversation_id"], user)
        assert self.memory is not None
        from shared.conversations.memory import split_instructions

        sent = list(ctx.messages)
        ctx.messages = self.memory.request_messages(conversation, sent, self.budget(ctx))
        ctx.prompt_tokens = None
        ctx.body["messages"] = ctx.messages
        instructions, turn = split_instructions(sent)
        ctx.record["conversation"] = {"id": conversation.id, "stored_messages": len(conversation.messages),
                                      "sent_messages": len(ctx.messages)}
        ctx.response_headers[CONVERSATION_HEADER] = conversation.id
        memory = self.memory

        async def remember(answer: dict[str, Any]) -> None:
            await memory.append(conversation, [*turn, answer], instructions or None)

        ctx.commits.append(remember)

    # -- grounding -------------------------------------------------------------------------
    async def ground(self, ctx: RequestContext[Any]) -> None:
        raw = ctx.body.get("grounding")
        if raw is None:
            return
        try:
            spec = GroundingSpec.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            param = ".".join(["grounding", *(str(p) for p in first.get("loc", ()))])
            raise ApiError.bad_request(f"Invalid value for '{param}': {first.get('msg')}.", param=param,
                                       code="invalid_value") from None
        if self._grounding is None:
            raise ApiError.bad_request("This gateway has no grounding sources.", param="grounding",
                                       code="unsupported")
        question = next((message_text(m) for m in reversed(ctx.messages) if m.get("role") == "user"), "")
        from shared.grounding.sources import GroundingError

        assert ctx.principal is not None
        try:
            passages = await self._grounding().retrieve(ctx.principal.tenant_id, spec.sources, question,
                                                        top_k=spec.top_k)
        except GroundingError as exc:
            raise ApiError(exc.status, exc.message, param=exc.param or "grounding.source", code=exc.code) from None
        ctx.record["grounding"] = {"sources": spec.sources, "top_k": spec.top_k,
                                   "passages": [{"chunk_id": p.id, "source": p.source, "score": round(p.score, 4)}
                                                for p in passages]}
        if not passages:
            return
        first_turn = next((i for i, m in enumerate(ctx.messages) if m.get("role") not in ("system", "developer")),
                          len(ctx.messages))
        ctx.messages = [*ctx.messages[:first_turn], passages_message(passages, spec.instructions),
                        *ctx.messages[first_turn:]]
        ctx.prompt_tokens = None
        ctx.body["messages"] = ctx.messages
        ctx.passages = passages
        ctx.response_headers[CITATIONS_HEADER] = citations_header(passages)


def citations(ctx: RequestContext[Any]) -> list[dict[str, Any]] | None:
    passages = ctx.passages
    return [p.citation(n) for n, p in enumerate(passages, start=1)] if passages else None
