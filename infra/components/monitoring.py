"""Monitoring: the Log Analytics workspace, workspace-based Application Insights, the owners' action group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights, monitor, operationalinsights

from infra.components.common import COMPONENT_PREFIX, Placement


@dataclass(frozen=True)
class MonitoringArgs:
    placement: Placement
    owner_emails: Sequence[str]
    log_retention_days: int


class Monitoring(pulumi.ComponentResource):
    workspace: operationalinsights.Workspace
    app_insights: applicationinsights.Component
    action_group: monitor.ActionGroup

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Monitoring", name, None, opts)
        p = args.placement
        self.workspace = operationalinsights.Workspace(
            "log",
            workspace_name=p.names.log_analytics,
            resource_group_name=p.resource_group_name,
            location=p.location,
            sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
            retention_in_days=args.log_retention_days,
            tags=dict(p.tags),
            opts=p.child(self),
        )
        # Workspace-based: telemetry lands in the workspace tables (AppDependencies, AppMetrics, ...),
        # which is what the workbook and the alert rules query.
        self.app_insights = applicationinsights.Component(
            "appi",
            resource_name_=p.names.app_insights,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind="web",
            application_type=applicationinsights.ApplicationType.WEB,
            ingestion_mode=applicationinsights.IngestionMode.LOG_ANALYTICS,
            workspace_resource_id=self.workspace.id,
            retention_in_days=args.log_retention_days,
            # No instrumentation-key ingestion: telemetry comes with an Entra ID token (the app's identity
            # holds Monitoring Metrics Publisher; APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD).
            disable_local_auth=True,
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.action_group = monitor.ActionGroup(
            "owners",
            action_group_name=p.names.action_group,
            resource_group_name=p.resource_group_name,
            location="Global",
            group_short_name=p.names.action_group_short,
            enabled=True,
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(
                    name=f"owner-{index}", email_address=email, use_common_alert_schema=True
                )
                for index, email in enumerate(args.owner_emails)
            ],
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.register_outputs(
            {
                "workspace_id": self.workspace.id,
                "app_insights_id": self.app_insights.id,
                "action_group_id": self.action_group.id,
            }
        )
