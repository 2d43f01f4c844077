"""The workbook, the local dashboard and the alert rules come from one list: ``PANELS`` (and the
monitor definitions behind its monitor panels), so they cannot diverge."""

from __future__ import annotations

import json

from infra.alert_rules import AlertRule
from infra.config import AlertsConfig
from infra.monitor_alerts import monitor_alert_key, monitor_alert_rules
from infra.workbook_build import WORKBOOK_FILE, build_workbook
from llmops.dashboard.series import SERIES, Sources, figures
from llmops.synthetic_traffic import generate
from shared.monitoring.definitions import MONITORS
from shared.observability import names
from shared.observability.panels import MONITOR_PANELS, PANELS, monitor_panel_key


def test_the_workbook_and_the_dashboard_draw_the_same_panels() -> None:
    workbook = [item["name"] for item in build_workbook()["items"] if item["type"] == 3]
    dashboard = [figure["key"] for figure in figures(Sources(0, 3600))]
    assert sorted(workbook) == sorted(dashboard) == sorted(p.key for p in PANELS) == sorted(SERIES)
    assert len(set(workbook)) == len(workbook)
    titles = {item["name"]: item["content"]["title"] for item in build_workbook()["items"] if item["type"] == 3}
    assert titles == {f["key"]: f["title"] for f in figures(Sources(0, 3600))}


def test_the_committed_workbook_file_is_the_generated_one() -> None:
    assert json.loads(WORKBOOK_FILE.read_text()) == build_workbook(), "run: python -m infra.workbook_build"


def test_each_monitor_has_a_panel_and_an_alert_rule_from_its_definition() -> None:
    rules: list[AlertRule] = monitor_alert_rules(AlertsConfig())
    assert [r.key for r in rules] == [monitor_alert_key(m.key) for m in MONITORS]
    assert [p.key for p in MONITOR_PANELS] == [monitor_panel_key(m.key) for m in MONITORS]
    for monitor, rule, panel in zip(MONITORS, rules, MONITOR_PANELS, strict=True):
        assert f'== "{monitor.key}"' in rule.query and names.METRIC_MONITOR_ALARMS in rule.query
        assert f'== "{monitor.key}"' in panel.kql and names.METRIC_MONITOR_VALUE in panel.kql
        assert rule.window_minutes >= 30


def test_every_level_is_covered() -> None:
    levels = {p.level for p in PANELS}
    assert levels == {"infrastructure", "model", "business", "requests"}


def test_local_figures_hold_the_traffic() -> None:
    records, feedback = generate(1_800_000_000.0, 1_800_000_000.0 + 3 * 3600, seed=2)
    src = Sources(1_800_000_000.0, 1_800_000_000.0 + 3 * 3600, requests=records, feedback=feedback)
    by_key = {f["key"]: f["data"] for f in figures(src)}
    requests = by_key["requests-by-status"]
    assert sum(v or 0 for d in requests["datasets"] for v in d["data"]) == len(records)
    assert {d["label"] for d in by_key["latency-p50-p95"]["datasets"]} == {"p50", "p95"}
    table = by_key["latency-by-deployment"]
    assert table["columns"][0] == "deployment" and table["rows"][0][1] == len(records)
    errors = {d["label"] for d in by_key["errors-and-429s"]["datasets"]}
    assert "429 returned" in errors and "500 internal_error" in errors
    pie = by_key["routing-split"]
    assert pie["labels"] == ["small / gpt-4o-mini"] and pie["datasets"][0]["data"] == [len(records)]
    violations = by_key["guardrail-violations-by-check"]["datasets"]
    assert [d["label"] for d in violations] == ["input: pii"]
    assert len(by_key["request-story"]["rows"]) == 25
