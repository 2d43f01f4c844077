"""``llmops trace``: a request made through the gateway told from the request log."""

from __future__ import annotations

import re

import httpx2
import openai
import pytest

from llmops.cli import main
from shared.config import reset_settings_cache
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(stack: Stack, monkeypatch):
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(stack.data_dir))
    monkeypatch.setenv("LLMOPS_STORE", "sqlite")
    reset_settings_cache()
    yield
    reset_settings_cache()


def test_trace_tells_the_story_of_a_request(stack: Stack, cli_env, capsys) -> None:
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Where is my order?"}])
    request_id = raw.headers["x-request-id"]
    headers = {"authorization": f"Bearer {stack.key}"}
    said = {"request_id": request_id, "rating": 4, "comment": "quick", "user": "u9"}
    assert httpx2.post(f"{stack.gateway_url}/api/v1/feedback", headers=headers, json=said).status_code == 202
    assert httpx2.post(f"{stack.gateway_url}/api/v1/events", headers=headers,
                       json={"type": "task_completed", "request_id": request_id}).status_code == 202
    stack.flush_log()
    assert main(["trace", request_id]) == 0
    out = capsys.readouterr().out
    assert "== feedback" in out and re.search(r'u9\s+4 \(score 0\.75\) "quick"', out), out
    assert "== business events" in out and "task_completed" in out
    record = stack.log_record(request_id)
    assert record is not None and len(record["trace_id"]) == 32
    for expected in (request_id, record["trace_id"], "== route", "attempt 1", "== tokens and cost",
                     "gateway overhead", "== cache", "LogsBlade", "RequestId="):
        assert expected in out, expected


def test_trace_of_an_unknown_id_is_one_line_and_exit_2(stack: Stack, cli_env, capsys) -> None:
    assert main(["trace", "no-such-request"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "no-such-request" in captured.err
