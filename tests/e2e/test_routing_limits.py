"""Routing decisions, limits, optimisation and the costs command through the real HTTP functions."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from llmops.cli import main as llmops_main
from shared.config import reset_settings_cache
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def app_client(stack: Stack, tenant: str, app: str, policy: dict | None = None) -> openai.OpenAI:
    key = stack.new_key(tenant, app)
    for section, value in (policy or {}).items():
        scope, _, name = section.partition(":")
        stack.call(stack.platform.tenants.set_policy(tenant, app if scope == "app" else None, name, value))
    return openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=key, max_retries=0)


def ask(client: openai.OpenAI, text: str, **kwargs):
    return client.chat.completions.with_raw_response.create(
        model=kwargs.pop("model", "auto"), messages=[{"role": "user", "content": text}], **kwargs)


def test_auto_routes_by_complexity_and_says_why(stack: Stack) -> None:
    client = app_client(stack, "router", "web")
    simple = ask(client, "What time do you open on Saturday?")
    assert simple.headers["x-llmops-deployment"] == "gpt-4o-mini"
    assert simple.headers["x-llmops-route"].startswith("small; score=0.00; reason=short")
    hard = ask(client, "Debug this and explain why it fails:\n```python\ndef total(xs):\n"
                       "    return sum(xs) / len(xs)\n```")
    assert hard.headers["x-llmops-deployment"] == "gpt-4o"
    route = stack.log_record(hard.headers["x-request-id"])["route"]
    assert route["tier"] == "frontier" and route["score"] >= 0.25 and "code" in route["reason"]
    explicit = ask(client, "hi", model="gpt-4o")
    assert explicit.headers["x-llmops-route"] == "explicit" and explicit.headers["x-llmops-deployment"] == "gpt-4o"


def test_app_policy_pins_and_thresholds(stack: Stack) -> None:
    pinned = app_client(stack, "router", "pinned", {"app:routing": {"pin": "gpt-4o"}})
    assert ask(pinned, "hi").headers["x-llmops-route"] == "pinned"
    cheap = app_client(stack, "router", "cheap", {"app:routing": {"allowed_tiers": ["small"]}})
    raw = ask(cheap, "Prove that the sum of the first n odd numbers is n squared, step by step.")
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini" and "tier-not-allowed" in raw.headers["x-llmops-route"]


def test_an_invalid_stored_policy_is_a_clear_server_error(stack: Stack) -> None:
    client = app_client(stack, "router", "broken", {"app:routing": {"threshold": "high"}})
    with pytest.raises(openai.InternalServerError) as error:
        ask(client, "hi")
    assert error.value.code == "invalid_tenant_policy" and "threshold" in error.value.message


def _fresh_minute() -> None:
    """Keep a per-minute test inside one window of the gateway's clock."""
    if 60 - time.time() % 60 < 3:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_requests_per_minute_limit_answers_429_with_headers(stack: Stack) -> None:
    _fresh_minute()
    client = app_client(stack, "limited", "rpm", {"app:limits": {"requests_per_minute": 2}})
    first = ask(client, "hi")
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    ask(client, "hi")
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client, "hi")
    response = refused.value.response
    assert refused.value.code == "rate_limit_exceeded"
    assert response.headers["x-ratelimit-remaining-requests"] == "0" and int(response.headers["retry-after"]) >= 1
    record = stack.log_record(response.headers["x-request-id"])
    assert record["limit_kind"] == "rpm" and record["status"] == 429 and record["outcome"] == "rate_limited"


def test_budget_zero_and_budget_exhaustion(stack: Stack) -> None:
    blocked = app_client(stack, "broke", "app", {"tenant:limits": {"monthly_budget_usd": 0}})
    with pytest.raises(openai.RateLimitError) as refused:
        ask(blocked, "hi")
    assert refused.value.code == "budget_exceeded"
    # a tiny budget: the reservation (prompt + 1024 output tokens at the plan's highest price) fits once
    client = app_client(stack, "tight", "app", {"app:limits": {"monthly_budget_usd": 0.012}})
    raw = ask(client, "hi", model="gpt-4o")
    record = stack.log_record(raw.headers["x-request-id"])
    assert record["max_tokens"] == 1024 and record["max_tokens_set_by"] == "limits"
    assert float(raw.headers["x-llmops-budget-remaining-usd"]) < 0.002  # while reserved
    time.sleep(0.2)  # settlement runs after the reply
    again = ask(client, "hi", model="gpt-4o")  # the settled spend left room for another reservation
    assert again.parse().choices[0].message.content


def test_tokens_per_minute_with_client_max_tokens(stack: Stack) -> None:
    _fresh_minute()
    client = app_client(stack, "limited", "tpm", {"app:limits": {"tokens_per_minute": 200}})
    raw = ask(client, "hi", max_tokens=150)
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) < 50
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client, "hi", max_tokens=150)
    assert "tokens per minute" in refused.value.message


def test_optimisation_is_logged_and_the_model_sees_fewer_tokens(stack: Stack) -> None:
    client = app_client(stack, "optimised", "crm", {"app:optimisation": {
        "normalise_whitespace": True, "strip_boilerplate": True, "history_token_budget": 60, "max_tokens_cap": 50}})
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"Earlier message {i}. " * 12}
               for i in range(6)]
    messages = [{"role": "system", "content": "You help sales reps."}, *history,
                {"role": "user", "content": "Summarise   the deal.\n\n\n\nSent from my iPhone"}]
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages, max_tokens=500)
    completion = raw.parse()
    record = stack.log_record(raw.headers["x-request-id"])
    report = record["optimisation"]
    assert report["tokens_after"] < report["tokens_before"] and report["steps"]["trim_history"] > 0
    assert completion.usage.prompt_tokens == report["tokens_after"]  # the model got the optimised prompt
    assert record["max_tokens"] == 50 and completion.usage.completion_tokens <= 50


def test_costs_command_prints_a_table(stack: Stack, capsys) -> None:
    client = app_client(stack, "billing", "mobile")
    ask(client, "hi", model="gpt-4o")
    stack.flush_log()
    previous = {k: os.environ.get(k) for k in ("LLMOPS_DATA_DIR", "LLMOPS_STORE")}
    os.environ.update(LLMOPS_DATA_DIR=str(stack.data_dir), LLMOPS_STORE="sqlite")
    reset_settings_cache()
    # the CLI calls asyncio.run(), which clears the calling thread's event loop: keep it off the main thread
    with ThreadPoolExecutor(1) as worker:
        def cli(*argv: str) -> int:
            return worker.submit(llmops_main, list(argv)).result(60)

        try:
            assert cli("costs", "--since", "1h", "--tenant", "billing") == 0
            table = capsys.readouterr().out
            assert cli("costs", "--since", "1h", "--by", "tenant", "--json") == 0
            rows = capsys.readouterr().out
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                assert cli("costs", "--by", "region") == 2
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            reset_settings_cache()
    assert "billing" in table and "gpt-4o" in table and "TOTAL" in table
    assert any(row["tenant"] == "billing" and row["cost_usd"] > 0 for row in json.loads(rows))
    assert "--by takes" in err.getvalue()


def test_streams_are_routed_limited_and_settled(stack: Stack) -> None:
    _fresh_minute()
    client = app_client(stack, "limited", "stream", {"app:limits": {"tokens_per_minute": 5000}})
    with client.chat.completions.with_streaming_response.create(
            model="auto", messages=[{"role": "user", "content": "hello there"}], stream=True) as response:
        assert response.headers["x-llmops-route"].startswith("small;")
        reserved_left = int(response.headers["x-ratelimit-remaining-tokens"])
        request_id = response.headers["x-request-id"]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text and reserved_left < 5000 - 1024  # the default output allowance was reserved
    record = stack.log_record(request_id)
    assert record["max_tokens"] == 1024 and record["stream_end"] == "complete"
    time.sleep(0.2)  # the settlement runs after the stream
    after = ask(client, "hello again", max_tokens=10)
    used = 5000 - int(after.headers["x-ratelimit-remaining-tokens"])
    assert used < 400  # the first request now counts its real tokens, not its 1,024-token reservation
