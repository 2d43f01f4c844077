"""A reasoning-family deployment behind the gateway: the client sends max_tokens and temperature as it
always has, the gateway fits the request to the model, and the reasoning tokens are counted and priced."""

from __future__ import annotations

import httpx2
import openai
import pytest

from llmops.devhost import SIMULATOR_KEY
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
QUESTION = [{"role": "user", "content": "How do I reset my password?"}]


def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)


def test_the_simulator_refuses_max_tokens_and_temperature_like_azure(stack: Stack) -> None:
    azure = openai.AzureOpenAI(azure_endpoint=stack.simulator_url, api_key=SIMULATOR_KEY,
                               api_version="2025-04-01-preview", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        azure.chat.completions.create(model="gpt-5-mini", messages=QUESTION, max_tokens=50)
    assert caught.value.body["code"] == "unsupported_parameter" and "max_completion_tokens" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        azure.chat.completions.create(model="gpt-5-mini", messages=QUESTION, temperature=0.2)
    assert caught.value.body["code"] == "unsupported_value"


def test_max_tokens_and_temperature_from_the_sdk_reach_a_reasoning_model(stack: Stack) -> None:
    raw = client(stack).chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=QUESTION, max_tokens=400, temperature=0.2, top_p=0.9, reasoning_effort="high")
    completion = raw.parse()
    assert raw.headers["x-llmops-deployment"] == "gpt-5-mini"
    assert completion.choices[0].message.content
    reasoning = completion.usage.completion_tokens_details.reasoning_tokens
    assert reasoning > 0 and completion.usage.completion_tokens > reasoning
    record = stack.log_record(raw.headers["x-request-id"])
    assert record["usage"]["reasoning_tokens"] == reasoning
    deployment = stack.platform.deployments.get("gpt-5-mini")
    assert deployment is not None
    # reasoning tokens are output tokens: they are in completion_tokens, so they are priced
    assert record["cost_usd"] == pytest.approx(deployment.cost_usd(
        completion.usage.prompt_tokens, completion.usage.completion_tokens), rel=1e-9)
    assert record["cost_usd"] > deployment.cost_usd(completion.usage.prompt_tokens,
                                                    completion.usage.completion_tokens - reasoning)


def test_reasoning_effort_is_passed_through(stack: Stack) -> None:
    def reasoning_tokens(effort: str) -> int:
        completion = client(stack).chat.completions.create(model="gpt-5-mini", messages=QUESTION,
                                                           reasoning_effort=effort)
        return completion.usage.completion_tokens_details.reasoning_tokens

    assert reasoning_tokens("low") < reasoning_tokens("high")


def test_a_stream_with_max_tokens_reaches_a_reasoning_model(stack: Stack) -> None:
    stream = client(stack).chat.completions.create(model="gpt-5-mini", messages=QUESTION, max_tokens=300,
                                                   temperature=0.7, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = next(c.usage for c in chunks if c.usage is not None)
    assert usage.completion_tokens_details.reasoning_tokens > 0


def test_an_app_may_refuse_parameters_the_model_would_ignore(stack: Stack) -> None:
    stack.call(stack.platform.tenants.ensure_app("contoso", "strict"))
    stack.call(stack.platform.tenants.set_policy("contoso", "strict", "models", {"unsupported_params": "refuse"}))
    strict = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.new_key(app="strict"),
                           max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        strict.chat.completions.create(model="gpt-5-mini", messages=QUESTION, temperature=0.2)
    assert caught.value.body["param"] == "temperature" and caught.value.body["code"] == "unsupported_parameter"
    # max_tokens is renamed, not refused; chat models keep their temperature
    assert strict.chat.completions.create(model="gpt-5-mini", messages=QUESTION, max_tokens=200).choices
    assert strict.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, temperature=0.2).choices


def test_the_gateway_caps_a_reasoning_model_with_max_completion_tokens(stack: Stack) -> None:
    stack.call(stack.platform.tenants.ensure_app("contoso", "capped"))
    stack.call(stack.platform.tenants.set_policy("contoso", "capped", "limits", {"tokens_per_minute": 100_000}))
    capped = httpx2.post(f"{stack.gateway_url}/api/v1/chat/completions",
                         headers={"authorization": f"Bearer {stack.new_key(app='capped')}"},
                         json={"model": "gpt-5-mini", "messages": QUESTION}, timeout=30)
    assert capped.status_code == 200, capped.text
    record = stack.log_record(capped.headers["x-request-id"])
    assert record["max_tokens_set_by"] == "limits" and record["max_tokens"]
