"""Reference-based answer quality and assertions for prompt evaluation (no model needed).

- ``rouge_l``: F1 of the longest common subsequence of tokens (ROUGE-L, Lin 2004);
- ``token_f1``: SQuAD-style bag-of-tokens F1;
- ``exact_match``: equal after normalisation (case, punctuation, articles, whitespace).
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def tokens(text: str) -> list[str]:
    return normalise(text).split()


def exact_match(prediction: str, reference: str) -> float:
    return float(normalise(prediction) == normalise(reference))


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    previous = [0] * (len(ref) + 1)
    for p in pred:
        current = [0]
        for j, r in enumerate(ref):
            current.append(previous[j] + 1 if p == r else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


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
