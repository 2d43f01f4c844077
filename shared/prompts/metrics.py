"""Assertions on answers for prompt evaluation, and the reference-based metrics it reports
(``rouge_l``, ``token_f1``, ``exact_match``: the same functions as the retraining gate's)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.retraining.contract.metrics import exact_match, rouge_l, token_f1

__all__ = ["Assertion", "exact_match", "rouge_l", "schema_problem", "token_f1"]


class _Assertion(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contains(_Assertion):
    type: Literal["contains"]
    value: str
    case_sensitive: bool = False

    def check(self, text: str) -> bool:
        return self.value in text if self.case_sensitive else self.value.lower() in text.lower()


class NotContains(Contains):
    type: Literal["not_contains"]  # type: ignore[assignment]

    def check(self, text: str) -> bool:
        return not super().check(text)


class Regex(_Assertion):
    type: Literal["regex"]
    pattern: str

    def check(self, text: str) -> bool:
        return re.search(self.pattern, text) is not None


class MaxChars(_Assertion):
    type: Literal["max_chars"]
    value: int = Field(gt=0)

    def check(self, text: str) -> bool:
        return len(text) <= self.value


class JsonValid(_Assertion):
    type: Literal["json"]

    def check(self, text: str) -> bool:
        try:
            json.loads(text)
        except ValueError:
            return False
        return True


Assertion = Annotated[Contains | NotContains | Regex | MaxChars | JsonValid, Field(discriminator="type")]


def schema_problem(text: str, schema: dict[str, Any]) -> str | None:
    """Why ``text`` is not JSON matching ``schema``, or None when it is."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    import jsonschema  # the CLI's extra; not on the request path

    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        return f"schema: {exc.message}"
    return None
