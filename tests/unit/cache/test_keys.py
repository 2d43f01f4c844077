"""Cache keys: what is and is not part of an answer's identity."""

from __future__ import annotations

from shared.cache.keys import (
    CacheScope,
    answer_params,
    content_text,
    exact_key,
    is_deterministic,
    is_single_turn,
    last_user_turn,
    semantic_scope_key,
)

SYSTEM = {"role": "system", "content": "You are helpful."}
USER = {"role": "user", "content": "How do I reset my password?"}


def scope(**overrides) -> CacheScope:
    base = CacheScope.for_request("contoso", "small", "gpt-4o-mini-2024-07-18", [SYSTEM, USER], "faq@abc")
    return CacheScope(**{**base.as_dict(), **overrides})


def test_exact_key_covers_scope_messages_and_params() -> None:
    params = answer_params({"model": "small", "temperature": 0, "messages": [USER], "stream": True, "user": "u1"})
    assert params == {"model": "small", "temperature": 0}
    key = exact_key(scope(), [SYSTEM, USER], params)
    assert key == exact_key(scope(), [SYSTEM, USER], dict(reversed(params.items())))
    assert key != exact_key(scope(tenant_id="fabrikam"), [SYSTEM, USER], params)
    assert key != exact_key(scope(model="gpt-4o-mini-2025-01-01"), [SYSTEM, USER], params)
    assert key != exact_key(scope(prompt_version="faq@def"), [SYSTEM, USER], params)
    assert key != exact_key(scope(), [SYSTEM, USER], {**params, "max_tokens": 5})
    assert key != exact_key(scope(), [SYSTEM, {"role": "user", "content": "How do I reset my password"}], params)


def test_stream_and_user_fields_do_not_change_the_key() -> None:
    a = answer_params({"model": "m", "temperature": 0, "stream": True, "stream_options": {"include_usage": True}})
    b = answer_params({"model": "m", "temperature": 0, "user": "x", "metadata": {"k": "v"}})
    assert a == b


def test_system_prompt_hash_scopes() -> None:
    other = CacheScope.for_request(
        "contoso", "small", "m", [{"role": "system", "content": "Pirate voice."}, USER], None
    )
    same = CacheScope.for_request("contoso", "small", "m", [SYSTEM, USER], None)
    assert other.system_hash != same.system_hash


def test_determinism() -> None:
    assert is_deterministic({"temperature": 0})
    assert is_deterministic({"top_p": 0, "temperature": 1})
    assert not is_deterministic({})  # the API default temperature is 1
    assert not is_deterministic({"temperature": 0.7})
    assert not is_deterministic({"temperature": 0, "n": 3})


def test_turns_and_content_parts() -> None:
    assert is_single_turn([SYSTEM, USER]) and is_single_turn([USER])
    convo = [SYSTEM, USER, {"role": "assistant", "content": "Click reset."}, {"role": "user", "content": "And then?"}]
    assert not is_single_turn(convo)
    assert last_user_turn(convo) == (3, "And then?")
    parts = {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {}}]}
    assert content_text(parts["content"]) == "Hi" and last_user_turn([parts]) == (0, "Hi")
    assert last_user_turn([SYSTEM]) is None


def test_semantic_scope_includes_earlier_turns() -> None:
    convo_a = [SYSTEM, {"role": "user", "content": "About plan A"}, {"role": "assistant", "content": "ok"}, USER]
    convo_b = [SYSTEM, {"role": "user", "content": "About plan B"}, {"role": "assistant", "content": "ok"}, USER]
    params = {"model": "m", "temperature": 0}
    assert semantic_scope_key(scope(), params, convo_a, 3) != semantic_scope_key(scope(), params, convo_b, 3)
    assert semantic_scope_key(scope(), params, [SYSTEM, USER], 1) == semantic_scope_key(
        scope(), params, [SYSTEM, {"role": "user", "content": "other words"}], 1
    )
