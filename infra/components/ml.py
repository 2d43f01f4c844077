"""ML: the Azure ML workspace (its own storage and Key Vault, the shared Application Insights), a GPU
cluster that costs nothing while idle, and Event Grid delivering workspace events to the model-events
function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import eventgrid, keyvault, storage
from pulumi_azure_native import machinelearningservices as aml

from infra.components.common import COMPONENT_PREFIX, Placement

# What the retraining loop reacts to (see shared/queues.FUNCTION_MODEL_EVENTS).
MODEL_EVENT_TYPES: tuple[str, ...] = (
    "Microsoft.MachineLearningServices.RunCompleted",
    "Microsoft.MachineLearningServices.RunStatusChanged",
    "Microsoft.MachineLearningServices.ModelRegistered",
)
GPU_MIN_NODES = 0  # never pay for an idle GPU
MAX_DELIVERY_ATTEMPTS = 10  # then the event is dead-lettered
EVENT_TTL_MINUTES = 1440


@dataclass(frozen=True)
class DeadLetter:
    storage_account_id: pulumi.Input[str]
    container: str


@dataclass(frozen=True)
class MLArgs:
    placement: Placement
    tenant_id: pulumi.Input[str]
    app_insights_id: pulumi.Input[str]
    gpu_vm_size: str
    gpu_max_nodes: int
    gpu_low_priority: bool
    gpu_idle_minutes: int
    key_vault_retention_days: int
    key_vault_purge_protection: bool


def key_vault_properties(
    tenant_id: pulumi.Input[str], retention_days: int, purge_protection: bool
) -> keyvault.VaultPropertiesArgs:
    """Key Vault posture shared by every vault in the platform: RBAC authorization, soft delete."""
    return keyvault.VaultPropertiesArgs(
        tenant_id=tenant_id,
        sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
        enable_rbac_authorization=True,
        enable_soft_delete=True,
        soft_delete_retention_in_days=retention_days,
        enable_purge_protection=True if purge_protection else None,  # cannot be set to false once on
        enabled_for_deployment=False,
        enabled_for_disk_encryption=False,
        enabled_for_template_deployment=False,
    )


class ML(pulumi.ComponentResource):
    workspace: aml.Workspace
    gpu_cluster: aml.Compute

    def __init__(self, name: str, args: MLArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:ML", name, None, opts)
        p = args.placement
        # Azure ML's default datastores authenticate with this account's keys (kept in the workspace's
        # Key Vault); the app's own storage account is the one with shared keys off.
        self.storage_account = storage.StorageAccount(
            "ml-storage",
            account_name=p.names.ml_storage_account,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            allow_blob_public_access=False,
            allow_cross_tenant_replication=False,
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.key_vault = keyvault.Vault(
            "ml-key-vault",
            vault_name=p.names.ml_key_vault,
            resource_group_name=p.resource_group_name,
            location=p.location,
            properties=key_vault_properties(
                args.tenant_id, args.key_vault_retention_days, args.key_vault_purge_protection
            ),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.workspace = aml.Workspace(
            "workspace",
            workspace_name=p.names.ml_workspace,
            resource_group_name=p.resource_group_name,
            location=p.location,
            friendly_name=p.names.ml_workspace,
            identity=aml.ManagedServiceIdentityArgs(type=aml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            sku=aml.SkuArgs(name="Basic", tier=aml.SkuTier.BASIC),
            storage_account=self.storage_account.id,
            key_vault=self.key_vault.id,
            application_insights=args.app_insights_id,
            public_network_access=aml.PublicNetworkAccessType.ENABLED,
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.gpu_cluster = aml.Compute(
            "gpu-cluster",
            compute_name=p.names.gpu_cluster,
            workspace_name=self.workspace.name,
            resource_group_name=p.resource_group_name,
            location=p.location,
            identity=aml.ManagedServiceIdentityArgs(type=aml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            properties=aml.AmlComputeArgs(
                compute_type="AmlCompute",
                disable_local_auth=True,
                description="GPU cluster for LoRA/QLoRA fine-tuning; scales to zero when idle",
                properties=aml.AmlComputePropertiesArgs(
                    vm_size=args.gpu_vm_size,
                    vm_priority=aml.VmPriority.LOW_PRIORITY if args.gpu_low_priority else aml.VmPriority.DEDICATED,
                    os_type=aml.OsType.LINUX,
                    remote_login_port_public_access=aml.RemoteLoginPortPublicAccess.DISABLED,
                    scale_settings=aml.ScaleSettingsArgs(
                        min_node_count=GPU_MIN_NODES,
                        max_node_count=args.gpu_max_nodes,
                        node_idle_time_before_scale_down=f"PT{args.gpu_idle_minutes}M",
                    ),
                ),
            ),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        # The register step runs as this identity (AzureML Data Scientist on the workspace, in security).
        self.gpu_cluster_principal_id: pulumi.Output[str] = self.gpu_cluster.identity.apply(
            lambda identity: identity.principal_id if identity else ""
        )
        self.event_topic = eventgrid.SystemTopic(
            "ml-events",
            system_topic_name=p.names.ml_event_topic,
            resource_group_name=p.resource_group_name,
            location=p.location,
            source=self.workspace.id,
            topic_type="Microsoft.MachineLearningServices.Workspaces",
            # its identity writes undeliverable events to the dead-letter container (no keys)
            identity=eventgrid.IdentityInfoArgs(type=eventgrid.IdentityType.SYSTEM_ASSIGNED),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.event_topic_principal_id: pulumi.Output[str] = self.event_topic.identity.apply(
            lambda identity: identity.principal_id if identity and identity.principal_id else "")
        self.register_outputs({"workspace": self.workspace.name, "gpu_cluster": self.gpu_cluster.name})

    def subscribe_model_events(
        self,
        function_app_id: pulumi.Input[str],
        function_name: str,
        placement: Placement,
        dead_letter: DeadLetter,
        after: Sequence[pulumi.Resource] = (),
    ) -> eventgrid.SystemTopicEventSubscription:
        """Deliver workspace events to one function. Event Grid checks that the function exists, so
        this comes after the code deployment has listed it (``after``). The function only enqueues
        (it answers in milliseconds), so a few delivery attempts suffice; what still cannot be
        delivered goes to the dead-letter container, written with the topic's own identity."""
        function_id = pulumi.Output.from_input(function_app_id).apply(
            lambda app_id: f"{app_id}/functions/{function_name}"
        )
        self.event_subscription = eventgrid.SystemTopicEventSubscription(
            "model-events",
            event_subscription_name="model-events",
            system_topic_name=self.event_topic.name,
            resource_group_name=placement.resource_group_name,
            destination=eventgrid.AzureFunctionEventSubscriptionDestinationArgs(
                endpoint_type="AzureFunction",
                resource_id=function_id,
                max_events_per_batch=1,
                preferred_batch_size_in_kilobytes=64,
            ),
            filter=eventgrid.EventSubscriptionFilterArgs(included_event_types=list(MODEL_EVENT_TYPES)),
            event_delivery_schema=eventgrid.EventDeliverySchema.EVENT_GRID_SCHEMA,
            retry_policy=eventgrid.RetryPolicyArgs(max_delivery_attempts=MAX_DELIVERY_ATTEMPTS,
                                                   event_time_to_live_in_minutes=EVENT_TTL_MINUTES),
            dead_letter_with_resource_identity=eventgrid.DeadLetterWithResourceIdentityArgs(
                identity=eventgrid.EventSubscriptionIdentityArgs(
                    type=eventgrid.EventSubscriptionIdentityType.SYSTEM_ASSIGNED),
                dead_letter_destination=eventgrid.StorageBlobDeadLetterDestinationArgs(
                    endpoint_type="StorageBlob",
                    resource_id=dead_letter.storage_account_id,
                    blob_container_name=dead_letter.container,
                ),
            ),
            opts=placement.child(self, depends_on=list(after)),
        )
        return self.event_subscription
