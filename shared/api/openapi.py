"""The HTTP contract as an OpenAPI 3.1 document, built from the routes the platform serves.

``openapi_document(routes)`` takes the (route template, methods) of every HTTP function (the same
list the 404/405 table is built from) and describes each operation: its request body from the
pydantic model that validates it (JSON Schema 2020-12, which OpenAPI 3.1 uses as is), its success
status, and every error in the OpenAI shape (``Error``). A route missing from ``OPERATIONS`` (one a
later change adds) is still documented, as a JSON operation with the error shape, so the document
always covers every route; the checked-in ``openapi.json`` is compared with the generated one by a
test, which makes a new route show up in review.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.api.schemas import MAX_JSON_DEPTH

TITLE = "LLMOps gateway"
VERSION = "1"
_PARAMETER = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    body: str | None = None  # "module:Model" of the request body, or "object" for any JSON object
    status: int = 200
    auth: bool = True
    stream: bool = False  # may answer text/event-stream (``"stream": true``)


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("v1/chat/completions", "POST"): Operation(
        "Create a chat completion (OpenAI API)", "chat", "shared.api.schemas:ChatCompletionRequest", stream=True),
    ("openai/deployments/{deployment}/chat/completions", "POST"): Operation(
        "Create a chat completion (Azure OpenAI route shape; the deployment is the model alias)", "chat",
        "shared.api.schemas:ChatCompletionRequest", stream=True),
    ("v1/embeddings", "POST"): Operation("Create embeddings", "embeddings",
                                         "shared.gateway.embeddings:EmbeddingsRequest"),
    ("openai/deployments/{deployment}/embeddings", "POST"): Operation(
        "Create embeddings (Azure OpenAI route shape)", "embeddings", "shared.gateway.embeddings:EmbeddingsRequest"),
    ("v1/responses", "POST"): Operation("Create a response (Responses API)", "responses",
                                        "shared.responses.translate:ResponsesRequest", stream=True),
    ("openai/responses", "POST"): Operation("Create a response (Azure OpenAI route shape)", "responses",
                                            "shared.responses.translate:ResponsesRequest", stream=True),
    ("v1/responses/{response_id}", "GET"): Operation("Retrieve a stored response", "responses"),
    ("v1/responses/{response_id}", "DELETE"): Operation("Delete a stored response", "responses"),
    ("v1/models", "GET"): Operation("List the models (deployment aliases) a key may call", "models"),
    ("v1/models/{model_id}", "GET"): Operation("Retrieve a model", "models"),
    ("v1/conversations", "POST"): Operation("Create a conversation (server-side memory)", "conversations",
                                            "object", status=201),
    ("v1/conversations/{conversation_id}", "GET"): Operation("Retrieve a conversation", "conversations"),
    ("v1/conversations/{conversation_id}", "DELETE"): Operation("Delete a conversation", "conversations"),
    ("v1/feedback", "POST"): Operation("Rate or correct an answer", "feedback", "shared.feedback.capture:FeedbackIn",
                                       status=202),
    ("v1/events", "POST"): Operation("Record a business event tied to a request or conversation", "events",
                                     "shared.business.events:BusinessEventIn", status=202),
    ("health", "GET"): Operation("Liveness (?probe=live) and readiness of the store and backends", "operations",
                                 auth=False),
    ("openapi.json", "GET"): Operation("This document", "operations", auth=False),
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}},
    }},
}
_ERRORS = {"400": f"Invalid request (JSON nested deeper than {MAX_JSON_DEPTH} is refused: json_too_deep)",
           "401": "Missing or invalid API key", "403": "Key not allowed here", "404": "Unknown resource or model",
           "408": "The request body was not received in time", "413": "Request body too large",
           "422": "Refused by a guardrail or an unprocessable value", "429": "Rate limit or budget exceeded",
           "502": "The model backend failed", "503": "No healthy deployment", "504": "The model backend timed out"}


def _model(dotted: str) -> type[BaseModel]:
    module, name = dotted.split(":")
    model = getattr(importlib.import_module(module), name)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _operation_id(template: str, method: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", _PARAMETER.sub(r"by_\1", template))
    return "_".join([method.lower(), *words])


def _operation(template: str, method: str, op: Operation) -> dict[str, Any]:
    errors = {status: {"description": text, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for status, text in _ERRORS.items()}
    if not op.auth:
        errors = {s: e for s, e in errors.items() if s in ("404", "503")}
    success: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if op.stream:
        success["text/event-stream"] = {"schema": {"type": "string"}}
    out: dict[str, Any] = {
        "operationId": _operation_id(template, method),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {str(op.status): {"description": "Success", "content": success}, **errors},
    }
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAMETER.findall(template)]
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        schema = ({"$ref": f"#/components/schemas/{op.body.split(':')[1]}"} if ":" in op.body
                  else {"type": "object"})
        out["requestBody"] = {"required": op.body != "object", "content": {"application/json": {"schema": schema}}}
    if not op.auth:
        out["security"] = []
    return out


def openapi_document(routes: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (Functions route templates, relative to ``/api``)."""
    served = {(template.strip("/"), method.upper()) for template, methods in routes for method in methods}
    served |= {("openapi.json", "GET")}
    models = sorted({op.body for key, op in OPERATIONS.items() if key in served and op.body and ":" in op.body})
    _, defs = models_json_schema([(_model(m), "validation") for m in models],
                                 ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = {**defs.get("$defs", {}), "Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for template, method in sorted(served):
        op = OPERATIONS.get((template, method)) or Operation(f"{method} /api/{template}", "other",
                                                              "object" if method in ("POST", "PUT", "PATCH") else None)
        paths.setdefault(f"/{template}", {})[method.lower()] = _operation(template, method, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION,
                 "description": "OpenAI-compatible gateway. Every error has the OpenAI shape (Error)."},
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "api-key"}},
        },
    }
