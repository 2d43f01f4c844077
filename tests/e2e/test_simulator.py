"""The Azure OpenAI simulator speaks Azure's REST shape, enforces limits and injects faults."""

from __future__ import annotations

import httpx2
import openai
import pytest

from llmops.devhost import SIMULATOR_KEY
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def azure_client(stack: Stack) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=stack.simulator_url, api_key=SIMULATOR_KEY,
                              api_version="2024-10-21", max_retries=0)


def test_chat_and_embeddings_with_the_azure_sdk(stack: Stack) -> None:
    client = azure_client(stack)
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}],
                                                max_tokens=5)
    assert completion.usage.completion_tokens <= 5 and completion.choices[0].finish_reason == "length"
    again = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}],
                                           max_tokens=5)
    assert again.choices[0].message.content == completion.choices[0].message.content  # deterministic
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a cat", "stock prices"],
                                       dimensions=64)
    a, b, c = (item.embedding for item in vectors.data)
    assert len(a) == 64 and a == b and a != c


def test_token_and_request_limits_answer_429_with_headers(stack: Stack) -> None:
    stack.control("limits", {"deployment": "gpt-4o", "tokens_per_minute": 1200, "requests_per_minute": 100})
    try:
        client = azure_client(stack).with_options(max_retries=0)
        ok = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=500)
        assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 1200
        assert ok.headers["x-ratelimit-limit-requests"] == "100"
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=500)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                           max_tokens=500)
        headers = caught.value.response.headers
        assert int(headers["retry-after"]) >= 1 and int(headers["retry-after-ms"]) > 0
        assert headers["x-ratelimit-remaining-tokens"] is not None
    finally:
        stack.control("limits", {"deployment": "gpt-4o", "tokens_per_minute": None, "requests_per_minute": None})


def test_control_endpoint_validates_faults(stack: Stack) -> None:
    bad = httpx2.post(f"{stack.simulator_url}/control/faults", json={"deployment": "gpt-4o", "error_rate": 2})
    assert bad.status_code == 400
    unknown = httpx2.post(f"{stack.simulator_url}/control/faults", json={"deployment": "nope", "error_rate": 1})
    assert unknown.status_code == 404
    state = stack.control("faults", {"deployment": "*", "error_rate": 0.5, "error_status": 503})
    assert set(state["deployments"]) == {"gpt-4o-mini", "gpt-4o-mini-west", "gpt-4o", "gpt-5-mini",
                                         "text-embedding-3-small"}


def test_simulator_requires_a_key_and_an_api_version(stack: Stack) -> None:
    url = f"{stack.simulator_url}/openai/deployments/gpt-4o/chat/completions"
    body = {"messages": [{"role": "user", "content": "x"}]}
    assert httpx2.post(url, params={"api-version": "2024-10-21"}, json=body).status_code == 401
    assert httpx2.post(url, json=body, headers={"api-key": SIMULATOR_KEY}).status_code == 404


def test_openai_style_deployment_through_the_backends(stack: Stack) -> None:
    """An OpenAI-compatible endpoint (how a fine-tuned model served by vLLM is reached) uses the same client code."""
    from shared.backends import ModelBackends
    from shared.deployments import Deployment

    deployment = Deployment(alias="ft-candidate", endpoint=f"{stack.simulator_url}/v1", deployment="gpt-4o-mini",
                            model="ft", tier="canary", auth="key", api_key=SIMULATOR_KEY, api_style="openai",
                            headers={"azureml-model-deployment": "blue"})

    async def call():
        backends = ModelBackends(timeout_s=5, connect_timeout_s=2)
        try:
            result = await backends.chat(deployment, {"messages": [{"role": "user", "content": "hi"}]})
            chunks = [c async for c in await backends.chat_stream(
                deployment, {"messages": [{"role": "user", "content": "hi"}]})]
            return result, chunks
        finally:
            await backends.close()

    result, chunks = stack.call(call())
    assert result.body["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"]["completion_tokens"] > 0
