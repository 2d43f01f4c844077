"""LangChain's ChatOpenAI against the gateway, unchanged but for its base URL: structured output over chat
completions and over the Responses API, tool binding, and plain streaming."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from tests.support.stack import Stack

pytestmark = pytest.mark.integration


class Customer(BaseModel):
    """A customer as the CRM card shows it."""

    name: str
    loyalty_tier: str = Field(description="bronze, silver or gold")
    open_orders: list[str]
    lifetime_value_usd: float = Field(ge=0)


def chat(stack: Stack, **options: object) -> ChatOpenAI:
    return ChatOpenAI(model="gpt-4o-mini", base_url=stack.gateway_url + "/api/v1", api_key=stack.key,
                      max_retries=0, **options)  # type: ignore[arg-type]


def test_with_structured_output_over_chat_completions(stack: Stack) -> None:
    card = chat(stack).with_structured_output(Customer, method="json_schema", strict=True).invoke(
        "Show the customer card of Dana Ortiz as JSON")
    assert isinstance(card, Customer) and card.name and card.lifetime_value_usd >= 0


def test_with_structured_output_over_the_responses_api(stack: Stack) -> None:
    model = chat(stack, use_responses_api=True)
    reply = model.invoke("How do I reset my password?")
    assert isinstance(reply, AIMessage) and reply.text.strip()
    assert reply.response_metadata.get("id", "").startswith("resp")
    card = model.with_structured_output(Customer, method="json_schema").invoke("Dana Ortiz's customer card as JSON")
    assert isinstance(card, Customer) and isinstance(card.open_orders, list)


def lookup_order(order_id: str) -> str:
    """Shipping status of an order by its number."""
    return f"Order {order_id} shipped on Monday by DHL."


@pytest.mark.parametrize("responses_api", [False, True])
def test_bound_tool_is_called_and_its_result_answered(stack: Stack, responses_api: bool) -> None:
    model = chat(stack, use_responses_api=responses_api).bind_tools([lookup_order])
    question = HumanMessage("Has order 7731 shipped yet?")
    called = model.invoke([question])
    assert called.tool_calls and called.tool_calls[0]["name"] == "lookup_order"
    assert called.tool_calls[0]["args"] == {"order_id": "7731"}
    result = ToolMessage(lookup_order(**called.tool_calls[0]["args"]), tool_call_id=called.tool_calls[0]["id"])
    answered = model.invoke([question, called, result])
    assert "shipped on Monday" in answered.text


def test_streaming_yields_the_answer_in_chunks(stack: Stack) -> None:
    chunks = list(chat(stack).stream("Tell me about returns"))
    assert len(chunks) > 1 and "".join(chunk.text for chunk in chunks).strip()
