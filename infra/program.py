"""The platform: every component wired together, in dependency order, and the stack outputs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, resources

from infra.alert_rules import alert_rules
from infra.app_settings import AppSettingsInputs, AzureMLTarget, build_app_settings
from infra.components.ai import AI, AIArgs
from infra.components.app import DEAD_LETTER_CONTAINER, App, AppArgs
from infra.components.code import Code, CodeArgs, deploy_command
from infra.components.common import Placement
from infra.components.data import Data, DataArgs
from infra.components.diagnostics import Diagnostics, DiagnosticsArgs
from infra.components.ml import ML, DeadLetter, MLArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.network import OPENAI_ZONE, Network, NetworkArgs
from infra.components.observability import Observability, ObservabilityArgs
from infra.components.security import RoleGrant, Security, SecurityArgs
from infra.config import ConfigError, StackConfig
from infra.model_checks import retirement_warnings
from infra.monitor_alerts import monitor_alert_rules
from infra.naming import SUFFIX_LENGTH, Names
from llmops.packaging import MODEL_ARCHIVE_DIR
from shared import queues
from shared.config import Settings
from shared.store.catalog import CONTAINERS

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent


def platform_tags(cfg: StackConfig, stack: str) -> dict[str, str]:
    """Tags on every taggable resource (stack config ``tags`` add to or override these)."""
    return {"project": "llmops", "stack": stack, "managed-by": "pulumi", "owner": cfg.owners[0], **cfg.tags}


def build_platform(cfg: StackConfig, stack: str, repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """Declare every resource of the platform; return the stack outputs (name -> value)."""
    names = Names(cfg.name_prefix, stack, name_suffix(cfg)).validate()
    for warning in retirement_warnings(cfg):
        pulumi.log.warn(warning)
    tags = platform_tags(cfg, stack)
    client = authorization.get_client_config_output()

    group = resources.ResourceGroup("rg", resource_group_name=names.resource_group, location=cfg.location, tags=tags)
    placement = Placement(resource_group_name=group.name, location=cfg.location, tags=tags, names=names,
                          private_network=cfg.network.private)
    net = Network("network", NetworkArgs(placement, cfg.network.address_space)) if cfg.network.private else None

    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(placement, owner_emails=cfg.owners, log_retention_days=cfg.monitoring.log_retention_days),
    )
    database = Settings.model_fields["cosmos_database"].default
    data = Data("data", DataArgs(placement, database_name=database, containers=CONTAINERS))
    ai = AI(
        "ai",
        AIArgs(
            placement,
            openai_location=cfg.openai.location or cfg.location,
            deployments=cfg.openai.deployments,
            language=cfg.guardrails.language_pii,
        ),
    )
    app = App(
        "app",
        AppArgs(
            placement,
            queues=queues.ALL_QUEUES,
            poison_queue=queues.poison_queue,
            always_ready_http=cfg.function_app.always_ready_http,
            maximum_instances=cfg.function_app.maximum_instances,
            instance_memory_mb=cfg.function_app.instance_memory_mb,
            subnet_id=net.app_subnet_id if net is not None else None,
            http_per_instance_concurrency=cfg.function_app.http_concurrency(),
            app_settings=lambda storage_account_name: build_app_settings(
                AppSettingsInputs(
                    storage_account_name=storage_account_name,
                    cosmos_endpoint=data.account.document_endpoint,
                    cosmos_database=database,
                    openai_endpoint=ai.openai_endpoint,
                    openai_api_version=cfg.openai.api_version,
                    deployments=cfg.openai.deployments,
                    default_deployment=cfg.openai.first_of_tier("small").alias,
                    app_insights_connection_string=monitoring.app_insights.connection_string,
                    content_safety_endpoint=ai.content_safety_endpoint,
                    language_endpoint=ai.language_endpoint,
                    embedding_model_dir=MODEL_ARCHIVE_DIR,
                    trace_sampling_ratio=cfg.monitoring.trace_sampling_ratio,
                    entra_tenant_id=client.tenant_id,
                    entra_audience=cfg.entra_audience,
                    # The ML component comes later; its names are fixed by infra.naming.
                    azureml=AzureMLTarget(
                        subscription_id=client.subscription_id,
                        resource_group=names.resource_group,
                        workspace=names.ml_workspace,
                        compute=names.gpu_cluster,
                        regression_set=cfg.ml.regression_set,
                        base_model=cfg.ml.base_model,
                        production_model=cfg.ml.production_model,
                    ),
                )
            ),
        ),
    )
    ml = ML(
        "ml",
        MLArgs(
            placement,
            tenant_id=client.tenant_id,
            app_insights_id=monitoring.app_insights.id,
            gpu_vm_size=cfg.ml.gpu_vm_size,
            gpu_max_nodes=cfg.ml.gpu_max_nodes,
            gpu_low_priority=cfg.ml.gpu_low_priority,
            gpu_idle_minutes=cfg.ml.gpu_idle_minutes,
            key_vault_retention_days=cfg.key_vault.soft_delete_retention_days,
            key_vault_purge_protection=cfg.key_vault.purge_protection,
        ),
    )
    grants = [
        RoleGrant("openai-user", "Cognitive Services OpenAI User", ai.openai.id),
        RoleGrant("content-safety-user", "Cognitive Services User", ai.content_safety.id),
        RoleGrant("storage-blob-owner", "Storage Blob Data Owner", app.storage_account.id),
        RoleGrant("storage-queue-contributor", "Storage Queue Data Contributor", app.storage_account.id),
        RoleGrant("ml-data-scientist", "AzureML Data Scientist", ml.workspace.id),
        RoleGrant("telemetry-publisher", "Monitoring Metrics Publisher", monitoring.app_insights.id),
        # Event Grid dead-letters undeliverable model events into the app's storage, as the topic's identity
        RoleGrant(
            "ml-events-dead-letter",
            "Storage Blob Data Contributor",
            app.dead_letter_scope,
            principal_id=ml.event_topic_principal_id,
            principal_name=names.ml_event_topic,
        ),
        # The pipeline's register step registers the model as the compute's identity.
        RoleGrant(
            "gpu-cluster-ml-data-scientist",
            "AzureML Data Scientist",
            ml.workspace.id,
            principal_id=ml.gpu_cluster_principal_id,
            principal_name=f"{names.ml_workspace}/{names.gpu_cluster}",
        ),
    ]
    if ai.language is not None:
        grants.append(RoleGrant("language-user", "Cognitive Services User", ai.language.id))
    security = Security(
        "security",
        SecurityArgs(
            placement,
            tenant_id=client.tenant_id,
            subscription_id=client.subscription_id,
            principal_id=app.principal_id,
            grants=grants,
            cosmos_account_name=data.account.name,
            cosmos_account_id=data.account.id,
            cosmos_database=database,
            key_vault_retention_days=cfg.key_vault.soft_delete_retention_days,
            key_vault_purge_protection=cfg.key_vault.purge_protection,
            operators=cfg.operators,
        ),
    )

    package_path = (INFRA_DIR / cfg.function_app.package_path).resolve()
    outputs: dict[str, Any] = {}
    if cfg.function_app.code_deployment == "az":
        sha256 = _package_sha256(repo_root, package_path, build=cfg.function_app.build_package)
        code = Code(
            "code",
            CodeArgs(
                resource_group_name=group.name,
                function_app_name=app.function_app.name,
                package_path=str(package_path),
                package_sha256=sha256,
                after=security.all_assignments,
                wait_for_function=queues.FUNCTION_MODEL_EVENTS,
                timeout_minutes=cfg.function_app.deploy_timeout_minutes,
            ),
        )
        ml.subscribe_model_events(
            app.function_app.id, queues.FUNCTION_MODEL_EVENTS, placement,
            DeadLetter(app.storage_account.id, DEAD_LETTER_CONTAINER), after=[code, *security.all_assignments])
        outputs["packageSha256"] = sha256
    else:
        pulumi.log.warn(
            "functionApp.codeDeployment is 'none': deploy the package yourself (deployCommand output), "
            "then switch to 'az' or create the Event Grid subscription to the model-events function"
        )

    observability = Observability(
        "observability",
        ObservabilityArgs(
            placement,
            workspace_id=monitoring.workspace.id,
            action_group_id=monitoring.action_group.id,
            rules=alert_rules(cfg.alerts, cfg.budget) + monitor_alert_rules(cfg.alerts),
            severity=cfg.alerts.severity,
            app_insights=monitoring.app_insights,
        ),
    )

    if net is not None:
        private_endpoints(net, data, ai, app)
    diagnostics_of = {"cosmos": data.account.id, "openai": ai.openai.id, "content-safety": ai.content_safety.id,
                      "key-vault": security.key_vault.id, "function-app": app.function_app.id}
    Diagnostics("diagnostics", DiagnosticsArgs(workspace_id=monitoring.workspace.id, resources=diagnostics_of))

    outputs.update(
        {
            "gatewayUrl": app.gateway_url,
            "resourceGroup": group.name,
            "nameSuffix": names.suffix,
            "functionApp": app.function_app.name,
            "storageAccount": app.storage_account.name,
            "cosmosAccount": data.account.name,
            "cosmosEndpoint": data.account.document_endpoint,
            "cosmosDatabase": database,
            "openaiAccount": ai.openai.name,
            "openaiEndpoint": ai.openai_endpoint,
            "contentSafetyAccount": ai.content_safety.name,
            "contentSafetyEndpoint": ai.content_safety_endpoint,
            "keyVault": security.key_vault.name,
            "mlWorkspace": ml.workspace.name,
            "gpuCluster": ml.gpu_cluster.name,
            "logAnalyticsWorkspace": monitoring.workspace.name,
            "appInsights": monitoring.app_insights.name,
            "workbookUrl": observability.workbook_url,
            # for `llmops trace` links: LLMOPS_MONITOR_WORKSPACE_ID and LLMOPS_MONITOR_WORKBOOK_URL
            "logAnalyticsWorkspaceId": monitoring.workspace.id,
            "deployCommand": pulumi.Output.all(group.name, app.function_app.name).apply(
                lambda args: deploy_command(args[0], args[1], str(package_path))
            ),
        }
    )
    if ai.language is not None:
        outputs.update({"languageAccount": ai.language.name, "languageEndpoint": ai.language_endpoint})
    return outputs


def private_endpoints(net: Network, data: Data, ai: AI, app: App) -> None:
    """The data plane the Function App reaches, each through its private endpoint."""
    net.private_endpoint("cosmos", data.account.id, "Sql")
    net.private_endpoint("openai", ai.openai.id, "account", OPENAI_ZONE)
    net.private_endpoint("content-safety", ai.content_safety.id, "account")
    if ai.language is not None:
        net.private_endpoint("language", ai.language.id, "account")
    for service in ("blob", "queue", "table"):  # the host's storage and the app's queues
        net.private_endpoint(f"storage-{service}", app.storage_account.id, service)


def name_suffix(cfg: StackConfig) -> str | pulumi.Output[str]:
    """The global names' suffix: pinned in config, or random once per stack and kept in its state."""
    if cfg.name_suffix is not None:
        return cfg.name_suffix
    suffix = random.RandomString(
        "name-suffix", length=SUFFIX_LENGTH, special=False, upper=False, numeric=True,
        keepers={"namePrefix": cfg.name_prefix},  # a new prefix makes a new suffix; nothing else does
        opts=pulumi.ResourceOptions(protect=False))
    return suffix.result


def _package_sha256(repo_root: Path, package_path: Path, *, build: bool) -> str:
    if build:
        from llmops.packaging import PackagingError, build_package

        try:
            return build_package(repo_root, package_path).sha256
        except PackagingError as exc:
            raise ConfigError(f"cannot build the Function App package: {exc}") from exc
    if not package_path.is_file():
        raise ConfigError(
            f"functionApp.packagePath {package_path} does not exist: run `make package` first "
            f"(or set llmops:functionApp.buildPackage true)"
        )
    return hashlib.sha256(package_path.read_bytes()).hexdigest()
