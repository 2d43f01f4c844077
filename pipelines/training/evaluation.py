"""Measuring one model on one evaluation suite: reference metrics, optional judge score, guardrail
verdict, latency and cost for every example, aggregated into a ``SuiteResult``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.training.generation import Generator
from pipelines.training.judge import LlmJudge
from pipelines.training.output_checks import OutputCheck
from shared.retraining.contract.examples import TrainingExample
from shared.retraining.contract.metrics import REFERENCE_METRICS
from shared.retraining.contract.report import RequestMeasurement, SuiteResult


@dataclass(frozen=True, slots=True)
class TokenPrice:
    input_per_1k: float = 0.0
    output_per_1k: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k


def measure(
    generator: Generator,
    example: TrainingExample,
    *,
    check: OutputCheck,
    price: TokenPrice,
    judge: LlmJudge | None = None,
) -> RequestMeasurement:
    generation = generator.generate(example.prompt)
    metrics = {name: metric(generation.text, example.reference) for name, metric in REFERENCE_METRICS.items()}
    if judge is not None:
        metrics["judge"] = judge.score(example.prompt, example.reference, generation.text)
    return RequestMeasurement(
        example_id=example.example_id,
        metrics=metrics,
        guardrail_passed=check(example.prompt, generation.text),
        latency_ms=generation.latency_ms,
        input_tokens=generation.input_tokens,
        output_tokens=generation.output_tokens,
        cost_usd=price.cost(generation.input_tokens, generation.output_tokens),
        output=generation.text,
    )


def evaluate_suite(
    generator: Generator,
    examples: Sequence[TrainingExample],
    *,
    check: OutputCheck,
    price: TokenPrice,
    judge: LlmJudge | None = None,
) -> SuiteResult:
    return SuiteResult.aggregate(
        [measure(generator, example, check=check, price=price, judge=judge) for example in examples]
    )
