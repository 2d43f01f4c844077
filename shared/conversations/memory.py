"""Conversation memory: the turns of a conversation kept server-side, so a client sends only what is new.

A conversation (container ``conversations``, partition ``tenant_id``, id ``conv_<32 hex>``) belongs to
one tenant and one end user (the request's ``user`` field, empty when none is sent): any other tenant
or user asking for it gets "not found", exactly as for an id that never existed, so ids cannot be
probed. It holds the system/developer ``instructions`` last sent and the ``messages`` (user,
assistant, tool) in order. Each turn appends the new messages and the answer with an ETag-checked
write (a concurrent turn is re-read and appended to, never lost) and renews the item's ``ttl``: a
conversation expires ``ttl_s`` after its last turn (Cosmos DB deletes it; SQLite hides it).

What is stored is bounded (``max_messages``, ``max_bytes``: the oldest turns go first), and what is
sent to the model is trimmed to a token budget with the optimisation step ``trim_history`` (system
messages and the newest user turn are never dropped; a tool call goes with its results).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.optimisation import PROTECTED_ROLES, trim_history
from shared.store import ConflictError, DocumentStore, Filter, PreconditionFailedError

CONVERSATIONS = "conversations"
_ID = re.compile(r"^conv_[A-Za-z0-9_-]{8,64}$")
Message = dict[str, Any]


class ConversationNotFoundError(LookupError):
    """No such conversation for this tenant and user (404 ``conversation_not_found``)."""


def new_conversation_id() -> str:
    return f"conv_{uuid.uuid4().hex}"


def is_conversation_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


@dataclass
class Conversation:
    id: str
    tenant_id: str
    app_id: str
    user: str
    instructions: list[Message] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    turns: int = 0
    dropped: int = 0  # messages dropped from storage by the size bounds
    created_at: float = 0.0
    updated_at: float = 0.0
    etag: str | None = None

    def to_doc(self, ttl_s: int) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id, "tenant_id": self.tenant_id, "kind": "conversation", "app_id": self.app_id,
            "user": self.user, "instructions": self.instructions, "messages": self.messages,
            "metadata": self.metadata, "turns": self.turns, "dropped": self.dropped, "created_at": self.created_at,
            "updated_at": self.updated_at, "ttl": ttl_s}
        if self.etag:
            doc["_etag"] = self.etag
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Conversation:
        return cls(str(doc["id"]), str(doc["tenant_id"]), str(doc.get("app_id") or ""), str(doc.get("user") or ""),
                   list(doc.get("instructions") or []), list(doc.get("messages") or []),
                   dict(doc.get("metadata") or {}), int(doc.get("turns") or 0), int(doc.get("dropped") or 0),
                   float(doc.get("created_at") or 0), float(doc.get("updated_at") or 0), doc.get("_etag"))

    def public(self) -> dict[str, Any]:
        """The conversation object the API returns (OpenAI's Conversations shape plus counts)."""
        return {"id": self.id, "object": "conversation", "created_at": int(self.created_at),
                "metadata": self.metadata, "turns": self.turns, "messages": len(self.messages)}


def split_instructions(messages: Sequence[Message]) -> tuple[list[Message], list[Message]]:
    """``(system/developer messages, the rest)``, each in order."""
    instructions = [m for m in messages if m.get("role") in PROTECTED_ROLES]
    return instructions, [m for m in messages if m.get("role") not in PROTECTED_ROLES]


def bound_messages(messages: list[Message], max_messages: int, max_bytes: int) -> tuple[list[Message], int]:
    """Drop the oldest messages until both bounds hold; the kept history starts at a user message."""
    sizes = [len(json.dumps(m, separators=(",", ":"), default=str)) for m in messages]
    start = 0
    total = sum(sizes)
    while start < len(messages) and (len(messages) - start > max_messages or total > max_bytes):
        total -= sizes[start]
        start += 1
    while start < len(messages) and messages[start].get("role") != "user":
        start += 1  # never begin with an orphaned assistant reply or tool result
    return messages[start:], start


class ConversationStore:
    def __init__(self, store: DocumentStore, *, ttl_s: int, max_messages: int = 200, max_bytes: int = 512 * 1024,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._clock = clock

    async def create(self, tenant_id: str, app_id: str, user: str | None = None, *,
                     metadata: dict[str, str] | None = None, instructions: Sequence[Message] = (),
                     messages: Sequence[Message] = (), conversation_id: str | None = None) -> Conversation:
        now = self._clock()
        kept, dropped = bound_messages(list(messages), self.max_messages, self.max_bytes)
        conversation = Conversation(conversation_id or new_conversation_id(), tenant_id, app_id, user or "",
                                    list(instructions), kept, dict(metadata or {}), 0, dropped, now, now)
        try:
            saved = await self.store.create(CONVERSATIONS, conversation.to_doc(self.ttl_s))
        except ConflictError:
            raise ValueError(f"conversation {conversation.id} exists") from None
        return Conversation.from_doc(saved)

    async def get(self, tenant_id: str, conversation_id: str, user: str | None = None) -> Conversation:
        """The conversation if it belongs to this tenant and user, else ``ConversationNotFoundError``."""
        if not is_conversation_id(conversation_id):
            raise ConversationNotFoundError(conversation_id)
        doc = await self.store.get(CONVERSATIONS, conversation_id, tenant_id)
        if doc is None or doc.get("kind") != "conversation" or str(doc.get("user") or "") != (user or ""):
            raise ConversationNotFoundError(conversation_id)
        return Conversation.from_doc(doc)

    async def delete(self, tenant_id: str, conversation_id: str, user: str | None = None) -> int:
        """Delete the conversation and the stored responses of it; how many items went."""
        await self.get(tenant_id, conversation_id, user)  # the same 404 for another user's conversation
        stored = await self.store.query(CONVERSATIONS, [Filter("tenant_id", "=", tenant_id),
                                                        Filter("conversation_id", "=", conversation_id)])
        for doc in stored:
            await self.store.delete(CONVERSATIONS, doc["id"], tenant_id)
        await self.store.delete(CONVERSATIONS, conversation_id, tenant_id)
        return len(stored) + 1

    async def append(self, conversation: Conversation, new_messages: Sequence[Message],
                     instructions: Sequence[Message] | None = None) -> Conversation:
        """Add one turn (the client's new messages and the answer); ``instructions`` replace the stored
        ones when given. Retried against concurrent turns; a conversation deleted meanwhile stays deleted."""
        current = conversation
        for _ in range(8):
            try:
                return await self.append_exact(current, new_messages, instructions)
            except PreconditionFailedError:
                current = await self.get(current.tenant_id, current.id, current.user)
        raise PreconditionFailedError(f"conversation {conversation.id}: too many concurrent turns")

    async def append_exact(self, current: Conversation, new_messages: Sequence[Message],
                           instructions: Sequence[Message] | None = None) -> Conversation:
        """One ETag-checked append to ``current`` as read (``PreconditionFailedError`` if it moved)."""
        messages, dropped = bound_messages([*current.messages, *new_messages], self.max_messages, self.max_bytes)
        updated = Conversation(current.id, current.tenant_id, current.app_id, current.user,
                               list(instructions) if instructions else current.instructions, messages,
                               current.metadata, current.turns + 1, current.dropped + dropped,
                               current.created_at, self._clock(), current.etag)
        saved = await self.store.replace(CONVERSATIONS, updated.to_doc(self.ttl_s), if_match=current.etag)
        return Conversation.from_doc(saved)

    @staticmethod
    def request_messages(conversation: Conversation, sent: Sequence[Message], token_budget: int) -> list[Message]:
        """What the model sees: the instructions (the request's own when it sends some), the stored turns,
        then the request's new messages, trimmed to ``token_budget`` tokens."""
        sent_instructions, sent_turns = split_instructions(sent)
        combined = [*(sent_instructions or conversation.instructions), *conversation.messages, *sent_turns]
        return trim_history(combined, token_budget)
