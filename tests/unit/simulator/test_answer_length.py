"""The simulator's answer length range (``--answer-tokens``), which the overhead benchmark sets to ~150."""

from __future__ import annotations

from starlette.testclient import TestClient

from llmops.simulator import build_simulator

URL = "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"


def completion_tokens(client: TestClient, prompt: str) -> int:
    response = client.post(URL, json={"messages": [{"role": "user", "content": prompt}]}, headers={"api-key": "k"})
    assert response.status_code == 200
    return int(response.json()["usage"]["completion_tokens"])


def test_answers_fall_in_the_configured_range_and_max_tokens_still_cuts_them() -> None:
    prompts = [f"Question {i} about the delivery of order {i * 37}" for i in range(8)]
    with TestClient(build_simulator(["gpt-4o-mini"], latency="zero", answer_tokens=(140, 160))) as long, \
            TestClient(build_simulator(["gpt-4o-mini"], latency="zero")) as default:
        long_tokens = [completion_tokens(long, p) for p in prompts]
        default_tokens = [completion_tokens(default, p) for p in prompts]
        cut = long.post(URL, json={"messages": [{"role": "user", "content": prompts[0]}], "max_tokens": 30},
                        headers={"api-key": "k"}).json()
    assert all(125 <= t <= 200 for t in long_tokens), long_tokens  # sentences are whole: about the range
    assert max(default_tokens) < min(long_tokens)
    assert cut["usage"]["completion_tokens"] <= 30 and cut["choices"][0]["finish_reason"] == "length"
