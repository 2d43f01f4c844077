"""Structured outputs and tools through the gateway with the OpenAI SDK, against the simulator."""

from __future__ import annotations

import json

import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from tests.support.stack import Stack

pytestmark = pytest.mark.integration


class Order(BaseModel):
    order_id: str
    status: str = Field(description="shipping status")
    items: list[str]
    total_usd: float = Field(ge=0)


def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway_url + "/api/v1", api_key=stack.key, max_retries=0)


def test_chat_completions_parse_returns_the_pydantic_model(stack: Stack) -> None:
    completion = client(stack).chat.completions.parse(
        model="gpt-4o-mini", response_format=Order,
        messages=[{"role": "user", "content": "Summarise order 7731 for me as JSON"}])
    order = completion.choices[0].message.parsed
    assert isinstance(order, Order) and order.items and order.total_usd >= 0


LOOKUP = {"type": "function", "function": {
    "name": "lookup_order", "description": "Shipping status of an order by its number", "strict": True,
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"],
                   "additionalProperties": False}}}


def test_auto_tool_choice_calls_the_fitting_tool_and_streams_it_in_pieces(stack: Stack) -> None:
    messages = [{"role": "user", "content": "Has order 7731 shipped yet?"}]
    reply = client(stack).chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[LOOKUP])
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {
        "order_id": "7731"}
    pieces: list[str] = []
    with client(stack).chat.completions.stream(model="gpt-4o-mini", messages=messages, tools=[LOOKUP]) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                pieces.append(event.arguments_delta)
        final = stream.get_final_completion()
    assert len(pieces) > 1  # streamed in deltas, reassembled by the SDK
    streamed = final.choices[0].message.tool_calls[0]
    assert streamed.function.name == "lookup_order" and json.loads(streamed.function.arguments)["order_id"] == "7731"
    answered = client(stack).chat.completions.create(model="gpt-4o-mini", tools=[LOOKUP], messages=[
        *messages, final.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": streamed.id, "content": "Order 7731 shipped on Monday by DHL."}])
    assert "shipped on Monday" in answered.choices[0].message.content
