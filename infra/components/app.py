"""App: the storage account (queues, poison queues, the deployment container), the Flex Consumption plan
and the Function App with a system-assigned identity and identity-based connections only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage, web

from infra.components.common import COMPONENT_PREFIX, Placement

DEPLOYMENT_CONTAINER = "app-package"
# Events Event Grid could not deliver to the model-events function (after its retries) land here.
DEAD_LETTER_CONTAINER = "eventgrid-deadletter"
PYTHON_VERSION = "3.11"
MIN_TLS = "1.2"


@dataclass(frozen=True)
class AppArgs:
    placement: Placement
    queues: Sequence[str]
    poison_queue: Callable[[str], str]
    always_ready_http: int
    maximum_instances: int
    instance_memory_mb: int
    http_per_instance_concurrency: int
    # Built once the storage account exists (the settings name it): account name -> settings.
    app_settings: Callable[[pulumi.Output[str]], Mapping[str, pulumi.Input[str]]]
    # Flex Consumption VNet integration (llmops:network.private): the delegated subnet's id
    subnet_id: pulumi.Input[str] | None = None


class App(pulumi.ComponentResource):
    storage_account: storage.StorageAccount
    queues: dict[str, storage.Queue]
    plan: web.AppServicePlan
    function_app: web.WebApp

    def _container(self, name: str, container: str, p: Placement) -> storage.BlobContainer:
        return storage.BlobContainer(
            name,
            account_name=self.storage_account.name,
            resource_group_name=p.resource_group_name,
            container_name=container,
            public_access=storage.PublicAccess.NONE,
            opts=p.child(self),
        )

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:App", name, None, opts)
        p = args.placement
        self.storage_account = storage.StorageAccount(
            "storage",
            account_name=p.names.storage_account,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            allow_shared_key_access=False,  # Entra ID only: the host and our code use the managed identity
            public_network_access=p.public_access,
            default_to_o_auth_authentication=True,
            allow_blob_public_access=False,
            allow_cross_tenant_replication=False,
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.queues = {}
        for queue in args.queues:
            for queue_name in (queue, args.poison_queue(queue)):
                self.queues[queue_name] = storage.Queue(
                    f"queue-{queue_name}",
                    account_name=self.storage_account.name,
                    resource_group_name=p.resource_group_name,
                    queue_name=queue_name,
                    opts=p.child(self),
                )
        self.deployment_container = self._container("package-container", DEPLOYMENT_CONTAINER, p)
        self.dead_letter_container = self._container("dead-letter-container", DEAD_LETTER_CONTAINER, p)
        self.dead_letter_scope: pulumi.Output[str] = self.storage_account.id.apply(
            lambda account: f"{account}/blobServices/default/containers/{DEAD_LETTER_CONTAINER}")
        self.plan = web.AppServicePlan(
            "plan",
            name=p.names.function_plan,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind="functionapp",
            reserved=True,  # Linux
            sku=web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        blob_endpoint = self.storage_account.primary_endpoints.apply(lambda endpoints: endpoints.blob)
        settings = args.app_settings(self.storage_account.name)
        self.function_app = web.WebApp(
            "function-app",
            name=p.names.function_app,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind="functionapp,linux",
            server_farm_id=self.plan.id,
            https_only=True,
            client_affinity_enabled=False,
            virtual_network_subnet_id=args.subnet_id,
            identity=web.ManagedServiceIdentityArgs(type=web.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            site_config=web.SiteConfigArgs(
                app_settings=[web.NameValuePairArgs(name=k, value=v) for k, v in sorted(settings.items())],
                min_tls_version=MIN_TLS,
                scm_min_tls_version=MIN_TLS,
                ftps_state=web.FtpsState.DISABLED,
                http20_enabled=True,
            ),
            function_app_config=web.FunctionAppConfigArgs(
                deployment=web.FunctionsDeploymentArgs(
                    storage=web.FunctionsDeploymentStorageArgs(
                        type=web.FunctionsDeploymentStorageType.BLOB_CONTAINER,
                        value=blob_endpoint.apply(lambda url: f"{url}{DEPLOYMENT_CONTAINER}"),
                        authentication=web.FunctionsDeploymentStorageAuthenticationArgs(
                            type=web.AuthenticationType.SYSTEM_ASSIGNED_IDENTITY
                        ),
                    )
                ),
                runtime=web.FunctionsRuntimeArgs(name=web.RuntimeName.PYTHON, version=PYTHON_VERSION),
                scale_and_concurrency=web.FunctionsScaleAndConcurrencyArgs(
                    always_ready=[
                        web.FunctionsAlwaysReadyConfigArgs(name="http", instance_count=args.always_ready_http)
                    ]
                    if args.always_ready_http
                    else None,
                    maximum_instance_count=args.maximum_instances,
                    instance_memory_mb=args.instance_memory_mb,
                    triggers=web.FunctionsScaleAndConcurrencyTriggersArgs(
                        http=web.FunctionsScaleAndConcurrencyTriggersHttpArgs(
                            per_instance_concurrency=args.http_per_instance_concurrency
                        )
                    ),
                ),
            ),
            tags=dict(p.tags),
            opts=p.child(self, depends_on=[self.deployment_container]),
        )
        # No publishing with user names and passwords (FTP, SCM basic auth): deployments use Entra ID.
        for protocol, resource in (("ftp", web.WebAppFtpAllowed), ("scm", web.WebAppScmAllowed)):
            resource(
                f"basic-auth-{protocol}",
                name=self.function_app.name,
                resource_group_name=p.resource_group_name,
                allow=False,
                opts=p.child(self),
            )

        self.principal_id: pulumi.Output[str] = self.function_app.identity.apply(
            lambda identity: identity.principal_id if identity else ""
        )
        self.gateway_url: pulumi.Output[str] = self.function_app.default_host_name.apply(
            lambda host: f"https://{host}/api/v1"
        )
        self.register_outputs(
            {
                "function_app": self.function_app.name,
                "gateway_url": self.gateway_url,
                "storage_account": self.storage_account.name,
            }
        )
