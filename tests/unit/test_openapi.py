"""The contract document: OpenAPI 3.1 for every route the app serves, checked in as generated."""

from __future__ import annotations

import orjson

import function_app  # noqa: F401 - registers every blueprint
from functions.openapi import CHECKED_IN, document_bytes
from functions.unrouted import served_routes
from shared.api.openapi import OPERATIONS


def test_the_checked_in_document_is_the_generated_one() -> None:
    assert CHECKED_IN.read_bytes() == document_bytes(), "regenerate it: python scripts/write_openapi.py"


def test_every_served_route_and_method_is_documented() -> None:
    document = orjson.loads(document_bytes())
    assert document["openapi"] == "3.1.0"
    for route, methods in served_routes():
        for method in methods:
            operation = document["paths"][f"/{route.strip('/')}"][method.lower()]
            assert (route.strip("/"), method) in OPERATIONS, f"describe {method} /api/{route} in OPERATIONS"
            errors = [s for s in operation["responses"] if s.startswith(("4", "5"))]
            assert errors and all(operation["responses"][s]["content"]["application/json"]["schema"]
                                  == {"$ref": "#/components/schemas/Error"} for s in errors)


def test_request_bodies_are_the_validating_models() -> None:
    document = orjson.loads(document_bytes())
    chat = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert chat["schema"] == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    schema = document["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(schema["properties"])
