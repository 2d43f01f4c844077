"""The CLI as a new user meets it: one line and exit status 2 for each mistake, names in the listings,
policies validated at the door, the local stack's settings seen by every command."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from llmops.cli import main
from llmops.cli.server import check_ports_free
from llmops.localenv import DEV_SETTINGS_FILE, apply_cli_environment, write_dev_settings
from shared.config import reset_settings_cache
from shared.extras import MissingExtra, require_extra

DEPLOYMENTS = [{"alias": "gpt-4o-mini", "endpoint": "http://127.0.0.1:9", "deployment": "gpt-4o-mini",
                "model": "gpt-4o-mini", "tier": "small", "auth": "key", "api_key": "k"}]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLMOPS_STORE", "sqlite")
    monkeypatch.setenv("LLMOPS_DEPLOYMENTS_JSON", json.dumps(DEPLOYMENTS))
    monkeypatch.delenv("LLMOPS_DEPLOYMENTS_FILE", raising=False)
    reset_settings_cache()
    yield tmp_path / "data"
    reset_settings_cache()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmops: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_user_mistakes_are_one_line_and_exit_2(capsys) -> None:
    assert run(capsys, "tenants", "add-app", "contoso", "mobile")[0] == 0
    cases = [
        (("keys", "revoke", "key_nope"), ("unknown key id 'key_nope'",)),
        (("keys", "create", "--tenant", "contoso", "--app", "mobile", "--expires-in", "soon"), ("invalid duration",)),
        (("tenants", "set-policy", "contoso", "routing", "{not json"), ("not valid JSON",)),
        (("tenants", "set-policy", "contoso", "routeing", "{}"), ("unknown policy section 'routeing'", "routing")),
        (("tenants", "set-policy", "contoso", "limits", '{"rpm": 5}'), ("unknown setting 'rpm'",)),
        (("tenants", "set-policy", "contoso", "guardrails", '{"policy": "crm-suport"}', "--app", "mobile"),
         ("no guardrail policy named 'crm-suport'", "crm-support")),
        (("tenants", "set-policy", "contoso", "routing", '{"pin": "gpt-5"}'),
         ("pin 'gpt-5' names no deployment", "gpt-4o-mini")),
        (("tenants", "set-policy", "contoso", "cache", "{}", "--app", "web"), ("unknown app 'web'",)),
        (("tenants", "show", "fabrikam"), ("unknown tenant 'fabrikam'",)),
        (("completion", "fish"), ("unknown shell 'fish'",)),
        (("dev-key",), ("no demo key", "make run")),
    ]
    for argv, fragments in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        one_line_error(err, *fragments)


def test_debug_shows_the_traceback(capsys) -> None:
    code, _, err = run(capsys, "--debug", "keys", "revoke", "key_nope")
    assert code == 2 and "Traceback (most recent call last)" in err and err.rstrip().endswith("'key_nope'")


def test_a_missing_extra_names_its_make_target(capsys, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(MissingExtra, match=r"needs torch, which `make run` does not install: run `make train-deps`"):
        require_extra("train-deps", "the local training runner")
    code, _, err = run(capsys, "pipeline", "run-local", "--synthetic", "40")
    assert code == 2
    one_line_error(err, "llmops pipeline run-local needs torch", "make train-deps")


def test_valid_policies_are_stored_and_shown_merged(capsys) -> None:
    run(capsys, "tenants", "add-app", "contoso", "crm")
    assert run(capsys, "tenants", "set-policy", "contoso", "routing", '{"threshold": 0.3}')[0] == 0
    assert run(capsys, "tenants", "set-policy", "contoso", "routing", '{"pin": "gpt-4o-mini"}', "--app", "crm")[0] == 0
    assert run(capsys, "tenants", "set-policy", "contoso", "guardrails", '"crm-support"', "--app", "crm")[0] == 0
    code, out, _ = run(capsys, "tenants", "show", "contoso", "--app", "crm")
    assert code == 0 and 'policy {"routing": {"threshold": 0.3}}' in out
    assert "sections set on the app: guardrails, routing" in out
    effective = json.loads(out[out.index("{\n"):])
    assert effective == {"routing": {"pin": "gpt-4o-mini"}, "guardrails": "crm-support"}


def test_keys_list_shows_names(capsys) -> None:
    run(capsys, "tenants", "add-app", "contoso", "crm")
    run(capsys, "keys", "create", "--tenant", "contoso", "--app", "crm", "--name", "CRM prod")
    run(capsys, "keys", "create", "--tenant", "contoso", "--app", "crm")
    code, out, _ = run(capsys, "keys", "list", "--tenant", "contoso")
    header, *rows = out.strip().splitlines()
    assert code == 0 and header.split()[:2] == ["KEY", "ID"] and "NAME" in header and len(rows) == 2
    assert "CRM prod" in rows[0] and rows[1].split()[1] == "-"


def test_a_busy_port_is_one_clear_line(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(capsys, "dev", "--port", str(port))
        assert code == 2
        one_line_error(err, f"port {port} on 127.0.0.1 is already in use", "--port")
        code, _, err = run(capsys, "simulator", "--port", str(port))
        assert code == 2 and "already in use" in err
    check_ports_free("127.0.0.1", port)  # free again: no error


def test_commands_see_the_local_stack_settings(tmp_path: Path) -> None:
    data = tmp_path / "stack"
    write_dev_settings(data, {"LLMOPS_DATA_DIR": str(data), "LLMOPS_DEPLOYMENTS_JSON": "[local]",
                              "LLMOPS_CANARY_MIN_REQUESTS": "10", "PATH": "never"})
    assert (data / DEV_SETTINGS_FILE).is_file()
    env = {"LLMOPS_DATA_DIR": str(data), "LLMOPS_CANARY_MIN_REQUESTS": "99"}
    apply_cli_environment(["prompts", "eval"], env)
    assert env["LLMOPS_DEPLOYMENTS_JSON"] == "[local]"  # what the gateway of `make run` uses
    assert env["LLMOPS_CANARY_MIN_REQUESTS"] == "99"  # exported values win
    assert env.get("PATH") is None  # only LLMOPS_* settings are taken
    own = {"LLMOPS_DATA_DIR": str(data), "LLMOPS_DEPLOYMENTS_FILE": "mine.yaml"}
    apply_cli_environment(["keys", "list"], own)
    assert "LLMOPS_DEPLOYMENTS_JSON" not in own  # the user's own deployments: none of the local ones
    fresh = {"LLMOPS_DATA_DIR": str(data)}
    apply_cli_environment(["--debug", "dev", "--port", "1"], fresh)
    assert fresh == {"LLMOPS_DATA_DIR": str(data)}  # `llmops dev` computes its own


def test_completion_scripts_complete_commands_subcommands_and_options(capsys, tmp_path: Path) -> None:
    import shutil
    import subprocess

    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0 and "complete -o filenames -F _llmops_complete llmops" in script
    code, zsh, _ = run(capsys, "completion", "zsh")
    assert code == 0 and "bashcompinit" in zsh and "_llmops_words" in zsh
    if shutil.which("bash") is None:
        pytest.skip("no bash to run the script in")
    path = tmp_path / "llmops.bash"
    path.write_text(script)
    probe = ('source "$1"; complete_at() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _llmops_complete; '
             'echo "${COMPREPLY[*]}"; }; complete_at llmops ten; complete_at llmops keys ""; '
             'complete_at llmops keys list --te; complete_at llmops loop status --')
    lines = subprocess.run(["bash", "-c", probe, "bash", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines[0] == "tenants"
    assert lines[1].split()[:4] == ["create", "list", "revoke", "rotate"]
    assert lines[2] == "--tenant"
    assert set(lines[3].split()) == {"--help", "--json", "--watch"}
