"""The Responses API through the gateway with the OpenAI SDK: text, tools, structured output, streamed
events, previous_response_id backed by conversation memory."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.support.stack import Stack

pytestmark = pytest.mark.integration
LOOKUP = {"type": "function", "name": "lookup_order", "description": "Shipping status of an order by its number",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"],
                         "additionalProperties": False}, "strict": True}


class Ticket(BaseModel):
    summary: str
    priority: str
    order_ids: list[str]


def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway_url + "/api/v1", api_key=stack.key, max_retries=0)


def test_text_structured_output_and_tools(stack: Stack) -> None:
    sdk = client(stack)
    raw = sdk.responses.with_raw_response.create(model="gpt-4o-mini", input="How do I reset my password?",
                                                 instructions="Be brief.", user="u1")
    response = raw.parse()
    assert response.status == "completed" and response.output_text and response.usage.output_tokens > 0
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini" and float(raw.headers["x-llmops-cost-usd"]) > 0
    parsed = sdk.responses.parse(model="gpt-4o-mini", input="Open a ticket for order 8812", text_format=Ticket)
    assert isinstance(parsed.output_parsed, Ticket)
    called = sdk.responses.create(model="gpt-4o-mini", input="Where is my order 8812?", tools=[LOOKUP])
    call = next(item for item in called.output if item.type == "function_call")
    assert call.name == "lookup_order" and '"8812"' in call.arguments
    answered = sdk.responses.create(model="gpt-4o-mini", tools=[LOOKUP], previous_response_id=called.id,
                                    input=[{"type": "function_call_output", "call_id": call.call_id,
                                            "output": "Order 8812 is out for delivery today."}])
    assert "out for delivery" in answered.output_text


def test_streamed_events_and_previous_response_id(stack: Stack) -> None:
    sdk = client(stack)
    kinds = []
    with sdk.responses.stream(model="gpt-4o-mini", input="Tell me about returns", user="u2") as stream:
        for event in stream:
            kinds.append(event.type)
        first = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds and first.output_text
    follow = sdk.responses.with_raw_response.create(model="gpt-4o-mini", input="And exchanges?", user="u2",
                                                    previous_response_id=first.id)
    record = stack.log_record(follow.headers["x-request-id"])
    assert record["operation"] == "responses"
    stored = sdk.responses.retrieve(first.id, extra_query={"user": "u2"})
    assert stored.id == first.id
    with pytest.raises(openai.NotFoundError):  # another user of the tenant does not see it
        sdk.responses.create(model="gpt-4o-mini", input="x", user="u3", previous_response_id=first.id)
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.responses.create(model="gpt-4o-mini", input="x", tools=[{"type": "web_search"}])
    assert bad.value.body["param"] == "tools[0].type"
    sdk.responses.delete(first.id, extra_query={"user": "u2"})
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(first.id, extra_query={"user": "u2"})
