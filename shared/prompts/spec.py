"""What a prompt file holds, validated: name, message templates with ``{{ variables }}``, declared
variables with types, model parameters, and optionally a guardrail policy and an output schema.

A version is the SHA-256 of the canonical JSON of a validated spec, so reformatting a file or
editing a comment creates no version, and the same content always has the same version.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
LABEL_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
# ``{{ name }}``; anything else in braces is literal text.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
VERSION_HASH_LENGTH = 12

VariableType = Literal["string", "integer", "number", "boolean", "enum"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariableSpec(_Strict):
    type: VariableType = "string"
    description: str = ""
    required: bool | None = None  # default: required unless a default is given
    default: str | int | float | bool | None = None
    values: list[str | int | float] | None = None  # for enum
    max_length: int | None = Field(default=None, gt=0)  # for string

    @model_validator(mode="after")
    def _consistent(self) -> VariableSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum variable needs 'values'")
        if self.type != "enum" and self.values is not None:
            raise ValueError("'values' is only for enum variables")
        if self.max_length is not None and self.type != "string":
            raise ValueError("'max_length' is only for string variables")
        return self

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.default is None


class MessageTemplate(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str = Field(min_length=1)


class ModelParameters(_Strict):
    """Defaults for the chat call; a field the client sets explicitly in its request wins."""

    deployment: str | None = Field(default=None, min_length=1)  # gateway model alias
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)

    def request_params(self) -> dict[str, Any]:
        params = self.model_dump(exclude_none=True, exclude={"deployment"})
        if self.deployment:
            params["model"] = self.deployment
        return params


class PromptSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    template: list[MessageTemplate] = Field(min_length=1)
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    model: ModelParameters = Field(default_factory=ModelParameters)
    # The guardrail policy section for requests rendered from this prompt (as an app's ``guardrails``
    # section: a policy name, or {"policy": name, "topics": {...}}); it takes the app's place.
    guardrails: str | dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None  # JSON schema; sent as response_format json_schema
    # Grounding for requests from this prompt: {"source": name or [names], "top_k": n} (shared/grounding);
    # a request's own ``grounding`` field wins.
    grounding: dict[str, Any] | None = None

    @field_validator("template", mode="before")
    @classmethod
    def _string_is_one_user_message(cls, value: Any) -> Any:
        return [{"role": "user", "content": value}] if isinstance(value, str) else value

    @field_validator("grounding")
    @classmethod
    def _grounding_spec(cls, value: Any) -> Any:
        if value is not None:
            from shared.gateway.orchestration import GroundingSpec

            GroundingSpec.model_validate(value)
        return value

    @field_validator("guardrails")
    @classmethod
    def _guardrails_section(cls, value: Any) -> Any:
        if value is not None:
            from shared.guardrails.policy import AppGuardrails, PolicyError

            try:
                AppGuardrails.parse(value)
            except PolicyError as exc:
                raise ValueError(str(exc).replace("in the app policy", "")) from None
        return value

    @field_validator("variables", mode="before")
    @classmethod
    def _shorthand_types(cls, value: Any) -> Any:
        # ``question: string`` is short for ``question: {type: string}``
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else ({} if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _placeholders_are_declared(self) -> PromptSpec:
        for name in self.variables:
            if not re.match(VARIABLE_PATTERN, name):
                raise ValueError(f"invalid variable name {name!r}")
        used = self.placeholders()
        undeclared = sorted(used - set(self.variables))
        if undeclared:
            raise ValueError(f"template uses undeclared variables: {', '.join(undeclared)}")
        return self

    def placeholders(self) -> set[str]:
        return {m.group(1) for message in self.template for m in PLACEHOLDER.finditer(message.content)}

    def canonical_json(self) -> str:
        # fields added later are left out while unset, so existing prompts keep their version hashes
        unset_later = {"grounding"} if self.grounding is None else set()
        return json.dumps(self.model_dump(mode="json", exclude=unset_later), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)

    def version_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:VERSION_HASH_LENGTH]


def parse_reference(ref: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME@SELECTOR`` (a label, a version hash or prefix, or ``v<number>``)."""
    name, _, selector = ref.partition("@")
    if not re.match(NAME_PATTERN, name):
        raise ValueError(f"invalid prompt name {name!r}")
    return name, (selector or None)
