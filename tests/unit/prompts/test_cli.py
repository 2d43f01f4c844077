"""``llmops prompts`` end to end on a SQLite store in a temporary data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops.cli import main
from shared.config import reset_settings_cache

PROMPT = """\
name: faq
template:
  - role: system
    content: "{system}"
  - role: user
    content: "{{{{ question }}}}"
variables:
  question: string
model: {{temperature: 0}}
"""


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLMOPS_STORE", "sqlite")
    monkeypatch.setenv("LLMOPS_ACTOR", "tester")
    monkeypatch.delenv("CI", raising=False)
    reset_settings_cache()
    yield
    reset_settings_cache()


def write(directory: Path, system: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "faq.yaml").write_text(PROMPT.format(system=system))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_push_list_show_diff_promote_rollback(tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "prompts"
    write(prompts, "Be helpful.")
    code, out, _ = run(capsys, "prompts", "push", str(prompts))
    assert code == 0 and out.startswith("new") and "faq@" in out and "(v1)" in out
    v1 = out.split("faq@")[1].split()[0]
    code, out, _ = run(capsys, "prompts", "push", str(prompts))
    assert code == 0 and out.startswith("unchanged")
    write(prompts, "Be brief.")
    _, out, _ = run(capsys, "prompts", "push", str(prompts))
    v2 = out.split("faq@")[1].split()[0]
    assert v2 != v1 and "(v2)" in out

    # promotion needs an evaluation unless forced; forcing is recorded
    code, _, err = run(capsys, "prompts", "promote", "faq", v1, "--label", "production")
    assert code == 2 and "refused: no evaluation" in err
    code, out, _ = run(capsys, "prompts", "promote", "faq", "v1", "--label", "production", "--force")
    assert code == 0 and f"production -> {v1}" in out
    code, out, _ = run(
        capsys,
        "prompts",
        "promote",
        "faq",
        v2[:7],
        "--label",
        "production",
        "--force",
        "--weight",
        "10",
        "--reason",
        "try it",
    )
    assert code == 0 and f"{v2} 10%" in out

    _, out, _ = run(capsys, "prompts", "list")
    assert "faq  (2 versions, latest v2" in out and f"{v2}:10%" in out
    _, out, _ = run(capsys, "prompts", "show", f"faq@{v1}")
    assert "Be helpful." in out and "production (90%)" in out
    _, out, _ = run(capsys, "prompts", "show", "faq@v2", "--json")
    assert json.loads(out)["spec"]["template"][0]["content"] == "Be brief."
    _, out, _ = run(capsys, "prompts", "diff", "faq", "v1", "v2")
    assert "-  content: Be helpful." in out and "+  content: Be brief." in out

    code, out, _ = run(capsys, "prompts", "rollback", "faq", "--label", "production")
    assert code == 0 and f"rolled back to {v1}" in out
    _, out, _ = run(capsys, "prompts", "audit", "faq")
    lines = out.strip().splitlines()
    assert lines[0].split("  ")[1].startswith("rollback production:")
    assert "promote FORCED production:" in lines[2] and "by tester via cli" in lines[2]

    code, _, err = run(capsys, "prompts", "show", "faq@staging")
    assert code == 2 and "no version 'staging'" in err


def test_bad_files_push_nothing(tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "prompts"
    write(prompts, "ok")
    (prompts / "broken.yaml").write_text("name: broken\ntemplate: hi\ncolour: red\n")
    code, _, err = run(capsys, "prompts", "push", str(prompts))
    assert code == 2 and "nothing pushed" in err and "broken.yaml:3: unknown field 'colour'" in err
    _, out, _ = run(capsys, "prompts", "list")
    assert "no prompts pushed yet" in out
    code, out, _ = run(capsys, "prompts", "push", str(prompts / "faq.yaml"), "--dry-run")
    assert code == 0 and out.startswith("ok  faq@")


def test_eval_needs_an_endpoint(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LLMOPS_PROMPT_EVAL_ENDPOINT", raising=False)
    code, _, err = run(capsys, "prompts", "eval", "faq@v1", "--dataset", str(tmp_path / "x.jsonl"))
    assert code == 2 and "no model endpoint" in err
