"""The evaluation gate: every rule, tolerances, limits left unset, and reports lacking a metric."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.retraining.contract.gate import GateThresholds, decide, decide_on_report
from shared.retraining.contract.report import (
    EvaluationReport,
    ModelScores,
    RequestMeasurement,
    SuiteComparison,
    SuiteResult,
)


def scores(quality=0.8, guardrails=1.0, p95=100.0, cost=0.001, requests=20) -> ModelScores:
    return ModelScores(
        quality=quality,
        guardrail_pass_rate=guardrails,
        p95_latency_ms=p95,
        cost_per_request_usd=cost,
        requests=requests,
    )


def failed(decision) -> set[str]:
    return {f"{c.suite}/{c.name}" for c in decision.failures}


def test_better_candidate_passes_every_check() -> None:
    decision = decide(
        {"validation": (scores(quality=0.9), scores(quality=0.8))},
        GateThresholds(
            max_p95_latency_ms=200, max_cost_per_request_usd=0.01, max_latency_ratio=1.5, max_cost_ratio=2
        ),
    )
    assert decision.passed
    assert {c.name for c in decision.checks} == {
        "requests",
        "quality",
        "guardrail_pass_rate",
        "p95_latency_ms",
        "latency_ratio",
        "cost_per_request_usd",
        "cost_ratio",
    }
    assert decision.summary().startswith("gate passed")


def test_lower_quality_fails_unless_within_tolerance() -> None:
    comparison = {"validation": (scores(quality=0.78), scores(quality=0.8))}
    assert failed(decide(comparison, GateThresholds())) == {"validation/quality"}
    assert decide(comparison, GateThresholds(quality_tolerance=0.05)).passed


def test_guardrail_pass_rate_must_not_drop() -> None:
    decision = decide({"regression": (scores(guardrails=0.95), scores(guardrails=1.0))}, GateThresholds())
    assert failed(decision) == {"regression/guardrail_pass_rate"}
    assert "guardrail pass rate 0.95 < required 1" in decision.summary()


def test_latency_and_cost_limits_absolute_and_relative() -> None:
    candidate, production = scores(p95=300, cost=0.02), scores(p95=100, cost=0.01)
    decision = decide(
        {"validation": (candidate, production)},
        GateThresholds(
            max_p95_latency_ms=250, max_latency_ratio=2.0, max_cost_per_request_usd=0.05, max_cost_ratio=1.5
        ),
    )
    assert failed(decision) == {
        "validation/p95_latency_ms",
        "validation/latency_ratio",
        "validation/cost_ratio",
    }


def test_unset_limits_are_not_checked() -> None:
    decision = decide({"validation": (scores(p95=10_000, cost=5.0), scores())}, GateThresholds())
    assert decision.passed
    assert {c.name for c in decision.checks} == {"requests", "quality", "guardrail_pass_rate"}


def test_too_few_requests_fail_and_every_suite_counts() -> None:
    decision = decide(
        {"validation": (scores(), scores()), "regression": (scores(requests=2), scores(requests=2))},
        GateThresholds(min_requests=5),
    )
    assert failed(decision) == {"regression/requests"}


def test_gate_needs_a_suite() -> None:
    with pytest.raises(ValueError):
        decide({}, GateThresholds())


def _suite(rouge: float, latency: float = 50.0) -> SuiteResult:
    return SuiteResult.aggregate(
        [
            RequestMeasurement(
                example_id=str(i),
                metrics={"rouge_l": rouge, "token_f1": rouge},
                guardrail_passed=True,
                latency_ms=latency,
                input_tokens=10,
                output_tokens=5,
                cost_usd=0.0,
            )
            for i in range(6)
        ]
    )


def test_gate_on_report_and_missing_quality_metric() -> None:
    report = EvaluationReport(
        candidate_model="c",
        production_model="p",
        suites={"validation": SuiteComparison(candidate=_suite(0.9), production=_suite(0.5))},
    )
    assert decide_on_report(report, GateThresholds(quality_metric="rouge_l")).passed
    judged = decide_on_report(report, GateThresholds(quality_metric="judge"))
    assert not judged.passed
    assert "judge" in judged.failures[0].detail


def test_thresholds_from_settings() -> None:
    settings = Settings(
        gate_quality_metric="token_f1",
        gate_quality_tolerance=0.02,
        gate_max_p95_latency_ms=900,
        gate_min_requests=3,
    )
    thresholds = GateThresholds.from_settings(settings)
    assert thresholds.quality_metric == "token_f1"
    assert thresholds.quality_tolerance == 0.02
    assert thresholds.max_p95_latency_ms == 900
    assert thresholds.max_cost_ratio is None
    assert thresholds.min_requests == 3
