"""The official openai SDK, pointed at the gateway by base URL and key only, works unchanged."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def client(stack: Stack, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0, **kwargs)


def test_completion_through_gateway(stack: Stack) -> None:
    raw = client(stack).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "How do I reset my password?"}], temperature=0.2
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini"
    assert float(raw.headers["x-llmops-cost-usd"]) > 0
    assert float(raw.headers["x-llmops-overhead-ms"]) >= 0
    record = stack.log_record(raw.headers["x-request-id"])
    assert record is not None
    assert record["status"] == 200 and record["tenant_id"] == "contoso" and record["app_id"] == "mobile"
    assert record["usage"]["completion_tokens"] == completion.usage.completion_tokens
    assert record["cost_usd"] == pytest.approx(float(raw.headers["x-llmops-cost-usd"]), rel=1e-6)
    assert record["streamed"] is False and record["latency_ms"] >= record["overhead_ms"]


def test_auto_goes_to_the_default_deployment(stack: Stack) -> None:
    raw = client(stack).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini"


def test_stream_with_usage(stack: Stack) -> None:
    with client(stack).chat.completions.with_streaming_response.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about refunds"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        request_id = response.headers["x-request-id"]
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and not usage_chunks[0].choices
    assert usage_chunks[0].usage.completion_tokens > 0
    record = stack.log_record(request_id)
    assert record["streamed"] is True and record["stream_end"] == "complete"
    assert record["usage"]["completion_tokens"] == usage_chunks[0].usage.completion_tokens
    assert record["ttft_ms"] is not None and record["cost_usd"] > 0


def test_stream_without_usage_option_hides_usage_but_logs_it(stack: Stack) -> None:
    with client(stack).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], stream=True
    ) as response:
        request_id = response.headers["x-request-id"]
        chunks = list(response.parse())
    assert chunks and all(c.usage is None for c in chunks)
    assert stack.log_record(request_id)["usage"]["completion_tokens"] > 0


def test_multipart_content_tools_and_json_mode_pass_through(stack: Stack) -> None:
    tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
    completion = client(stack).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Where is my order?"}]}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "lookup_order"}},
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup_order" and "order_id" in call.function.arguments
    assert completion.choices[0].finish_reason == "tool_calls"
    json_reply = client(stack).chat.completions.create(
        model="gpt-4o-mini", response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Give me JSON about shipping"}], max_completion_tokens=400, seed=3,
        stop=["\n\n"], user="user-42", top_p=0.9)
    assert json_reply.choices[0].message.content.startswith("{")


def test_azure_openai_client_works_against_the_gateway(stack: Stack) -> None:
    azure = openai.AzureOpenAI(azure_endpoint=f"{stack.gateway_url}/api", api_key=stack.key,
                               api_version="2024-10-21", max_retries=0)
    raw = azure.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello from an Azure client"}])
    assert raw.headers["x-llmops-deployment"] == "gpt-4o"
    assert raw.parse().choices[0].message.content


def test_models_list(stack: Stack) -> None:
    ids = [m.id for m in client(stack).models.list()]
    assert ids == ["auto", "gpt-4o-mini", "gpt-4o-mini-west", "gpt-4o", "gpt-5-mini"]


def test_health_liveness_and_readiness(stack: Stack) -> None:
    live = httpx2.get(f"{stack.gateway_url}/api/health", params={"probe": "live"})
    assert live.status_code == 200 and live.json()["status"] == "alive"
    ready = httpx2.get(f"{stack.gateway_url}/api/health")
    body = ready.json()
    assert ready.status_code == 200 and body["status"] == "ok"
    assert body["store"]["ok"] and set(body["backends"]) == {"gpt-4o-mini", "gpt-4o-mini-west", "gpt-4o",
                                                                "gpt-5-mini"}
