"""The evaluation report: what the pipeline's ``evaluate`` step measures for the candidate and the
production model on each evaluation suite (the validation split and the fixed regression set).

The ``register`` step reads it to apply the gate and attaches it to the registered model; the
promotion function can read it back from the model to explain a decision.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.retraining.contract.metrics import mean, percentile

SUITES = ("validation", "regression")


class ModelScores(BaseModel):
    """What the gate compares, one model on one suite (or on live traffic, for the canary check)."""

    model_config = ConfigDict(frozen=True)

    quality: float
    guardrail_pass_rate: float = Field(ge=0, le=1)
    p95_latency_ms: float = Field(ge=0)
    cost_per_request_usd: float = Field(ge=0)
    requests: int = Field(ge=0)


class RequestMeasurement(BaseModel):
    """One evaluated request: its scores against the reference, guardrail verdict, latency, tokens."""

    example_id: str
    metrics: dict[str, float]
    guardrail_passed: bool
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    output: str = ""


class SuiteResult(BaseModel):
    """One model on one suite, aggregated from its request measurements."""

    metrics: dict[str, float]
    guardrail_pass_rate: float
    p50_latency_ms: float
    p95_latency_ms: float
    cost_per_request_usd: float
    mean_output_tokens: float
    requests: int
    samples: list[RequestMeasurement] = Field(default_factory=list)

    @classmethod
    def aggregate(cls, measurements: list[RequestMeasurement], *, keep_samples: int = 5) -> SuiteResult:
        if not measurements:
            raise ValueError("a suite needs at least one evaluated request")
        names = sorted({name for m in measurements for name in m.metrics})
        latencies = [m.latency_ms for m in measurements]
        return cls(
            metrics={name: mean([m.metrics[name] for m in measurements if name in m.metrics]) for name in names},
            guardrail_pass_rate=mean([float(m.guardrail_passed) for m in measurements]),
            p50_latency_ms=percentile(latencies, 50),
            p95_latency_ms=percentile(latencies, 95),
            cost_per_request_usd=mean([m.cost_usd for m in measurements]),
            mean_output_tokens=mean([float(m.output_tokens) for m in measurements]),
            requests=len(measurements),
            samples=measurements[:keep_samples],
        )

    def scores(self, quality_metric: str) -> ModelScores:
        if quality_metric not in self.metrics:
            raise KeyError(f"quality metric {quality_metric!r} was not measured (have: {sorted(self.metrics)})")
        return ModelScores(
            quality=self.metrics[quality_metric],
            guardrail_pass_rate=self.guardrail_pass_rate,
            p95_latency_ms=self.p95_latency_ms,
            cost_per_request_usd=self.cost_per_request_usd,
            requests=self.requests,
        )


class SuiteComparison(BaseModel):
    candidate: SuiteResult
    production: SuiteResult


class EvaluationReport(BaseModel):
    candidate_model: str
    production_model: str
    suites: dict[str, SuiteComparison]
    judge_model: str | None = None
    notes: list[str] = Field(default_factory=list)
