"""Diagnostics: every data-plane resource sends its resource logs and platform metrics to the workspace.

Without these, a 403 from Cosmos DB, a throttled Azure OpenAI deployment or a Key Vault access denial
is visible only in the portal's per-resource blades, never in the workspace the alerts and the
workbook query. One diagnostic setting per resource: the ``allLogs`` category group (every category
the resource has, including new ones) and ``AllMetrics``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor

from infra.components.common import COMPONENT_PREFIX

SETTING_NAME = "to-log-analytics"


@dataclass(frozen=True)
class DiagnosticsArgs:
    workspace_id: pulumi.Input[str]
    resources: Mapping[str, pulumi.Input[str]]  # key (part of the logical name) -> resource id


class Diagnostics(pulumi.ComponentResource):
    settings: dict[str, monitor.DiagnosticSetting]

    def __init__(self, name: str, args: DiagnosticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Diagnostics", name, None, opts)
        self.settings = {
            key: monitor.DiagnosticSetting(
                f"diagnostics-{key}",
                name=SETTING_NAME,
                resource_uri=resource_id,
                workspace_id=args.workspace_id,
                # resource-specific tables (e.g. CDBDataPlaneRequests) where the resource offers them
                log_analytics_destination_type="Dedicated",
                logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)],
                metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for key, resource_id in args.resources.items()
        }
        self.register_outputs({})
