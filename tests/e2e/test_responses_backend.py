"""A deployment served through Azure OpenAI's Responses API (``api_style: azure_responses``, the v1 endpoint):
chat and Responses clients reach it unchanged through the gateway, and the simulator sees Responses calls."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.integration
RESPONSES_DEPLOYMENT = {"alias": "gpt-4.1", "deployment": "gpt-4.1", "model": "gpt-4.1", "tier": "frontier",
                        "api_style": "azure_responses", "priority": 5, "input_per_1m": 2.0, "output_per_1m": 8.0}
LOOKUP = {"type": "function", "function": {
    "name": "lookup_order", "description": "Shipping status of an order by its number", "strict": True,
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"],
                   "additionalProperties": False}}}


class Order(BaseModel):
    order_id: str
    items: list[str]


@pytest.fixture(scope="module")
def responses_stack(tmp_path_factory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("responses-stack"), extra_deployments=[RESPONSES_DEPLOYMENT]) as stack:
        yield stack


def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway_url + "/api/v1", api_key=stack.key, max_retries=0)


def responses_calls(stack: Stack) -> int:
    return int(stack.control("state")["deployments"]["gpt-4.1"]["counters"].get("responses_api", 0))


def test_chat_completion_through_the_responses_api(responses_stack: Stack) -> None:
    before = responses_calls(responses_stack)
    raw = client(responses_stack).chat.completions.with_raw_response.create(
        model="gpt-4.1", max_tokens=60, messages=[{"role": "system", "content": "Be brief."},
                                                  {"role": "user", "content": "How do I reset my password?"}])
    completion = raw.parse()
    assert completion.choices[0].message.content and completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert raw.headers["x-llmops-deployment"] == "gpt-4.1" and float(raw.headers["x-llmops-cost-usd"]) > 0
    assert responses_calls(responses_stack) == before + 1
    record = responses_stack.log_record(raw.headers["x-request-id"])
    assert record is not None and record["deployment"] == "gpt-4.1" and record["usage"]["completion_tokens"] > 0


def test_structured_output_tools_and_streaming(responses_stack: Stack) -> None:
    sdk = client(responses_stack)
    parsed = sdk.chat.completions.parse(model="gpt-4.1", response_format=Order,
                                        messages=[{"role": "user", "content": "Summarise order 7731 as JSON"}])
    assert isinstance(parsed.choices[0].message.parsed, Order)
    called = sdk.chat.completions.create(model="gpt-4.1", tools=[LOOKUP],
                                         messages=[{"role": "user", "content": "Has order 7731 shipped yet?"}])
    call = called.choices[0].message.tool_calls[0]
    assert called.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {
        "order_id": "7731"}
    with sdk.chat.completions.stream(model="gpt-4.1", tools=[LOOKUP],
                                     messages=[{"role": "user", "content": "Has order 7731 shipped yet?"}]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.name == "lookup_order"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in sdk.chat.completions.create(
        model="gpt-4.1", stream=True, messages=[{"role": "user", "content": "Tell me about returns"}]) if chunk.choices)
    assert text.strip()


def test_responses_clients_reach_it_too(responses_stack: Stack) -> None:
    before = responses_calls(responses_stack)
    response = client(responses_stack).responses.create(model="gpt-4.1", input="Where is my order 8812?",
                                                         instructions="Be brief.")
    assert response.status == "completed" and response.output_text
    assert responses_calls(responses_stack) == before + 1


def test_a_chat_parameter_without_a_responses_equivalent_is_a_clear_400(responses_stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client(responses_stack).chat.completions.create(model="gpt-4.1", stop=["END"],
                                                        messages=[{"role": "user", "content": "Hello"}])
    assert raised.value.status_code == 400 and "stop is not supported" in raised.value.message
