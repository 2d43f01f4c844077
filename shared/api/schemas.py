"""OpenAI Chat Completions request schema, validated at the edge.

Validation catches what would otherwise fail deep inside (wrong types, empty messages, n > 1)
and names the offending parameter. Fields the gateway does not interpret (``seed``,
``logit_bias``, ``tools``, ...) are kept and forwarded unchanged. Gateway extension fields
(``prompt``, ``context``) are documented in the README and never forwarded to the model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator
from pydantic_core import ErrorDetails

from shared.api.errors import ApiError

# Request fields that belong to the gateway, not to the model API.
GATEWAY_EXTENSION_FIELDS: frozenset[str] = frozenset({"prompt", "context", "grounding", "conversation_id"})
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: StrictStr


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"]
    image_url: dict[str, Any]


class OtherPart(BaseModel):
    """Audio, file and refusal parts: checked for shape only and passed through."""

    model_config = ConfigDict(extra="allow")
    type: Literal["input_audio", "file", "refusal"]


ContentPart = Annotated[TextPart | ImagePart | OtherPart, Field(discriminator="type")]


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[ContentPart] | None = None
    name: StrictStr | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: StrictStr | None = None

    @field_validator("content")
    @classmethod
    def _parts_not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("content parts must not be empty")
        return value


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool = False


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text", "json_object", "json_schema"]


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    messages: list[Message] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)
    stop: StrictStr | list[StrictStr] | None = None
    user: StrictStr | None = None
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    @property
    def output_token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def wants_usage_in_stream(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def _param_of(error: ErrorDetails) -> str:
    """``('messages', 0, 'content')`` -> ``messages[0].content``; drops pydantic's union tags."""
    out = ""
    for part in error.get("loc", ()):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[tagged-union[TextPart,ImagePart,OtherPart]]") or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


# Deepest nesting of objects and arrays a request body may have: well above any real request (JSON
# schemas of tools and structured outputs included), far below where serialising the request's record
# (depth ~250) or a validator's recursion (~960) would fail.
MAX_JSON_DEPTH = 64


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects/arrays deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def decode_json_object(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """Parse a JSON request body that must be an object, nested at most ``max_depth`` deep."""
    if not raw:
        raise ApiError.bad_request("The request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError.bad_request(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError.bad_request("The request body must be a JSON object.", code="invalid_json")
    # fewer brackets than the limit cannot nest past it: the walk is only for the rare deep candidate
    if raw.count(b"{") + raw.count(b"[") > max_depth and json_depth_exceeds(body, max_depth):
        raise ApiError.bad_request(f"The request body nests objects or arrays deeper than the limit of {max_depth}.",
                                   code="json_too_deep")
    return body


def parse_chat_request(body: dict[str, Any], *, max_messages: int) -> ChatCompletionRequest:
    """Validate a decoded body; raise ``ApiError`` (400) naming the first bad parameter."""
    try:
        request = ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = _param_of(first)
        if first.get("type") == "missing":
            message, code = f"Missing required parameter: '{param}'.", "missing"
        else:
            message, code = f"Invalid value for '{param}': {first.get('msg', 'invalid')}.", "invalid_value"
        raise ApiError.bad_request(message, param=param or None, code=code) from None
    if "messages" not in body and "prompt" not in body:
        raise ApiError.bad_request("Missing required parameter: 'messages'.", param="messages", code="missing")
    if not request.messages and "prompt" not in body:
        raise ApiError.bad_request(
            "'messages' must contain at least one message.", param="messages", code="empty_array"
        )
    if len(request.messages) > max_messages:
        raise ApiError.bad_request(
            f"Too many messages: {len(request.messages)} (limit {max_messages}).",
            param="messages",
            code="too_many_messages",
        )
    if request.n is not None and request.n > 1:
        raise ApiError.bad_request("Only n=1 is supported by this gateway.", param="n", code="unsupported_value")
    return request


def backend_params(body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The request as the model API should see it: gateway fields removed, messages as resolved."""
    params = {k: v for k, v in body.items() if k not in GATEWAY_EXTENSION_FIELDS and k != "model"}
    params["messages"] = messages
    return params
