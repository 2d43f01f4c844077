"""The alert rules: one KQL query and threshold each, built from the telemetry names the app emits
(``shared/observability/names.py``) and the thresholds in the stack config.

Queries run against the Log Analytics workspace: CLIENT spans are in ``AppDependencies``, metrics in
``AppMetrics`` (dimensions in ``Properties``).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import AlertsConfig, BudgetConfig
from shared.observability import names


@dataclass(frozen=True)
class AlertRule:
    key: str
    title: str
    description: str
    query: str
    measure: str  # the query column compared with the threshold
    threshold: float
    window_minutes: int
    frequency_minutes: int
    operator: str = "GreaterThan"


def _prop(attribute: str) -> str:
    return f'tostring(Properties["{attribute}"])'


def alert_rules(alerts: AlertsConfig, budget: BudgetConfig) -> list[AlertRule]:
    window, frequency = alerts.window_minutes, alerts.evaluation_frequency_minutes
    return [
        AlertRule(
            key="latency-p95",
            title="Chat latency p95 too high",
            description=f"p95 of chat calls over {window} min is above {alerts.latency_p95_ms:g} ms",
            query="\n".join(
                [
                    "AppDependencies",
                    f'| where {_prop(names.GEN_AI_OPERATION_NAME)} == "{names.OPERATION_CHAT}"',
                    "| summarize p95_ms = percentile(DurationMs, 95)",
                ]
            ),
            measure="p95_ms",
            threshold=alerts.latency_p95_ms,
            window_minutes=window,
            frequency_minutes=frequency,
        ),
        AlertRule(
            key="http-5xx-rate",
            title="Gateway 5xx rate too high",
            description=f"more than {alerts.error_5xx_percent:g}% of gateway requests returned 5xx",
            query="\n".join(
                [
                    "AppMetrics",
                    f'| where Name == "{names.METRIC_REQUESTS}"',
                    f"| extend code = toint({_prop(names.HTTP_RESPONSE_STATUS_CODE)})",
                    "| summarize total = sum(Sum), failed = sumif(Sum, code >= 500)",
                    "| extend failed_percent = iff(total == 0, 0.0, 100.0 * failed / total)",
                ]
            ),
            measure="failed_percent",
            threshold=alerts.error_5xx_percent,
            window_minutes=window,
            frequency_minutes=frequency,
        ),
        AlertRule(
            key="budget-burn",
            title="Model spend is burning through the daily budget",
            description=(
                f"model cost of the last 24 h reached {budget.burn_alert_percent:g}% "
                f"of the {budget.daily_usd:g} USD daily budget"
            ),
            query="\n".join(
                [
                    "AppMetrics",
                    f'| where Name == "{names.METRIC_COST}"',
                    "| summarize cost_usd = sum(Sum)",
                ]
            ),
            measure="cost_usd",
            threshold=round(budget.daily_usd * budget.burn_alert_percent / 100.0, 6),
            window_minutes=1440,
            frequency_minutes=60,
        ),
        AlertRule(
            key="guardrail-violation-rate",
            title="Guardrail violation rate too high",
            description=f"more than {alerts.guardrail_violation_percent:g}% of requests hit a guardrail",
            query="\n".join(
                [
                    "let requests = toscalar(AppMetrics",
                    f'    | where Name == "{names.METRIC_REQUESTS}" | summarize sum(Sum));',
                    "AppMetrics",
                    f'| where Name == "{names.METRIC_GUARDRAIL_VERDICTS}"',
                    f'| where {_prop(names.LLMOPS_GUARDRAIL_ACTION)} in ("block", "redact", "flag")',
                    "| summarize violations = sum(Sum)",
                    "| extend violation_percent = iff(requests == 0, 0.0, 100.0 * violations / requests)",
                ]
            ),
            measure="violation_percent",
            threshold=alerts.guardrail_violation_percent,
            window_minutes=window,
            frequency_minutes=frequency,
        ),
        AlertRule(
            key="retraining-failures",
            title="Retraining runs failed",
            description=f"at least {alerts.retraining_failures} retraining run(s) failed in the last day",
            query="\n".join(
                [
                    "AppMetrics",
                    f'| where Name == "{names.METRIC_RETRAINING_RUNS}"',
                    f'| where {_prop(names.LLMOPS_RETRAINING_STATUS)} in ("failed", "error", "canceled")',
                    "| summarize failures = sum(Sum)",
                ]
            ),
            measure="failures",
            threshold=alerts.retraining_failures,
            operator="GreaterThanOrEqual",
            window_minutes=1440,
            frequency_minutes=60,
        ),
    ]
