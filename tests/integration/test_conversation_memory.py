"""Conversation memory and stored responses on the real stores (SQLite and the Cosmos DB API server)."""

from __future__ import annotations

import asyncio

import pytest

from shared.conversations.memory import ConversationNotFoundError, ConversationStore
from shared.conversations.responses import ResponseNotFoundError, ResponseStore
from shared.store import DocumentStore

pytestmark = pytest.mark.integration


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


async def test_turns_append_trim_scope_and_delete(store: DocumentStore) -> None:
    memory = ConversationStore(store, ttl_s=3600, max_messages=12)
    conversation = await memory.create("contoso", "mobile", "u1", metadata={"channel": "ios"})
    for turn in range(10):  # the client only ever sends its new message
        sent = [{"role": "system", "content": "Be brief."}, user(f"question {turn}")] if turn == 0 else [
            user(f"question {turn}")]
        seen = memory.request_messages(conversation, sent, token_budget=10_000)
        assert seen[0]["content"] == "Be brief." and seen[-1] == user(f"question {turn}")
        assert seen[1:-1] == conversation.messages  # the stored turns, in order, between them
        conversation = await memory.append(conversation, [user(f"question {turn}"), assistant(f"answer {turn}")],
                                           instructions=[m for m in sent if m["role"] == "system"] or None)
    assert conversation.turns == 10 and len(conversation.messages) <= 12
    assert conversation.messages[0]["role"] == "user" and conversation.dropped == 20 - len(conversation.messages)
    assert conversation.instructions == [{"role": "system", "content": "Be brief."}]
    trimmed = memory.request_messages(conversation, [user("x " * 50)], token_budget=80)
    assert trimmed[0]["role"] == "system" and trimmed[-1]["content"].startswith("x ")
    assert len(trimmed) < len(conversation.messages) + 2  # the oldest turns went to fit the budget

    for other in (("fabrikam", "u1"), ("contoso", "u2"), ("contoso", None)):
        with pytest.raises(ConversationNotFoundError):
            await memory.get(other[0], conversation.id, other[1])
        with pytest.raises(ConversationNotFoundError):
            await memory.delete(other[0], conversation.id, other[1])
    with pytest.raises(ConversationNotFoundError):
        await memory.get("contoso", "not-an-id", "u1")

    again = await memory.get("contoso", conversation.id, "u1")
    results = await asyncio.gather(*(memory.append(again, [user(f"c{i}"), assistant(f"r{i}")]) for i in range(3)))
    final = await memory.get("contoso", conversation.id, "u1")
    assert final.turns == 13 and max(r.turns for r in results) == 13  # concurrent turns are all kept
    assert {m["content"] for m in final.messages} >= {"c0", "c1", "c2"}
    assert await memory.delete("contoso", conversation.id, "u1") == 1
    with pytest.raises(ConversationNotFoundError):
        await memory.get("contoso", conversation.id, "u1")


async def test_previous_response_id_chains_and_branches(store: DocumentStore) -> None:
    memory = ConversationStore(store, ttl_s=3600)
    responses = ResponseStore(memory)
    start = await responses.continuation("contoso")
    first = {"id": "resp_first", "output": []}
    conversation = await responses.save("contoso", "web", "u1", start, [user("hi"), assistant("hello")], first)
    after_first = await responses.continuation("contoso", previous_response_id="resp_first", user="u1")
    assert after_first.history == [user("hi"), assistant("hello")]
    await responses.save("contoso", "web", "u1", after_first, [user("more"), assistant("sure")],
                         {"id": "resp_second", "output": []})
    assert (await responses.continuation("contoso", previous_response_id="resp_second", user="u1")).history == [
        user("hi"), assistant("hello"), user("more"), assistant("sure")]
    branch = await responses.continuation("contoso", previous_response_id="resp_first", user="u1")
    forked = await responses.save("contoso", "web", "u1", branch, [user("other"), assistant("ok")],
                                  {"id": "resp_branch", "output": []})
    assert forked.id != conversation.id
    assert (await responses.continuation("contoso", previous_response_id="resp_branch", user="u1")).history == [
        user("hi"), assistant("hello"), user("other"), assistant("ok")]
    assert (await responses.get("contoso", "resp_second", "u1"))["id"] == "resp_second"
    for tenant, who in (("fabrikam", "u1"), ("contoso", "u2")):
        with pytest.raises(ResponseNotFoundError):
            await responses.continuation(tenant, previous_response_id="resp_first", user=who)
    await memory.delete("contoso", conversation.id, "u1")  # its responses go with it
    with pytest.raises(ResponseNotFoundError):
        await responses.get("contoso", "resp_second", "u1")
    assert (await responses.get("contoso", "resp_branch", "u1"))["id"] == "resp_branch"
