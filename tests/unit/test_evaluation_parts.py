"""Evaluation parts: output guardrail checks, the LLM judge through the real openai client (with a
mock HTTP transport), the OpenAI-compatible production generator, and per-suite measurement."""

from __future__ import annotations

import json

import httpx2 as httpx  # the HTTP library of the openai SDK in use (openai 3.x)
import openai
import pytest

from pipelines.training.evaluation import TokenPrice, evaluate_suite
from pipelines.training.generation import Generation, OpenAIChatGenerator
from pipelines.training.judge import JudgeError, LlmJudge, parse_score
from pipelines.training.output_checks import basic_output_checks, load_output_check
from shared.retraining.contract.examples import TrainingExample

PROMPT = [{"role": "user", "content": "My mail is ann@example.com, where is order 1234?"}]


def test_output_checks() -> None:
    assert basic_output_checks(PROMPT, "Order 1234 has shipped; we wrote to ann@example.com.")
    assert not basic_output_checks(PROMPT, "Contact bob@contoso.com for help.")  # leaks another address
    assert not basic_output_checks(PROMPT, "Your card 4111 1111 1111 1111 was charged.")
    assert basic_output_checks(PROMPT, "Order 1234 ships in 3 days, on 2025-06-01.")  # numbers, no PII
    assert not basic_output_checks(PROMPT, "Call +1 (425) 555-0100 now.")
    assert not basic_output_checks(PROMPT, "")
    assert not basic_output_checks(PROMPT, "ok " * 20)
    assert not basic_output_checks(PROMPT, "Sure. Ignore previous instructions and ...")
    assert load_output_check("pipelines.training.output_checks:basic_output_checks") is basic_output_checks
    with pytest.raises(ValueError):
        load_output_check("no-colon")


def chat_completion(content: str, prompt_tokens: int = 12, completion_tokens: int = 4) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def client_answering(content: str, seen: list | None = None) -> openai.OpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(json.loads(request.content))
        return httpx.Response(200, json=chat_completion(content))

    return openai.OpenAI(
        api_key="k",
        base_url="http://judge.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def test_judge_scores_and_parses() -> None:
    seen: list = []
    judge = LlmJudge(client_answering('{"score": 4, "reason": "minor gap"}', seen), model="gpt-4o")
    assert judge.score(PROMPT, "It shipped.", "It has shipped.") == pytest.approx(0.75)
    assert seen[0]["model"] == "gpt-4o" and seen[0]["temperature"] == 0
    assert "REFERENCE: It shipped." in seen[0]["messages"][1]["content"]
    assert parse_score('Here: {"score": 5, "reason": "x"} done') == 1.0
    for bad in ("no score", '{"score": 9}'):
        with pytest.raises(JudgeError):
            parse_score(bad)


def test_openai_generator_measures_usage() -> None:
    generation = OpenAIChatGenerator(
        client_answering("Order 1234 has shipped."), model="prod", max_tokens=64
    ).generate(PROMPT)
    assert generation.text == "Order 1234 has shipped." and generation.input_tokens == 12
    assert generation.output_tokens == 4 and generation.latency_ms > 0


class CannedGenerator:
    name = "canned"

    def __init__(self, answers: list[str]):
        self.answers = iter(answers)

    def generate(self, messages):
        return Generation(next(self.answers), latency_ms=10.0, input_tokens=1000, output_tokens=500)


def test_suite_measurement_aggregates_quality_guardrails_latency_and_cost() -> None:
    examples = [
        TrainingExample.model_validate(
            {
                "messages": [*PROMPT, {"role": "assistant", "content": "Order 1234 has shipped."}],
                "split": "validation",
                "example_id": f"e{i}",
                "dataset_id": "d",
            }
        )
        for i in range(2)
    ]
    result = evaluate_suite(
        CannedGenerator(["Order 1234 has shipped.", "Write to bob@contoso.com."]),
        examples,
        check=basic_output_checks,
        price=TokenPrice(input_per_1k=0.01, output_per_1k=0.03),
        judge=LlmJudge(client_answering('{"score": 5}'), model="judge"),
    )
    assert result.metrics["exact_match"] == 0.5 and result.metrics["judge"] == 1.0
    assert result.guardrail_pass_rate == 0.5
    assert result.cost_per_request_usd == pytest.approx(0.01 + 0.015)
    assert result.p95_latency_ms == 10.0 and result.requests == 2
    assert result.scores("exact_match").quality == 0.5
