"""The README's command blocks, run as pasted against the stack ``make run`` starts (``llmops dev``).

A block takes part when the line before its opening fence is ``<!-- docs-test -->``. Each runs in bash
(``set -euo pipefail``) or the venv's Python, from a directory outside the checkout, with the venv's
``bin/`` first on the PATH (what ``source .venv/bin/activate`` does); the only change is the port (the
README's 7071 -> a free one).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"^<!-- docs-test -->\n```(bash|python)\n(.*?)^```", re.M | re.S)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of every marked block, in README order."""
    return MARKED.findall((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory) -> Iterator[tuple[int, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("elsewhere")  # not the checkout: commands must work from any directory
    port, simulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOPS_")}
    env.update(LLMOPS_DATA_DIR=str(home / "state"), LLMOPS_TELEMETRY_LOCAL_EXPORTER="none",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    log = (home / "dev.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "llmops"), "dev", "--port", str(port), "--simulator-port",
         str(simulator_port), "--latency", "zero"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in (home / "dev.log").read_text():
            assert process.poll() is None and time.monotonic() < deadline, (home / "dev.log").read_text()
            time.sleep(0.3)
        yield port, env, home
    finally:
        os.killpg(process.pid, signal.SIGINT)  # the dev host and any training step it started
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def test_the_readme_marks_its_runnable_blocks() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 8 and {language for language, _ in blocks} == {"bash", "python"}
    text = "\n".join(code for _, code in blocks)
    for needed in ("llmops dev-key", "llmops keys list", "llmops tenants show", "set-policy contoso routing",
                   '"label": "production"', "/api/v1/feedback", "llmops loop status"):
        assert needed in text, needed


def test_readme_blocks_run_as_pasted(local_stack) -> None:
    port, env, home = local_stack
    for number, (language, block) in enumerate(readme_blocks(), 1):
        script = block.replace("127.0.0.1:7071", f"127.0.0.1:{port}")
        argv = ["bash", "-c", "set -euo pipefail\n" + script] if language == "bash" else [sys.executable, "-c", script]
        done = subprocess.run(argv, cwd=home, env=env, capture_output=True, text=True, timeout=300)
        where = f"README block {number}:\n{block}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
        assert done.returncode == 0, where
        assert "llmops: error" not in done.stderr and '"error"' not in done.stdout, where
        assert "Traceback" not in done.stderr, where
    # what the blocks did is what the gateway sees
    key = subprocess.run(["llmops", "dev-key"], cwd=home, env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    answer = httpx2.post(f"http://127.0.0.1:{port}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                         json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}, timeout=30)
    assert answer.status_code == 200 and answer.json()["model"] == "gpt-4o-mini"
    shown = subprocess.run(["llmops", "tenants", "show", "contoso", "--app", "mobile"], cwd=home, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert '"allowed_tiers"' in shown and '"requests_per_minute": 600' in shown
    status = subprocess.run(["llmops", "loop", "status", "--json"], cwd=home, env=env, capture_output=True,
                            text=True, check=True).stdout
    assert '"feedback": 30' in status
