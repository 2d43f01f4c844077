"""The alert rules: one KQL query and threshold each, built from the telemetry names the app emits
(``shared/observability/names.py``) and the thresholds in the stack config.

Queries run against the Log Analytics workspace: CLIENT spans are in ``AppDependencies``, metrics in
``AppMetrics`` (dimensions in ``Properties``). Spans are sampled (``telemetry_sampling_ratio``); each
kept span stands for ``ItemCount`` requests, so span percentiles are weighted by it (``percentilew``).
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


def _span_p95(key: str, title: str, what: str, attribute: str, threshold_ms: float, window: int, frequency: int,
              *, streamed_only: bool = False) -> AlertRule:
    lines = ["AppDependencies", f'| where {_prop(names.GEN_AI_OPERATION_NAME)} == "{names.OPERATION_CHAT}"']
    if streamed_only:
        lines.append(f'| where tobool(Properties["{names.LLMOPS_STREAMED}"])')
    lines += [f'| extend value_ms = todouble(Properties["{attribute}"])', "| where isnotnull(value_ms)",
              "| summarize p95_ms = percentilew(value_ms, ItemCount, 95)"]
    return AlertRule(key=key, title=title, description=f"p95 {what} over {window} min is above {threshold_ms:g} ms",
                     query="\n".join(lines), measure="p95_ms", threshold=threshold_ms, window_minutes=window,
                     frequency_minutes=frequency)


def alert_rules(alerts: AlertsConfig, budget: BudgetConfig) -> list[AlertRule]:
    window, frequency = alerts.window_minutes, alerts.evaluation_frequency_minutes
    return [
        _span_p95("ttft-p95", "Time to first token p95 too high", "time to first token of streamed chat requests",
                  names.LLMOPS_TTFT_MS, alerts.ttft_p95_ms, window, frequency, streamed_only=True),
        _span_p95("overhead-p95", "Gateway overhead p95 too high", "time the gateway adds to chat requests",
                  names.LLMOPS_OVERHEAD_MS, alerts.overhead_p95_ms, window, frequency),
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
