"""Prompt files: parsing, validation, line numbers in errors, all-or-nothing directory loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.prompts.files import PromptFileError, load_prompt_dir, parse_prompt_text

GOOD = """\
name: greet
template:
  - role: system
    content: You greet people from {{ city }}.
  - role: user
    content: "Say hello to {{ person }}"
variables:
  city: {type: string, default: Paris}
  person: string
model:
  temperature: 0
  max_tokens: 20
"""


def problems(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(PromptFileError) as info:
        parse_prompt_text(text, "p.yaml")
    return [(p.line, p.message) for p in info.value.problems]


def test_valid_file_parses_and_hashes_content_not_formatting() -> None:
    spec = parse_prompt_text(GOOD, "p.yaml").spec
    assert spec.name == "greet" and spec.placeholders() == {"city", "person"}
    reformatted = "# a comment\n" + GOOD.replace(
        "{type: string, default: Paris}", "\n    type: string\n    default: Paris"
    )
    assert parse_prompt_text(reformatted, "q.yaml").spec.version_hash() == spec.version_hash()
    changed = GOOD.replace("max_tokens: 20", "max_tokens: 21")
    assert parse_prompt_text(changed, "r.yaml").spec.version_hash() != spec.version_hash()


def test_string_template_is_one_user_message() -> None:
    spec = parse_prompt_text("name: x\ntemplate: 'Hi {{ who }}'\nvariables: {who: string}\n", "p.yaml").spec
    assert [m.role for m in spec.template] == ["user"]


def test_unknown_field_names_file_and_line() -> None:
    text = GOOD.replace("  max_tokens: 20\n", "  max_tokens: 20\n  temprature: 1\n")
    [(line, message)] = problems(text)
    assert line == 13 and "unknown field 'model.temprature'" in message


def test_unknown_top_level_field() -> None:
    [(line, message)] = problems(GOOD + "owner: me\n")
    assert line == 13 and "owner" in message


def test_yaml_syntax_error_names_line() -> None:
    [(line, message)] = problems("name: x\ntemplate: [unclosed\nvariables: {}\n")
    assert line is not None and line >= 2 and message.startswith("YAML syntax error")


def test_duplicate_keys_are_refused() -> None:
    [(line, message)] = problems("name: a\nname: b\ntemplate: hi\n")
    assert line == 2 and "duplicate key 'name'" in message


def test_undeclared_placeholder_and_bad_values() -> None:
    [(_, message)] = problems("name: x\ntemplate: 'Hi {{ who }}'\n")
    assert "undeclared variables: who" in message
    found = problems("name: Bad Name\ntemplate: hi\nmodel: {temperature: 5}\n")
    assert {m.split(":")[0] for _, m in found} == {"name", "model.temperature"}
    [(_, message)] = problems("name: x\ntemplate: hi\nvariables: {tone: {type: enum}}\n")
    assert "enum variable needs 'values'" in message


def test_not_a_mapping() -> None:
    [(line, message)] = problems("- just\n- a list\n")
    assert line == 1 and "mapping" in message


def test_directory_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("name: b\ntemplate: hi\nextra: 1\n")
    (tmp_path / "c.yaml").write_text(GOOD)  # same name as a.yaml
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.raises(PromptFileError) as info:
        load_prompt_dir(tmp_path)
    text = str(info.value)
    assert "b.yaml:3: unknown field 'extra'" in text
    assert "c.yaml" in text and "already used by" in text
    (tmp_path / "b.yaml").unlink()
    (tmp_path / "c.yaml").unlink()
    assert [f.spec.name for f in load_prompt_dir(tmp_path)] == ["greet"]


def test_repository_prompt_files_are_valid() -> None:
    root = Path(__file__).resolve().parents[3] / "prompts"
    assert {f.spec.name for f in load_prompt_dir(root)} >= {"support-answer", "ticket-triage"}


def test_guardrails_section_is_checked() -> None:
    ok = parse_prompt_text("name: x\ntemplate: hi\nguardrails: {policy: crm-support, topics: {blocked: [law]}}\n", "p")
    assert ok.spec.guardrails == {"policy": "crm-support", "topics": {"blocked": ["law"]}}
    assert parse_prompt_text("name: x\ntemplate: hi\nguardrails: crm-support\n", "p").spec.guardrails == "crm-support"
    [(line, message)] = problems("name: x\ntemplate: hi\nguardrails: {blocked_topics: [law]}\n")
    assert line == 3 and "bad guardrails section" in message
