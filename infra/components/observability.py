"""Observability: the Azure Monitor workbook (its JSON is ``infra/workbook/gateway.workbook.json``) and
the log alert rules of ``infra/alert_rules.py``, all reading the Log Analytics workspace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi_azure_native import applicationinsights, monitor

from infra.alert_rules import AlertRule
from infra.components.common import COMPONENT_PREFIX, Placement

WORKBOOK_PATH = Path(__file__).resolve().parent.parent / "workbook" / "gateway.workbook.json"


def load_workbook(path: Path | None = None) -> dict[str, Any]:
    """The workbook built from the panel list (``infra.workbook_build``), or a JSON file's."""
    if path is None:
        from infra.workbook_build import build_workbook

        return build_workbook()
    return json.loads(path.read_text(encoding="utf-8"))


def serialize_workbook(workbook: dict[str, Any], workspace_id: str) -> str:
    """The workbook as Azure stores it, with its queries pointed at the workspace."""
    return json.dumps({**workbook, "fallbackResourceIds": [workspace_id]}, separators=(",", ":"))


def iso_duration(minutes: int) -> str:
    """Minutes as the ISO 8601 duration Azure Monitor expects (PT5M, PT1H, P1D)."""
    if minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"


@dataclass(frozen=True)
class ObservabilityArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    action_group_id: pulumi.Input[str]
    rules: Sequence[AlertRule]
    severity: int
    # The workspace-based Application Insights component that creates the App* tables the rules query.
    app_insights: pulumi.Resource | None = None


class Observability(pulumi.ComponentResource):
    workbook: applicationinsights.Workbook
    alerts: dict[str, monitor.ScheduledQueryRule]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Observability", name, None, opts)
        p = args.placement
        workbook = load_workbook()
        self.workbook = applicationinsights.Workbook(
            "workbook",
            resource_name_=p.names.workbook,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind=applicationinsights.WorkbookSharedTypeKind.SHARED,
            category="workbook",
            display_name=f"LLMOps gateway ({p.names.stack})",
            description="Gateway latency, tokens, cost, cache, routing, guardrails, feedback, errors",
            version="Notebook/1.0",
            serialized_data=pulumi.Output.from_input(args.workspace_id).apply(
                lambda workspace_id: serialize_workbook(workbook, workspace_id)
            ),
            source_id=pulumi.Output.from_input(args.workspace_id).apply(str.lower),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.alerts = {
            rule.key: monitor.ScheduledQueryRule(
                f"alert-{rule.key}",
                rule_name=f"{rule.key}-{p.names.stack}",
                resource_group_name=p.resource_group_name,
                location=p.location,
                kind=monitor.Kind.LOG_ALERT,
                display_name=rule.title,
                description=rule.description,
                severity=args.severity,
                enabled=True,
                scopes=[args.workspace_id],
                evaluation_frequency=iso_duration(rule.frequency_minutes),
                window_size=iso_duration(rule.window_minutes),
                auto_mitigate=True,
                criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                    all_of=[
                        monitor.ConditionArgs(
                            query=rule.query,
                            time_aggregation=monitor.TimeAggregation.MAXIMUM,
                            metric_measure_column=rule.measure,
                            operator=rule.operator,
                            threshold=rule.threshold,
                            failing_periods=monitor.ConditionFailingPeriodsArgs(
                                number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                            ),
                        )
                    ]
                ),
                actions=monitor.ActionsArgs(action_groups=[args.action_group_id]),
                # In a new workspace the App* tables appear with the first telemetry: Azure would reject
                # the query as invalid until then, so it is not validated at creation.
                skip_query_validation=True,
                tags=dict(p.tags),
                opts=p.child(self, depends_on=[args.app_insights] if args.app_insights else None),
            )
            for rule in args.rules
        }
        self.workbook_url: pulumi.Output[str] = self.workbook.id.apply(
            lambda workbook_id: f"https://portal.azure.com/#resource{workbook_id}/workbook"
        )
        self.register_outputs({"workbook_url": self.workbook_url})
