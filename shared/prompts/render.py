"""Fill a prompt version's templates with the caller's variables.

Values are checked against the declared types before anything is rendered; every missing,
unknown or mistyped variable is reported at once (the gateway turns that into one 400).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from shared.prompts.spec import PLACEHOLDER, PromptSpec, VariableSpec


class PromptVariablesError(ValueError):
    """The variables do not fit the prompt: ``missing``, ``unknown`` and ``invalid`` (name -> reason)."""

    def __init__(self, prompt: str, *, missing: list[str], unknown: list[str], invalid: dict[str, str]) -> None:
        self.prompt, self.missing, self.unknown, self.invalid = prompt, missing, unknown, invalid
        parts = []
        if missing:
            parts.append(f"missing variables: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown variables: {', '.join(unknown)}")
        parts.extend(f"variable {name!r} {reason}" for name, reason in invalid.items())
        super().__init__(f"prompt {prompt!r}: " + "; ".join(parts))


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    messages: list[dict[str, Any]]
    params: dict[str, Any]  # request defaults from the prompt's model section (and output schema)
    guardrails: str | dict[str, Any] | None = None
    variables: dict[str, Any] = field(default_factory=dict)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _check(name: str, spec: VariableSpec, value: Any) -> str | None:
    """The reason ``value`` does not fit ``spec``, or None."""
    kind = spec.type
    if kind == "string":
        if not isinstance(value, str):
            return f"must be a string, got {_json_type(value)}"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"is longer than {spec.max_length} characters"
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {_json_type(value)}"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {_json_type(value)}"
        if not math.isfinite(value):
            return "must be a finite number"
    elif kind == "boolean":
        if not isinstance(value, bool):
            return f"must be a boolean, got {_json_type(value)}"
    elif kind == "enum":
        if isinstance(value, bool) or value not in (spec.values or []):
            allowed = ", ".join(json.dumps(v) for v in spec.values or [])
            return f"must be one of {allowed}"
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_variables(spec: PromptSpec, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The complete variable values (defaults filled in), or ``PromptVariablesError``."""
    given = dict(variables or {})
    missing = sorted(n for n, v in spec.variables.items() if v.is_required and n not in given)
    unknown = sorted(n for n in given if n not in spec.variables)
    invalid = {}
    for name, value in given.items():
        if name in spec.variables and (reason := _check(name, spec.variables[name], value)):
            invalid[name] = reason
    if missing or unknown or invalid:
        raise PromptVariablesError(spec.name, missing=missing, unknown=unknown, invalid=invalid)
    values = {n: v.default for n, v in spec.variables.items() if v.default is not None}
    values.update(given)
    return values


def render(spec: PromptSpec, variables: dict[str, Any] | None) -> RenderedPrompt:
    values = check_variables(spec, variables)

    def fill(match: Any) -> str:
        return _text(values.get(match.group(1), ""))

    messages = [{"role": m.role, "content": PLACEHOLDER.sub(fill, m.content)} for m in spec.template]
    params = spec.model.request_params()
    if spec.output_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": spec.name.replace(".", "_"), "schema": spec.output_schema, "strict": True},
        }
    if spec.grounding is not None:
        params["grounding"] = spec.grounding
    return RenderedPrompt(messages=messages, params=params, guardrails=spec.guardrails, variables=values)
