"""Token optimisation steps and token counting."""

from __future__ import annotations

import pytest

from shared import tokens
from shared.optimisation import OptimisationPolicy, normalise_text, optimise, strip_boilerplate_text
from shared.policies import PolicyError, validate_section

DOC = ("Refund policy: customers may return any product within 30 days of delivery for a full refund, "
       "provided the item is unused and in its original packaging. Refunds are issued to the original "
       "payment method within 5 business days.")


def test_whitespace_is_collapsed_outside_code_only() -> None:
    text = "Hello   there,\t\tfriend.   \n\n\n\n\nNext   line\n```python\ndef f():\n    return  1\n```"
    assert normalise_text(text) == "Hello there, friend.\n\nNext line\n```python\ndef f():\n    return  1\n```"


def test_boilerplate_lines_signatures_and_quoted_history_go() -> None:
    seen: set[str] = set()
    email = ("Hi, my invoice is wrong.\nSent from my iPhone\n"
             "This email and any attachments are confidential and intended solely for the addressee.\n"
             "-- \nJane Doe\nSales Director\n")
    assert strip_boilerplate_text(email, seen) == "Hi, my invoice is wrong."
    reply = "Thanks!\nOn Mon, 3 Nov 2025 at 10:02, Support <help@contoso.com> wrote:\n> old text\n> more"
    assert strip_boilerplate_text(reply, seen) == "Thanks!"


def conversation() -> list[dict]:
    return [
        {"role": "system", "content": "You are   a CRM assistant."},
        {"role": "user", "content": f"Context:\n\n{DOC}\n\nQuestion one?"},
        {"role": "assistant", "content": "Answer one.",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "tool result " * 20},
        {"role": "assistant", "content": "Answer after the tool. " * 10},
        {"role": "user", "content": "Old question " * 30},
        {"role": "assistant", "content": "Old answer " * 30},
        {"role": "user", "content": f"Context:\n\n{DOC}\n\nSo can I return it   after 20 days?"},
    ]


def test_each_step_reports_tokens_saved_and_protected_messages_stay() -> None:
    messages = conversation()
    body = {"max_tokens": 4000}
    policy = OptimisationPolicy(normalise_whitespace=True, strip_boilerplate=True, dedupe_context=True,
                                history_token_budget=150, max_tokens_cap=800)
    out, report = optimise(messages, body, policy)
    assert messages == conversation()  # the input is not modified
    assert report["tokens_before"] == tokens.count_message_tokens(messages)
    assert report["tokens_after"] == tokens.count_message_tokens(out) <= 150
    assert set(report["steps"]) == {"normalise_whitespace", "strip_boilerplate", "dedupe_context", "trim_history"}
    assert sum(report["steps"].values()) == report["tokens_before"] - report["tokens_after"]
    assert report["steps"]["dedupe_context"] > 0 and report["steps"]["trim_history"] > 0
    assert out[0]["content"] == "You are a CRM assistant."  # whitespace only: the system prompt's words stay
    assert out[-1]["content"].startswith("Context:\n\n" + DOC)  # the last user turn keeps its document
    assert all(m.get("role") != "tool" for m in out)  # the tool call went together with its result
    assert body["max_tokens"] == 800 and report["max_tokens"] == {"requested": 4000, "capped_to": 800}


def test_trimming_never_drops_system_or_the_last_user_turn() -> None:
    out, report = optimise(conversation(), {}, OptimisationPolicy(history_token_budget=1))
    assert [m["role"] for m in out] == ["system", "user"]
    assert report["tokens_after"] > 1  # cannot go lower than the protected messages


def test_cap_sets_a_missing_max_tokens_and_keeps_a_smaller_one() -> None:
    body: dict = {"max_completion_tokens": 100}
    optimise([{"role": "user", "content": "hi"}], body, OptimisationPolicy(max_tokens_cap=500))
    assert body == {"max_completion_tokens": 100}
    body = {}
    optimise([{"role": "user", "content": "hi"}], body, OptimisationPolicy(max_tokens_cap=500))
    assert body == {"max_tokens": 500}


def test_optimisation_policy_validation() -> None:
    assert not OptimisationPolicy().enabled
    with pytest.raises(PolicyError, match="unknown setting 'trim'"):
        validate_section("optimisation", {"trim": True})
    with pytest.raises(PolicyError, match="history_token_budget"):
        validate_section("optimisation", {"history_token_budget": 0})


def test_token_counter_is_exact_when_the_offline_file_is_installed() -> None:
    name = tokens.tokenizer_name()
    assert name in ("o200k_base", "cl100k_base", "estimate")
    if name == "cl100k_base":
        assert tokens.count_text_tokens("hello world") == 2
        assert tokens.count_text_tokens("The quick brown fox jumps over the lazy dog.") == 10


SAMPLES = [
    "How do I reset the password of my account on the mobile app?",
    "Compare PostgreSQL and Cosmos DB for a multi-tenant CRM with 50k tenants: consistency, cost, partitioning.",
    "def parse(value: str) -> int:\n    return int(value.strip()) * 2  # double it\n",
    "Our customer was billed 3 seats at 49 EUR plus 20% VAT on 2026-03-14; the refund is 97.80 EUR.",
    "Thanks! That worked perfectly, have a great weekend :)",
]


def test_the_estimate_stays_within_its_documented_error() -> None:
    if tokens.tokenizer_name() == "estimate":
        pytest.skip("no exact tokenizer installed to compare with")
    exact = sum(tokens.count_text_tokens(s) for s in SAMPLES)
    estimated = sum(tokens.estimate_text_tokens(s) for s in SAMPLES)
    assert abs(estimated - exact) / exact <= 0.15
