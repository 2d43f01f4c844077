"""The operators' panels, defined once: the Azure Monitor workbook (``infra.workbook_build``) and the
local dashboard (``llmops.dashboard``) are both generated from ``PANELS``, so they cannot diverge.

Each panel has a key (the workbook item's name and the dashboard chart's id), a title, its monitoring
level (infrastructure, model behaviour, business), a chart kind and the KQL it runs in Azure (over
the Log Analytics tables: CLIENT spans in ``AppDependencies``, metrics in ``AppMetrics``, logs in
``AppTraces``). The local dashboard computes the same figure from the request log, feedback,
business events and monitor results (``llmops.dashboard.series``, one function per key). Every
telemetry name comes from ``names.py``; one panel per drift monitor comes from
``shared.monitoring.definitions.MONITORS``, the list the alert rules are made from too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.monitoring.definitions import MONITORS
from shared.observability import names as n
from shared.observability.story import REQUEST_ID_PARAMETER

Chart = Literal["timechart", "barchart", "piechart", "table"]
Level = Literal["infrastructure", "model", "business", "requests"]


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    level: Level
    chart: Chart
    kql: str


def _p(attribute: str) -> str:
    return f'Properties["{attribute}"]'


def _s(attribute: str) -> str:
    return f"tostring({_p(attribute)})"


def _metric(name: str) -> str:
    return f'AppMetrics\n| where TimeGenerated {{TimeRange}}\n| where Name == "{name}"'


_CHAT = (f'AppDependencies\n| where TimeGenerated {{TimeRange}}\n| where {_s(n.GEN_AI_OPERATION_NAME)} == '
         f'"{n.OPERATION_CHAT}"')
_GRAIN = "bin(TimeGenerated, {TimeRange:grain})"
_BUSINESS_LOG = 'AppTraces\n| where TimeGenerated {TimeRange}\n| where Message == "business_event"'


def _lines(*parts: str) -> str:
    return "\n".join(parts)


CORE_PANELS: tuple[Panel, ...] = (
    # --- infrastructure ----------------------------------------------------------------------
    Panel("requests-by-status", "Requests by outcome", "infrastructure", "timechart", _lines(
        _metric(n.METRIC_REQUESTS), f"| summarize requests = sum(Sum) by status = {_s(n.LLMOPS_STATUS)}, {_GRAIN}",
        "| render timechart")),
    Panel("latency-p50-p95", "Chat latency p50 / p95 (ms)", "infrastructure", "timechart", _lines(
        _CHAT, "| summarize p50 = percentilew(DurationMs, ItemCount, 50), "
        f"p95 = percentilew(DurationMs, ItemCount, 95) by {_GRAIN}",
        "| render timechart")),
    Panel("gateway-overhead", "Gateway overhead p50 / p95 (ms)", "infrastructure", "timechart", _lines(
        _CHAT, f"| extend overhead_ms = todouble({_p(n.LLMOPS_OVERHEAD_MS)})",
        f"| summarize p50 = percentilew(overhead_ms, ItemCount, 50), p95 = percentilew(overhead_ms, ItemCount, 95) "
        f"by {_GRAIN}",
        "| render timechart")),
    Panel("time-to-first-token", "Time to first token p50 / p95 (ms)", "infrastructure", "timechart", _lines(
        _CHAT, f"| where tobool({_p(n.LLMOPS_STREAMED)})", f"| extend ttft_ms = todouble({_p(n.LLMOPS_TTFT_MS)})",
        "| where isnotnull(ttft_ms)",
        f"| summarize p50 = percentilew(ttft_ms, ItemCount, 50), p95 = percentilew(ttft_ms, ItemCount, 95) by {_GRAIN}",
        "| render timechart")),
    Panel("tokens-per-second", "Output tokens per second (per answer, mean)", "infrastructure", "timechart", _lines(
        _CHAT, f"| extend tps = 1000.0 * toint({_p(n.GEN_AI_USAGE_OUTPUT_TOKENS)}) / DurationMs",
        "| where DurationMs > 0", f"| summarize tokens_per_second = sum(tps * ItemCount) / sum(ItemCount) by {_GRAIN}",
        "| render timechart")),
    Panel("latency-by-deployment", "Latency by deployment (ms)", "infrastructure", "table", _lines(
        _CHAT, f"| extend deployment = {_s(n.LLMOPS_DEPLOYMENT)}",
        "| summarize requests = sum(ItemCount), p50 = percentilew(DurationMs, ItemCount, 50), "
        "p95 = percentilew(DurationMs, ItemCount, 95), "
        f"overhead_p95 = percentilew(todouble({_p(n.LLMOPS_OVERHEAD_MS)}), ItemCount, 95) by deployment",
        "| order by requests desc")),
    Panel("errors-and-429s", "Errors and 429s", "infrastructure", "timechart", _lines(
        "let gateway = AppMetrics", "| where TimeGenerated {TimeRange}",
        f'    | where Name == "{n.METRIC_REQUESTS}"',
        f"    | extend status = {_s(n.LLMOPS_STATUS)}, code = toint({_p(n.HTTP_RESPONSE_STATUS_CODE)})",
        '    | where status != "ok" or code >= 400',
        '    | summarize count_ = sum(Sum) by series = iff(code == 429, "429 returned", strcat(tostring(code), " ", '
        f"status)), {_GRAIN};",
        "let limits = AppMetrics", "| where TimeGenerated {TimeRange}",
        f'    | where Name == "{n.METRIC_RATE_LIMITED}"',
        f'    | summarize count_ = sum(Sum) by series = strcat("429 limit: ", {_s(n.LLMOPS_LIMIT_KIND)}), {_GRAIN};',
        "union gateway, limits", "| render timechart")),
    Panel("poison-messages", "Queue messages moved to poison queues", "infrastructure", "timechart", _lines(
        "AppTraces", "| where TimeGenerated {TimeRange}", '| where Message has "MaxDequeueCount"',
        "| extend queue = extract(\"queue '([^']+)'\", 1, Message)",
        f"| summarize messages = count() by queue, {_GRAIN}", "| render timechart")),
    Panel("breaker-state", "Circuit breakers per deployment (0 closed, 1 half open, 2 open)", "infrastructure",
          "table", _lines(_metric(n.METRIC_BREAKER_STATE), f"| extend deployment = {_s(n.LLMOPS_DEPLOYMENT)}",
                          "| summarize arg_max(TimeGenerated, Max) by deployment, instance = AppRoleInstance",
                          "| project deployment, instance, state = Max, at = TimeGenerated")),
    # self-hosted serving: the fine-tuned model's Azure ML online deployment, its platform metrics exported
    # to the workspace (AzureMetrics) by its diagnostic setting; locally: this host's GPUs, if any
    Panel("serving-gpu", "Self-hosted serving: GPU utilisation and memory (%)", "infrastructure", "timechart",
          _lines("AzureMetrics", "| where TimeGenerated {TimeRange}",
                 '| where ResourceProvider == "MICROSOFT.MACHINELEARNINGSERVICES"',
                 '| where MetricName in ("GpuUtilizationPercentage", "GpuMemoryUtilizationPercentage")',
                 f"| summarize percent = avg(Average) by MetricName, {_GRAIN}", "| render timechart")),
    Panel("routing-split", "Routing split (requests by tier and deployment)", "infrastructure", "piechart", _lines(
        _metric(n.METRIC_REQUESTS),
        f'| extend route = strcat({_s(n.LLMOPS_TIER)}, " / ", {_s(n.LLMOPS_DEPLOYMENT)})',
        "| summarize requests = sum(Sum) by route", "| render piechart")),
    # --- model behaviour ---------------------------------------------------------------------
    Panel("tokens-by-deployment", "Tokens by deployment (input, cached input, output)", "model", "table", _lines(
        _CHAT, f"| extend deployment = {_s(n.LLMOPS_DEPLOYMENT)}",
        f"| summarize input = sum(toint({_p(n.GEN_AI_USAGE_INPUT_TOKENS)}) * ItemCount), "
        f"output = sum(toint({_p(n.GEN_AI_USAGE_OUTPUT_TOKENS)}) * ItemCount), "
        f"cached_input = sum(toint({_p(n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)}) * ItemCount) by deployment",
        "| order by input + output desc")),
    Panel("output-length", "Output length (tokens per answer)", "model", "barchart", _lines(
        _CHAT, f"| extend output_tokens = toint({_p(n.GEN_AI_USAGE_OUTPUT_TOKENS)})",
        "| summarize answers = sum(ItemCount) by bucket = bin(output_tokens, 50)", "| order by bucket asc",
        "| render columnchart")),
    Panel("cache-hit-rate", "Cache hit rate (%)", "model", "timechart", _lines(
        _metric(n.METRIC_CACHE_LOOKUPS), f"| extend status = {_s(n.LLMOPS_CACHE_STATUS)}",
        f'| summarize hits = sumif(Sum, status startswith "hit"), lookups = sum(Sum) by {_GRAIN}',
        "| extend hit_rate_percent = iff(lookups == 0, 0.0, 100.0 * hits / lookups)",
        "| project TimeGenerated, hit_rate_percent", "| render timechart")),
    Panel("cache-precision", "Cache precision (feedback score on cached answers)", "model", "timechart", _lines(
        _metric(n.METRIC_FEEDBACK_SCORE), f'| where {_s(n.LLMOPS_CACHE_STATUS)} startswith "hit"',
        f"| summarize score = sum(Sum) / sum(ItemCount) by cache = {_s(n.LLMOPS_CACHE_STATUS)}, {_GRAIN}",
        "| render timechart")),
    Panel("guardrail-violations-by-check", "Guardrail interventions by check", "model", "barchart", _lines(
        _metric(n.METRIC_GUARDRAIL_VERDICTS),
        f"| extend check = {_s(n.LLMOPS_GUARDRAIL_CHECK)}, action = {_s(n.LLMOPS_GUARDRAIL_ACTION)}, "
        f"stage = {_s(n.LLMOPS_GUARDRAIL_STAGE)}",
        '| where action in ("block", "redact", "flag")',
        f'| summarize violations = sum(Sum) by series = strcat(stage, ": ", check), {_GRAIN}',
        "| render columnchart")),
    Panel("topic-adherence", "Topic adherence (% of checked requests on an allowed topic)", "model", "timechart",
          _lines(_metric(n.METRIC_GUARDRAIL_VERDICTS), f'| where {_s(n.LLMOPS_GUARDRAIL_CHECK)} == "topics"',
                 f'| summarize adherent = sumif(Sum, {_s(n.LLMOPS_GUARDRAIL_ACTION)} == "pass"), checked = sum(Sum) '
                 f"by {_GRAIN}", "| extend adherence_percent = iff(checked == 0, 0.0, 100.0 * adherent / checked)",
                 "| project TimeGenerated, adherence_percent", "| render timechart")),
    Panel("cost-by-deployment", "Cost by deployment (USD)", "business", "barchart", _lines(
        _metric(n.METRIC_COST), f"| extend deployment = {_s(n.LLMOPS_DEPLOYMENT)}",
        f"| summarize cost_usd = sum(Sum) by deployment, {_GRAIN}", "| render columnchart")),
    # --- business ------------------------------------------------------------------------------
    Panel("feedback-score", "Feedback score (0..1) by deployment", "business", "timechart", _lines(
        _metric(n.METRIC_FEEDBACK_SCORE), f"| extend deployment = {_s(n.LLMOPS_DEPLOYMENT)}",
        f"| summarize score = sum(Sum) / sum(ItemCount) by deployment, {_GRAIN}", "| render timechart")),
    Panel("business-events", "Business events by type", "business", "timechart", _lines(
        _metric(n.METRIC_BUSINESS_EVENTS),
        f"| summarize events = sum(Sum) by event = {_s(n.LLMOPS_BUSINESS_EVENT)}, {_GRAIN}", "| render timechart")),
    Panel("task-completion-by-app", "Task completion and cost per completed task, per app", "business", "table",
          _lines(_BUSINESS_LOG, f"| extend app = {_s(n.LLMOPS_APP)}, event = {_s(n.LLMOPS_BUSINESS_EVENT)}, "
                 f"cost = todouble({_p(n.LLMOPS_COST_USD)})",
                 '| summarize completed = countif(event in ("task_completed", "conversion", "resolved")), '
                 'escalated = countif(event == "escalated_to_human"), completed_cost = sumif(cost, event in '
                 '("task_completed", "conversion", "resolved")) by app',
                 "| extend cost_per_completed_task = iff(completed == 0, 0.0, completed_cost / completed)",
                 "| order by completed desc")),
    Panel("satisfaction-by-app", "Satisfaction per app (feedback)", "business", "table", _lines(
        "AppTraces", "| where TimeGenerated {TimeRange}", '| where Message == "feedback"',
        f"| extend app = {_s(n.LLMOPS_APP)}, score = todouble({_p(n.LLMOPS_FEEDBACK_VALUE)})",
        "| summarize feedback = count(), satisfaction = avg(score), unhappy = countif(score < 0.5) by app",
        "| order by feedback desc")),
    Panel("retraining-runs", "Retraining runs by status", "business", "barchart", _lines(
        _metric(n.METRIC_RETRAINING_RUNS),
        f"| summarize runs = sum(Sum) by status = {_s(n.LLMOPS_RETRAINING_STATUS)}, bin(TimeGenerated, 1d)",
        "| render columnchart")),
    # --- one request's story (the workbook's RequestId parameter; locally the recent requests) ----
    Panel("request-story", "Request story (set RequestId)", "requests", "table", _lines(
        "union AppDependencies, AppTraces", "| where TimeGenerated {TimeRange}",
        f'| where {_s(n.LLMOPS_REQUEST_ID)} == "{{{REQUEST_ID_PARAMETER}}}"',
        "| project TimeGenerated, Type, Name, DurationMs, Success, ResultCode, Message, OperationId, Properties",
        "| order by TimeGenerated asc")),
)


def monitor_panel_key(monitor: str) -> str:
    return "monitor-" + monitor.replace("_", "-")


MONITOR_PANELS: tuple[Panel, ...] = tuple(
    Panel(monitor_panel_key(m.key), f"Monitor: {m.title} ({m.statistic})", m.level, "timechart", _lines(
        _metric(n.METRIC_MONITOR_VALUE), f'| where {_s(n.LLMOPS_MONITOR)} == "{m.key}"',
        f"| summarize value = max(Max) by status = {_s(n.LLMOPS_MONITOR_STATUS)}, {_GRAIN}", "| render timechart"))
    for m in MONITORS
)

PANELS: tuple[Panel, ...] = CORE_PANELS + MONITOR_PANELS
BY_KEY: dict[str, Panel] = {p.key: p for p in PANELS}
