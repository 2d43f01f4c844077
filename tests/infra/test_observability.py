"""The workbook and the alert rules query exactly the telemetry names the application emits.

Names are read from ``shared/observability/names.py`` at test time: renaming a metric or attribute
there without updating the workbook (infra/workbook/gateway.workbook.json) or the alert rules fails here.
"""

from __future__ import annotations

import json
import re
from types import ModuleType

import pytest

from infra.alert_rules import alert_rules
from infra.components.observability import iso_duration, load_workbook
from infra.monitor_alerts import monitor_alert_key
from shared.monitoring.definitions import MONITORS
from shared.observability import names
from tests.infra.conftest import ProgramRun

# A quoted telemetry name inside a KQL query: Name == "llmops.gateway.cost", Properties["gen_ai.token.type"].
TELEMETRY_NAME = re.compile(r'"((?:gen_ai|llmops|error|server|http)\.[A-Za-z0-9_.]+)"')

PANELS: dict[str, set[str]] = {
    "latency-p50-p95": {names.GEN_AI_OPERATION_NAME},
    "tokens-by-deployment": {
        names.GEN_AI_USAGE_INPUT_TOKENS,
        names.GEN_AI_USAGE_OUTPUT_TOKENS,
        names.LLMOPS_DEPLOYMENT,
    },
    "cost-by-deployment": {names.METRIC_COST, names.LLMOPS_DEPLOYMENT},
    "cache-hit-rate": {names.METRIC_CACHE_LOOKUPS, names.LLMOPS_CACHE_STATUS},
    "routing-split": {names.METRIC_REQUESTS, names.LLMOPS_TIER, names.LLMOPS_DEPLOYMENT},
    "guardrail-violations-by-check": {
        names.METRIC_GUARDRAIL_VERDICTS,
        names.LLMOPS_GUARDRAIL_CHECK,
        names.LLMOPS_GUARDRAIL_ACTION,
    },
    "feedback-score": {names.METRIC_FEEDBACK_SCORE},
    "errors-and-429s": {
        names.METRIC_REQUESTS,
        names.LLMOPS_STATUS,
        names.METRIC_RATE_LIMITED,
        names.HTTP_RESPONSE_STATUS_CODE,
        names.LLMOPS_LIMIT_KIND,
    },
}


def defined_names(module: ModuleType = names) -> set[str]:
    """Every telemetry name the application defines (string constants of the names module)."""
    return {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str) and "." in v}


def names_in(query: str) -> set[str]:
    return set(TELEMETRY_NAME.findall(query))


def workbook_queries() -> dict[str, str]:
    return {item["name"]: item["content"]["query"] for item in load_workbook()["items"] if item["type"] == 3}


def test_workbook_queries_use_only_names_the_application_defines():
    queries = workbook_queries()
    used = set().union(*(names_in(q) for q in queries.values()))
    assert len(used) >= 12
    assert used <= defined_names(), f"unknown telemetry names: {sorted(used - defined_names())}"
    metrics = set().union(*(re.findall(r'Name == "([^"]+)"', q) for q in queries.values()))
    assert metrics <= set(names.ALL_METRICS)


def test_renaming_a_name_in_the_code_is_caught(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(names, "METRIC_COST", "llmops.gateway.spend")
    used = set().union(*(names_in(q) for q in workbook_queries().values()))
    assert used - defined_names() == {"llmops.gateway.cost"}


@pytest.mark.parametrize(("panel", "required"), sorted(PANELS.items()))
def test_workbook_has_each_panel_on_the_right_names(panel: str, required: set[str]):
    query = workbook_queries()[panel]
    assert required <= names_in(query), f"{panel} misses {sorted(required - names_in(query))}"


def test_latency_panel_shows_p50_and_p95():
    query = workbook_queries()["latency-p50-p95"]
    assert "percentilew(DurationMs, ItemCount, 50)" in query and "percentilew(DurationMs, ItemCount, 95)" in query
    assert query.startswith("AppDependencies")


def test_span_panels_weight_sampled_spans_by_item_count():
    """A kept span stands for ItemCount requests: unweighted counts and percentiles would undercount."""
    for panel, query in workbook_queries().items():
        if not query.startswith("AppDependencies") or "summarize" not in query:
            continue
        assert "count()" not in query and "percentile(" not in query and "avg(" not in query, panel
        assert "ItemCount" in query, panel


def test_every_query_reads_the_workspace_over_the_selected_time_range():
    workbook = load_workbook()
    assert workbook["version"] == "Notebook/1.0"
    for item in workbook["items"]:
        if item["type"] == 3:
            assert item["content"]["resourceType"] == "microsoft.operationalinsights/workspaces"
            assert item["content"]["timeContextFromParameter"] == "TimeRange"
            assert "{TimeRange}" in item["content"]["query"]


def test_deployed_workbook_points_at_the_workspace(platform: ProgramRun):
    workspace_id = platform.one("operationalinsights:Workspace").id
    workbook = platform.one("applicationinsights:Workbook").inputs
    assert workbook["kind"] == "shared" and workbook["category"] == "workbook"
    assert workbook["sourceId"] == workspace_id.lower()
    serialized = json.loads(workbook["serializedData"])
    assert serialized["fallbackResourceIds"] == [workspace_id]
    assert serialized["items"] == load_workbook()["items"]


def _alerts(platform: ProgramRun) -> dict[str, dict]:
    return {a.name.removeprefix("alert-"): a.inputs for a in platform.of_type("monitor:ScheduledQueryRule")}


def test_alert_thresholds_come_from_config(platform: ProgramRun):
    cfg = platform.config
    alerts = _alerts(platform)
    threshold = {key: alert["criteria"]["allOf"][0]["threshold"] for key, alert in alerts.items()}
    assert threshold["ttft-p95"] == cfg.alerts.ttft_p95_ms == 750
    assert threshold["overhead-p95"] == cfg.alerts.overhead_p95_ms
    assert threshold["http-5xx-rate"] == cfg.alerts.error_5xx_percent == 3.5
    assert threshold["budget-burn"] == pytest.approx(cfg.budget.daily_usd * cfg.budget.burn_alert_percent / 100)
    assert threshold["guardrail-violation-rate"] == cfg.alerts.guardrail_violation_percent
    assert threshold["retraining-failures"] == cfg.alerts.retraining_failures
    assert alerts["retraining-failures"]["criteria"]["allOf"][0]["operator"] == "GreaterThanOrEqual"
    for alert in alerts.values():
        assert alert["severity"] == cfg.alerts.severity
    assert alerts["ttft-p95"]["windowSize"] == iso_duration(cfg.alerts.window_minutes)
    assert alerts["ttft-p95"]["evaluationFrequency"] == iso_duration(cfg.alerts.evaluation_frequency_minutes)


def test_alert_rules_query_the_workspace_and_notify_the_owners(platform: ProgramRun):
    workspace_id = platform.one("operationalinsights:Workspace").id
    action_group = platform.one("monitor:ActionGroup")
    assert [r["emailAddress"] for r in action_group.inputs["emailReceivers"]] == list(platform.config.owners)
    alerts = _alerts(platform)
    assert set(alerts) == {
        "ttft-p95",
        "overhead-p95",
        "http-5xx-rate",
        "budget-burn",
        "guardrail-violation-rate",
        "retraining-failures",
    } | {monitor_alert_key(m.key) for m in MONITORS}
    for alert in alerts.values():
        assert alert["scopes"] == [workspace_id]
        assert alert["actions"]["actionGroups"] == [action_group.id]
        assert alert["kind"] == "LogAlert"
        condition = alert["criteria"]["allOf"][0]
        assert condition["metricMeasureColumn"] in condition["query"]
        assert names_in(condition["query"]) <= defined_names()


def test_alert_queries_name_what_they_measure(stack_values):
    from infra.config import parse_stack_config

    cfg = parse_stack_config(stack_values())
    rules = {rule.key: rule for rule in alert_rules(cfg.alerts, cfg.budget)}
    assert names.METRIC_COST in names_in(rules["budget-burn"].query)
    assert {names.METRIC_GUARDRAIL_VERDICTS, names.METRIC_REQUESTS} <= names_in(rules["guardrail-violation-rate"].query)
    assert names.METRIC_RETRAINING_RUNS in names_in(rules["retraining-failures"].query)
    # latency alerts: time to first token of streams and the gateway's overhead, never whole streams,
    # from sampled spans weighted by how many requests each stands for
    assert {names.LLMOPS_TTFT_MS, names.LLMOPS_STREAMED} <= names_in(rules["ttft-p95"].query)
    assert names.LLMOPS_OVERHEAD_MS in names_in(rules["overhead-p95"].query)
    for key in ("ttft-p95", "overhead-p95"):
        assert "percentilew(value_ms, ItemCount, 95)" in rules[key].query and "DurationMs" not in rules[key].query
    assert {names.METRIC_REQUESTS, names.HTTP_RESPONSE_STATUS_CODE} <= names_in(rules["http-5xx-rate"].query)


def test_iso_durations():
    assert [iso_duration(m) for m in (5, 60, 120, 1440, 45)] == ["PT5M", "PT1H", "PT2H", "P1D", "PT45M"]
