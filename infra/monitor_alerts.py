"""One alert rule per drift monitor, made from the monitor definitions (``shared.monitoring.definitions``)
that the timer runs and the workbook and dashboard draw: it fires when the monitor alarmed
(``llmops.monitor.alarms``) for any app in the window. The timer runs every 15 minutes, so the window
is at least 30 minutes (one missed run does not hide an alarm)."""

from __future__ import annotations

from infra.alert_rules import AlertRule, _prop
from infra.config import AlertsConfig
from shared.monitoring.definitions import MONITORS
from shared.observability import names


def monitor_alert_key(monitor: str) -> str:
    return "monitor-" + monitor.replace("_", "-")


def monitor_alert_rules(alerts: AlertsConfig) -> list[AlertRule]:
    window = max(alerts.window_minutes, 30)
    return [
        AlertRule(
            key=monitor_alert_key(m.key),
            title=f"Drift monitor: {m.title}",
            description=f"the {m.key} monitor alarmed ({m.statistic}); its results name what moved and example "
                        "request ids (monitor_results, llmops trace)",
            query="\n".join([
                "AppMetrics",
                f'| where Name == "{names.METRIC_MONITOR_ALARMS}"',
                f'| where {_prop(names.LLMOPS_MONITOR)} == "{m.key}"',
                "| summarize alarms = sum(Sum)",
            ]),
            measure="alarms",
            threshold=0,
            window_minutes=window,
            frequency_minutes=alerts.evaluation_frequency_minutes,
        )
        for m in MONITORS
    ]
