"""The CLI where users look: the llmops.sh wrapper from any directory, `loop status --watch`, progress that
stays out of pipes, and expected retries of the local event runtime as one line."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmops.cli import main
from llmops.cli._progress import track, working
from llmops.events import log_failure
from shared.config import reset_settings_cache
from shared.extras import MissingExtra

ROOT = Path(__file__).resolve().parents[3]


def test_the_wrapper_runs_the_checkout_cli_from_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOPS_")}
    env["LLMOPS_DATA_DIR"] = str(tmp_path / "state")
    link = tmp_path / "bin" / "llmops"
    link.parent.mkdir()
    link.symlink_to(ROOT / "llmops.sh")
    for command in (str(ROOT / "llmops.sh"), str(link)):
        done = subprocess.run([command, "tenants", "add-app", "contoso", "web"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "app contoso/web is ready" in done.stdout, done.stderr
    listed = subprocess.run([str(link), "tenants", "list"], cwd="/", env=env, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0 and listed.stdout.startswith("contoso")


def test_the_wrapper_says_how_to_set_up_a_missing_venv(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "llmops.sh", copy / "llmops.sh")
    done = subprocess.run([str(copy / "llmops.sh"), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "run `make install`" in done.stderr and len(done.stderr.splitlines()) == 1


def test_console_script_defaults_the_data_dir_to_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOPS_")}
    probe = ("import os, sys; from llmops.localenv import apply_cli_environment; apply_cli_environment(['keys']); "
             "print(os.environ['LLMOPS_DATA_DIR'])")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == str(ROOT / ".llmops")


def test_loop_status_watch_redraws_until_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLMOPS_STORE", "sqlite")
    reset_settings_cache()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("llmops.cli.loop.time.sleep", sleep)
    try:
        assert main(["loop", "status", "--watch", "0.5"]) == 130
    finally:
        reset_settings_cache()
    out = capsys.readouterr().out
    assert sleeps == [0.5, 0.5] and "FEEDBACK  0 documents" in out and "ROLLOUTS" in out
    assert "every 0.5 s; Ctrl-C stops" in out


def test_progress_draws_nothing_into_a_pipe(capsys) -> None:
    assert list(track(iter(range(5)), "scan", total=5)) == [0, 1, 2, 3, 4]
    with working("training") as progress:
        assert progress is None
    assert capsys.readouterr().err == ""


def test_expected_retries_are_one_line(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="llmops.events")
    log_failure("queue retrain-requests: attempt 1", MissingExtra("train-deps", ["torch"], "the runner"), "retrying")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        log_failure("timer canary_evaluator", exc, "it runs again on its next tick")
    expected, unexpected = caplog.records
    assert expected.exc_info is None and "make train-deps" in expected.getMessage()
    assert "(expected; retrying)" in expected.getMessage()
    assert unexpected.exc_info is not None  # a real failure keeps its traceback
