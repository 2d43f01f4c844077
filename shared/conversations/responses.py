"""Stored Responses API responses (``store: true``) and ``previous_response_id``, on conversation memory.

Each stored response is an item ``resp_<hex>`` in the ``conversations`` container, pointing at a
conversation and at how far into it the response reaches (``upto``: an absolute message count, so it
survives the oldest turns being dropped by the storage bounds). Continuing from the newest response of
a conversation appends the turn to it; continuing from an older one (a branch) starts a new
conversation holding the history up to that response, so neither branch sees the other. The whole
chain is one read of the response and one of its conversation, however long it is.

Like conversations, responses belong to a tenant and a user: any other gets "not found". Instructions
are not carried over from a previous response (as in OpenAI's API): each request sends its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.conversations.memory import CONVERSATIONS, Conversation, ConversationStore, Message
from shared.store import PreconditionFailedError


class ResponseNotFoundError(LookupError):
    """No stored response with this id for this tenant and user (404 ``response_not_found``)."""


@dataclass
class Continuation:
    """Where a new response continues from: the conversation and the history the model should see."""

    conversation: Conversation | None
    upto: int  # absolute message count the history reaches
    history: list[Message]


class ResponseStore:
    def __init__(self, conversations: ConversationStore) -> None:
        self.conversations = conversations
        self.store = conversations.store

    async def _doc(self, tenant_id: str, response_id: str, user: str | None) -> dict[str, Any]:
        if not isinstance(response_id, str) or not response_id.startswith("resp_") or len(response_id) > 80:
            raise ResponseNotFoundError(response_id)
        doc = await self.store.get(CONVERSATIONS, response_id, tenant_id)
        if doc is None or doc.get("kind") != "response" or str(doc.get("user") or "") != (user or ""):
            raise ResponseNotFoundError(response_id)
        return doc

    async def get(self, tenant_id: str, response_id: str, user: str | None = None) -> dict[str, Any]:
        response: dict[str, Any] = (await self._doc(tenant_id, response_id, user))["response"]
        return response

    async def delete(self, tenant_id: str, response_id: str, user: str | None = None) -> None:
        await self._doc(tenant_id, response_id, user)
        await self.store.delete(CONVERSATIONS, response_id, tenant_id)

    async def continuation(self, tenant_id: str, *, previous_response_id: str | None = None,
                           conversation_id: str | None = None, user: str | None = None) -> Continuation:
        if previous_response_id is not None:
            doc = await self._doc(tenant_id, previous_response_id, user)
            try:
                conversation = await self.conversations.get(tenant_id, str(doc["conversation_id"]), user)
            except LookupError:  # the conversation was deleted or expired: so is what the response continued
                raise ResponseNotFoundError(previous_response_id) from None
            upto = int(doc.get("upto") or 0)
            kept = max(upto - conversation.dropped, 0)
            return Continuation(conversation, upto, conversation.messages[:kept])
        if conversation_id is not None:
            conversation = await self.conversations.get(tenant_id, conversation_id, user)
            return Continuation(conversation, conversation.dropped + len(conversation.messages),
                                list(conversation.messages))
        return Continuation(None, 0, [])

    async def save(self, tenant_id: str, app_id: str, user: str | None, continuation: Continuation,
                   turn: Sequence[Message], response: dict[str, Any]) -> Conversation:
        """Store the response and add its turn (the new input messages and the output) to memory."""
        conversation = await self._extend(tenant_id, app_id, user, continuation, list(turn))
        upto = conversation.dropped + len(conversation.messages)
        await self.store.upsert(CONVERSATIONS, {
            "id": response["id"], "tenant_id": tenant_id, "kind": "response", "user": user or "",
            "app_id": app_id, "conversation_id": conversation.id, "upto": upto, "response": response,
            "created_at": time.time(), "ttl": self.conversations.ttl_s})
        return conversation

    async def _extend(self, tenant_id: str, app_id: str, user: str | None, continuation: Continuation,
                      turn: list[Message]) -> Conversation:
        current = continuation.conversation
        if current is not None:
            for _ in range(8):
                at_tip = current.dropped + len(current.messages) == continuation.upto
                if not at_tip:
                    break
                try:
                    return await self.conversations.append_exact(current, turn)
                except PreconditionFailedError:  # a concurrent turn moved the tip: this one branches
                    current = await self.conversations.get(tenant_id, current.id, user)
        return await self.conversations.create(tenant_id, app_id, user, messages=[*continuation.history, *turn])
