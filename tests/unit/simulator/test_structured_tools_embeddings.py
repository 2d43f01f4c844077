"""The simulator as a faithful stand-in: schema-valid structured answers, tools called when they fit,
tool calls streamed in pieces, embeddings whose similarity follows the wording, answers from context."""

from __future__ import annotations

import json
import random
from enum import StrEnum

import jsonschema
import pytest
from pydantic import BaseModel, Field

from llmops.simulator import generator, grounded, tools
from llmops.simulator.embeddings import embedding
from llmops.simulator.structured import Hints, value_for_schema


class Priority(StrEnum):
    low = "low"
    high = "high"


class LineItem(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]{3}-\d{4}$")
    quantity: int = Field(ge=1, le=5)
    price: float = Field(gt=0, lt=1000)


class Ticket(BaseModel):
    title: str = Field(min_length=5, max_length=40)
    priority: Priority
    tags: list[str] = Field(min_length=2, max_length=4)
    items: list[LineItem]
    customer_email: str | None = None
    due: str = Field(json_schema_extra={"format": "date"})
    escalate: bool


HINTS = Hints(("laptop", "battery", "refund"), "The battery lasts twelve hours.", ("4521",))

SCHEMAS = [
    Ticket.model_json_schema(),
    {"type": "object", "properties": {"answer": {"type": "string"}, "confidence": {"type": "number",
     "minimum": 0, "maximum": 1}}, "required": ["answer", "confidence"], "additionalProperties": False},
    {"type": "array", "items": {"type": "integer", "multipleOf": 5, "minimum": 3, "maximum": 40},
     "minItems": 2, "uniqueItems": True},
    {"$defs": {"node": {"type": "object", "properties": {"name": {"type": "string"},
     "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 1}}, "required": ["name"]}},
     "$ref": "#/$defs/node"},
    {"type": ["string", "null"], "format": "email"},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}},
     "required": ["id"]}]},
    {"allOf": [{"type": "object", "properties": {"a": {"const": 1}}, "required": ["a"]},
               {"properties": {"b": {"enum": ["x", "y"]}}, "required": ["b"]}]},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"},
     "site": {"type": "string", "format": "uri"}}, "required": ["when", "site"], "minProperties": 2},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_values_validate_against_their_schema(schema: dict) -> None:
    for seed in range(25):
        value = value_for_schema(schema, HINTS, random.Random(seed))
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())


def test_pydantic_model_parses_the_simulated_json_schema_answer() -> None:
    schema = Ticket.model_json_schema()
    result = generator.complete({
        "messages": [{"role": "user", "content": "Open a high priority ticket: laptop battery died, refund?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Ticket", "schema": schema,
                                                                   "strict": False}}})
    ticket = Ticket.model_validate_json(result["message"]["content"])
    assert ticket.priority is Priority.high  # an enum value the request names is the one chosen
    again = generator.complete({
        "messages": [{"role": "user", "content": "Open a high priority ticket: laptop battery died, refund?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Ticket", "schema": schema}}})
    assert again["message"]["content"] == result["message"]["content"]  # deterministic


WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"], "additionalProperties": False}}}
ORDER = {"type": "function", "function": {"name": "lookup_order", "description": "Find the shipping status of an "
         "order by its number", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"},
         "include_items": {"type": "boolean"}}, "required": ["order_id"]}}}


def test_auto_calls_the_tool_that_fits_and_only_then() -> None:
    asked = {"messages": [{"role": "user", "content": "Where is my order 4521? It has not shipped."}],
             "tools": [WEATHER, ORDER], "tool_choice": "auto"}
    call = generator.complete(asked)["message"]["tool_calls"][0]
    assert call["function"]["name"] == "lookup_order"
    arguments = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, ORDER["function"]["parameters"])
    assert arguments["order_id"] == "4521"  # the id the user gave
    weather = generator.complete({**asked, "messages": [{"role": "user", "content": "Is it raining? Weather in "
                                                                                   "Paris please"}]})
    assert weather["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    chat = generator.complete({**asked, "messages": [{"role": "user", "content": "Thanks, that is all!"}]})
    assert chat["finish_reason"] == "stop" and chat["message"]["content"]
    answered = generator.complete({**asked, "messages": [
        *asked["messages"], {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "Order 4521 left the warehouse on Monday."}]})
    assert answered["finish_reason"] == "stop"
    assert "warehouse on Monday" in answered["message"]["content"]  # the answer uses the tool's result
    assert generator.complete({**asked, "tool_choice": "none"})["finish_reason"] == "stop"
    required = generator.complete({**asked, "tool_choice": "required", "messages": [
        {"role": "user", "content": "hello"}]})
    assert required["finish_reason"] == "tool_calls"


def test_tool_calls_stream_as_a_header_then_argument_pieces() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup_order",
                                                             "arguments": json.dumps({"order_id": "4521" * 10})}}
    deltas = tools.stream_deltas(call)
    assert deltas[0]["tool_calls"][0]["id"] == "call_1" and deltas[0]["tool_calls"][0]["function"]["arguments"] == ""
    assert len(deltas) > 3
    joined = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas)
    assert json.loads(joined) == {"order_id": "4521" * 10}


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embedding_similarity_follows_shared_wording() -> None:
    base = embedding("How do I reset my password?", 256)
    paraphrase = embedding("how can I reset the password", 256)
    related = embedding("password requirements for new accounts", 256)
    unrelated = embedding("stock prices fell sharply in March", 256)
    assert _cos(base, base) == pytest.approx(1.0)
    assert _cos(base, paraphrase) > _cos(base, related) > _cos(base, unrelated)
    assert _cos(base, paraphrase) > 0.7 and abs(_cos(base, unrelated)) < 0.2
    assert embedding("a cat", 64) == embedding("a cat", 64) != embedding("stock prices", 64)


def test_answers_come_from_supplied_documents_with_markers() -> None:
    messages = [{"role": "system", "content": "Answer from the sources.\n<document id=\"1\">The CX-200 costs 199 USD. "
                 "It weighs 1.2 kg.</document>\n<document id=\"2\">Returns are accepted within 30 days.</document>"},
                {"role": "user", "content": "How much does the CX-200 cost?"}]
    answer = generator.complete({"messages": messages})["message"]["content"]
    assert answer == "The CX-200 costs 199 USD. It weighs 1.2 kg. [1]"  # the best document, whole
    wrong = generator.complete({"messages": messages}, hallucinate=True)["message"]["content"]
    assert "199" not in wrong and "[1]" in wrong
    assert grounded.grounded_answer([{"role": "user", "content": "hi"}], "hi") is None
