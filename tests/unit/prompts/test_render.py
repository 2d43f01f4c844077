"""Rendering: defaults, type checks, every missing/unknown/mistyped variable named at once."""

from __future__ import annotations

import math

import pytest

from shared.prompts.files import parse_prompt_text
from shared.prompts.render import PromptVariablesError, render

SPEC = parse_prompt_text(
    """\
name: typed
template:
  - role: system
    content: "Lang {{ lang }}; at most {{ n }} items; ratio {{ ratio }}; formal {{ formal }}"
  - role: user
    content: "{{ q }} {{q}}"
variables:
  q: {type: string, max_length: 10}
  n: {type: integer, default: 3}
  ratio: {type: number, default: 0.5}
  formal: {type: boolean, default: false}
  lang: {type: enum, values: [en, fr], default: en}
model: {deployment: small, temperature: 0, max_tokens: 50}
output_schema: {type: object}
""",
    "typed.yaml",
).spec


def test_render_fills_defaults_and_params() -> None:
    rendered = render(SPEC, {"q": "hi", "formal": True})
    assert rendered.messages == [
        {"role": "system", "content": "Lang en; at most 3 items; ratio 0.5; formal true"},
        {"role": "user", "content": "hi hi"},
    ]
    assert rendered.params["model"] == "small" and rendered.params["max_tokens"] == 50
    assert rendered.params["response_format"]["type"] == "json_schema"
    assert rendered.params["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_values_are_not_reinterpreted_as_templates() -> None:
    rendered = render(SPEC, {"q": "{{ n }}"})
    assert rendered.messages[1]["content"] == "{{ n }} {{ n }}"


def test_all_problems_reported_together() -> None:
    with pytest.raises(PromptVariablesError) as info:
        render(SPEC, {"n": "3", "ratio": True, "lang": "de", "extra": 1})
    err = info.value
    assert err.missing == ["q"] and err.unknown == ["extra"]
    assert set(err.invalid) == {"n", "ratio", "lang"}
    text = str(err)
    assert "missing variables: q" in text and "'n' must be an integer, got string" in text
    assert "'lang' must be one of" in text


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("q", {"a": 1}, "must be a string, got object"),
        ("q", ["x"], "must be a string, got array"),
        ("q", None, "must be a string, got null"),
        ("q", "x" * 11, "longer than 10"),
        ("n", 2.5, "must be an integer, got number"),
        ("n", True, "must be an integer, got boolean"),
        ("ratio", math.inf, "finite"),
        ("formal", "yes", "must be a boolean"),
    ],
)
def test_odd_types(name: str, value: object, reason: str) -> None:
    variables = {"q": "ok", name: value}
    with pytest.raises(PromptVariablesError) as info:
        render(SPEC, variables)
    assert reason in info.value.invalid[name]
