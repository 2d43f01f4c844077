"""``response.model`` is the alias the client asked for (or, for ``auto``, the alias routing chose); the
deployment that served it is in ``x-llmops-deployment``. The simulator names its models ``<deployment>-sim``."""

from __future__ import annotations

import openai

from tests.support.stack import Stack


def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)


def test_the_answer_names_the_requested_alias(stack: Stack) -> None:
    raw = client(stack).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi there"}])
    assert raw.parse().model == "gpt-4o" and raw.headers["x-llmops-deployment"] == "gpt-4o"
    routed = client(stack).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Hi"}])
    assert routed.parse().model == routed.headers["x-llmops-deployment"] == "gpt-4o-mini"


def test_streamed_chunks_name_the_requested_alias(stack: Stack) -> None:
    chunks = list(client(stack).chat.completions.create(
        model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Tell me a story"}]))
    assert len(chunks) > 2 and {c.model for c in chunks} == {"gpt-4o-mini"}


def test_failover_keeps_the_alias_and_reports_the_deployment(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "error_rate": 1.0, "error_status": 500})
    raw = client(stack).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Where is my order?"}])
    assert raw.headers["x-llmops-deployment"] == "gpt-4o-mini-west" and raw.parse().model == "gpt-4o-mini"
