"""Validating tenant/app policy sections, once per stored policy (not once per request).

Each feature owns a pydantic model for its section (``extra="forbid"``: an unknown key is an error
that names it). ``validate_section`` is what ``llmops tenants set-policy`` runs before it stores a
section, so bad values are rejected when they are written; ``SectionCache`` parses a stored section
on the hot path and reuses the result for as long as the tenant directory serves the same dict.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# section name -> "module:Model"; features add theirs here. A section not listed is unknown (rejected).
SECTION_MODELS: dict[str, str] = {
    "routing": "shared.routing.policy:RoutingPolicy",
    "limits": "shared.limits.policy:LimitsPolicy",
    "optimisation": "shared.optimisation:OptimisationPolicy",
    "cache": "shared.cache.policy:CachePolicy",
    "feedback": "shared.feedback.policy:FeedbackPolicy",
    "guardrails": "shared.guardrails.policy:AppGuardrails",
    "memory": "shared.gateway.orchestration:MemoryPolicy",
    "models": "shared.model_catalog.shaping:ModelsPolicy",
}


class PolicyError(ValueError):
    """A tenant/app policy section is invalid; the message names the section and the field."""


def validation_message(section: str, exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "(section)"
    if first.get("type") == "extra_forbidden":
        return f"policy section '{section}': unknown setting '{where}'"
    return f"policy section '{section}': {where}: {first['msg']}"


def parse_section(model: type[M], section: str, raw: Any) -> M:
    """Validate one section (``None`` or missing means every default)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"policy section '{section}' must be a JSON object, not {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(validation_message(section, exc)) from None


def validate_section(section: str, raw: Any) -> BaseModel:
    """The section parsed; ``PolicyError`` naming the problem when it is invalid or no feature reads it."""
    target = SECTION_MODELS.get(section)
    if target is None:
        raise PolicyError(f"unknown policy section {section!r} (sections: {', '.join(sorted(SECTION_MODELS))})")
    module, _, name = target.partition(":")
    if section == "guardrails" and isinstance(raw, str):  # the short form: just the policy's name
        raw = {"policy": raw}
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return parse_section(model, section, raw)


class SectionCache:
    """Parsed sections by the identity of the stored dict (the tenant directory caches those dicts)."""

    def __init__(self, model: type[M], section: str, max_entries: int = 10_000,
                 parse: Callable[[Any], M] | None = None) -> None:
        self._model = model
        self._section = section
        self._max = max_entries
        self._parse = parse  # the section's own parser (default: ``parse_section``)
        self._parsed: dict[int, tuple[Any, Any]] = {}
        self.default = model()

    def get(self, raw: Any) -> Any:
        if raw is None:
            return self.default
        hit = self._parsed.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        parsed = self._parse(raw) if self._parse is not None else parse_section(self._model, self._section, raw)
        if len(self._parsed) >= self._max:
            self._parsed.clear()
        self._parsed[id(raw)] = (raw, parsed)  # keeping ``raw`` alive keeps its id from being reused
        return parsed
