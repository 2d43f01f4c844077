"""The evaluation gate: may a candidate model replace (or share traffic with) the production model?

Pure logic, used by the pipeline's ``register`` step (on the evaluation report) and by the canary
promotion check (on live signals mapped to ``ModelScores``), so both apply the same rules:

- quality: candidate >= production - ``quality_tolerance``, on every suite;
- guardrails: candidate pass rate >= production - ``guardrail_tolerance`` (not lower, by default);
- latency: candidate p95 within ``max_p95_latency_ms`` and within ``max_latency_ratio`` x production;
- cost: candidate cost per request within ``max_cost_per_request_usd`` and ``max_cost_ratio`` x production;
- evidence: at least ``min_requests`` evaluated requests per suite.

A limit left as ``None`` is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from shared.retraining.contract.report import EvaluationReport, ModelScores

if TYPE_CHECKING:  # the component scripts run without the platform's settings module
    from shared.config import TrainingSettings

GATE_SETTINGS_PREFIX = "gate_"


class GateThresholds(BaseModel):
    model_config = ConfigDict(frozen=True)

    quality_metric: str = "rouge_l"
    quality_tolerance: float = Field(default=0.0, ge=0)
    guardrail_tolerance: float = Field(default=0.0, ge=0)
    max_p95_latency_ms: float | None = Field(default=None, gt=0)
    max_latency_ratio: float | None = Field(default=None, gt=0)
    max_cost_per_request_usd: float | None = Field(default=None, ge=0)
    max_cost_ratio: float | None = Field(default=None, gt=0)
    min_requests: int = Field(default=1, ge=1)

    @classmethod
    def from_settings(cls, settings: TrainingSettings) -> GateThresholds:
        """Read the ``gate_*`` fields of the platform settings (``shared.config.Settings``)."""
        values = {
            name: getattr(settings, GATE_SETTINGS_PREFIX + name)
            for name in cls.model_fields
            if hasattr(settings, GATE_SETTINGS_PREFIX + name)
        }
        return cls(**values)


class GateCheck(BaseModel):
    suite: str
    name: str
    passed: bool
    candidate: float
    limit: float
    detail: str


class GateDecision(BaseModel):
    passed: bool
    checks: list[GateCheck]
    thresholds: GateThresholds

    @property
    def failures(self) -> list[GateCheck]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        if self.passed:
            return f"gate passed ({len(self.checks)} checks)"
        return "gate failed: " + "; ".join(f"{c.suite}/{c.name}: {c.detail}" for c in self.failures)


def _check(suite: str, name: str, value: float, limit: float, what: str, *, at_most: bool = False) -> GateCheck:
    """``value >= limit`` (a floor), or ``value <= limit`` with ``at_most`` (a ceiling)."""
    passed = value <= limit if at_most else value >= limit
    relation = {(False, True): ">=", (False, False): "<", (True, True): "<=", (True, False): ">"}[(at_most, passed)]
    kind = "limit" if at_most else "required"
    return GateCheck(
        suite=suite,
        name=name,
        passed=passed,
        candidate=value,
        limit=limit,
        detail=f"{what} {value:.4g} {relation} {kind} {limit:.4g}",
    )


def _at_least(suite: str, name: str, value: float, limit: float, what: str) -> GateCheck:
    return _check(suite, name, value, limit, what)


def _at_most(suite: str, name: str, value: float, limit: float, what: str) -> GateCheck:
    return _check(suite, name, value, limit, what, at_most=True)


def check_suite(
    suite: str, candidate: ModelScores, production: ModelScores, thresholds: GateThresholds
) -> list[GateCheck]:
    """Every rule of the gate for one suite."""
    t = thresholds
    checks = [
        _at_least(suite, "requests", candidate.requests, t.min_requests, "evaluated requests"),
        _at_least(
            suite,
            "quality",
            candidate.quality,
            production.quality - t.quality_tolerance,
            f"{t.quality_metric}",
        ),
        _at_least(
            suite,
            "guardrail_pass_rate",
            candidate.guardrail_pass_rate,
            production.guardrail_pass_rate - t.guardrail_tolerance,
            "guardrail pass rate",
        ),
    ]
    if t.max_p95_latency_ms is not None:
        checks.append(
            _at_most(suite, "p95_latency_ms", candidate.p95_latency_ms, t.max_p95_latency_ms, "p95 latency ms")
        )
    if t.max_latency_ratio is not None:
        checks.append(
            _at_most(
                suite,
                "latency_ratio",
                candidate.p95_latency_ms,
                production.p95_latency_ms * t.max_latency_ratio,
                "p95 latency ms vs production",
            )
        )
    if t.max_cost_per_request_usd is not None:
        checks.append(
            _at_most(
                suite,
                "cost_per_request_usd",
                candidate.cost_per_request_usd,
                t.max_cost_per_request_usd,
                "cost per request USD",
            )
        )
    if t.max_cost_ratio is not None:
        checks.append(
            _at_most(
                suite,
                "cost_ratio",
                candidate.cost_per_request_usd,
                production.cost_per_request_usd * t.max_cost_ratio,
                "cost per request USD vs production",
            )
        )
    return checks


def decide(comparisons: Mapping[str, tuple[ModelScores, ModelScores]], thresholds: GateThresholds) -> GateDecision:
    """Apply the gate to ``{suite: (candidate, production)}``; it passes only if every check passes."""
    if not comparisons:
        raise ValueError("the gate needs at least one suite to compare")
    checks = [
        check
        for suite, (candidate, production) in comparisons.items()
        for check in check_suite(suite, candidate, production, thresholds)
    ]
    return GateDecision(passed=all(c.passed for c in checks), checks=checks, thresholds=thresholds)


def decide_on_report(report: EvaluationReport, thresholds: GateThresholds) -> GateDecision:
    """The gate on an evaluation report; a quality metric the report lacks fails the gate."""
    comparisons: dict[str, tuple[ModelScores, ModelScores]] = {}
    missing: list[GateCheck] = []
    for suite, comparison in report.suites.items():
        try:
            comparisons[suite] = (
                comparison.candidate.scores(thresholds.quality_metric),
                comparison.production.scores(thresholds.quality_metric),
            )
        except KeyError as exc:
            missing.append(
                GateCheck(
                    suite=suite,
                    name="quality",
                    passed=False,
                    candidate=0.0,
                    limit=0.0,
                    detail=str(exc.args[0]),
                )
            )
    if not comparisons:
        return GateDecision(passed=False, checks=missing, thresholds=thresholds)
    decision = decide(comparisons, thresholds)
    if missing:
        return GateDecision(passed=False, checks=[*missing, *decision.checks], thresholds=thresholds)
    return decision
