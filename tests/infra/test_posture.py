"""Security and cost posture of the whole program, asserted on what would be sent to Azure."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from infra.components.data import FULL_TEXT_SEARCH, SERVERLESS, VECTOR_SEARCH
from infra.components.security import COSMOS_DATA_CONTRIBUTOR, ROLES
from infra.naming import Names, stable_guid
from tests.infra.conftest import SUBSCRIPTION, ProgramRun


def _accepts_tags(typ: str) -> bool:
    provider, module, name = typ.split(":")
    package = "pulumi_azure_native" if provider == "azure-native" else f"pulumi_{provider}"
    module = module.split("/")[0].replace("index", "")  # random:index/randomString -> pulumi_random
    package = f"{package}.{module}" if module else package
    cls = getattr(importlib.import_module(package), name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_every_taggable_resource_carries_the_platform_tags(platform: ProgramRun):
    expected = {"project": "llmops", "stack": "test", "managed-by": "pulumi", "team": "llmops"}
    taggable = [r for r in platform.resources if _accepts_tags(r.typ)]
    assert len(taggable) > 20
    for resource in taggable:
        tags = resource.inputs.get("tags") or {}
        assert expected.items() <= tags.items(), f"{resource.typ} {resource.name} tags: {tags}"
        assert tags["owner"] == platform.config.owners[0]


def test_cosmos_is_serverless_with_vector_search_and_no_keys(platform: ProgramRun):
    cosmos = platform.one("cosmosdb:DatabaseAccount").inputs
    assert cosmos["disableLocalAuth"] is True
    assert cosmos["disableKeyBasedMetadataWriteAccess"] is True
    assert cosmos["minimalTlsVersion"] == "Tls12"
    assert {c["name"] for c in cosmos["capabilities"]} == {SERVERLESS, VECTOR_SEARCH, FULL_TEXT_SEARCH}


def test_grounding_chunks_have_vector_and_full_text_indexes(platform: ProgramRun):
    containers = {c.inputs["resource"]["id"]: c.inputs["resource"] for c in
                  platform.of_type("cosmosdb:SqlResourceSqlContainer")}
    chunks = containers["grounding_chunks"]
    assert chunks["fullTextPolicy"]["fullTextPaths"] == [{"path": "/text", "language": "en-US"}]
    assert chunks["indexingPolicy"]["fullTextIndexes"] == [{"path": "/text"}]
    assert chunks["vectorEmbeddingPolicy"]["vectorEmbeddings"][0]["path"] == "/embedding"
    assert "fullTextPolicy" not in containers["conversations"]


def test_ai_accounts_have_local_auth_off_and_a_custom_subdomain(platform: ProgramRun):
    accounts = {a.inputs["kind"]: a.inputs for a in platform.of_type("cognitiveservices:Account")}
    assert set(accounts) == {"OpenAI", "ContentSafety"}
    for account in accounts.values():
        assert account["properties"]["disableLocalAuth"] is True
        assert account["properties"]["customSubDomainName"] == account["accountName"]


def test_openai_deployments_come_from_config(platform: ProgramRun):
    deployments = {d.inputs["deploymentName"]: d.inputs for d in platform.of_type("cognitiveservices:Deployment")}
    for configured in platform.config.openai.deployments:
        sent = deployments[configured.deployment_name]
        assert sent["properties"]["model"] == {
            "format": "OpenAI",
            "name": configured.model,
            "version": configured.version,
        }
        assert sent["sku"] == {"name": configured.sku, "capacity": configured.capacity}
    assert len(deployments) == len(platform.config.openai.deployments)


def test_storage_is_https_only_tls12_and_keyless_for_the_app(platform: ProgramRun):
    for account in platform.of_type("storage:StorageAccount"):
        assert account.inputs["enableHttpsTrafficOnly"] is True
        assert account.inputs["minimumTlsVersion"] == "TLS1_2"
        assert account.inputs["allowBlobPublicAccess"] is False
    app_storage = next(a for a in platform.of_type("storage:StorageAccount") if a.name == "storage")
    assert app_storage.inputs["allowSharedKeyAccess"] is False
    assert app_storage.inputs["defaultToOAuthAuthentication"] is True


def test_function_app_posture(platform: ProgramRun):
    app = platform.one("web:WebApp").inputs
    assert app["httpsOnly"] is True
    assert app["identity"] == {"type": "SystemAssigned"}
    assert app["siteConfig"]["minTlsVersion"] == "1.2"
    assert app["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert app["siteConfig"]["ftpsState"] == "Disabled"
    flex = app["functionAppConfig"]
    assert flex["runtime"] == {"name": "python", "version": "3.11"}
    assert flex["deployment"]["storage"]["authentication"] == {"type": "SystemAssignedIdentity"}
    assert flex["deployment"]["storage"]["value"].startswith("https://")
    assert flex["scaleAndConcurrency"]["alwaysReady"] == [
        {"name": "http", "instanceCount": platform.config.function_app.always_ready_http}
    ]
    scale = flex["scaleAndConcurrency"]
    assert (scale["instanceMemoryMB"], scale["maximumInstanceCount"]) == (2048, 100)
    # 1 vCPU x 0.7 / 52 ms per request = 13.5 req/s, each waiting ~3 s on the model: 40 in flight
    assert scale["triggers"] == {"http": {"perInstanceConcurrency": 40}}
    plan = platform.one("web:AppServicePlan").inputs
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    for basic_auth in ("web:WebAppFtpAllowed", "web:WebAppScmAllowed"):
        assert platform.one(basic_auth).inputs["allow"] is False


SECRET_VALUE = re.compile(r"AccountKey=|SharedAccessSignature|sig=|AccessKey=|password", re.IGNORECASE)
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|SAS|CONNECTION_?STRING", re.IGNORECASE)
# Identifies the telemetry destination only (Microsoft documents it as not a secret).
NOT_SECRET = {"APPLICATIONINSIGHTS_CONNECTION_STRING"}


def test_app_settings_hold_no_keys_secrets_or_connection_strings(platform: ProgramRun):
    settings = {s["name"]: s["value"] for s in platform.one("web:WebApp").inputs["siteConfig"]["appSettings"]}
    assert "connectionStrings" not in platform.one("web:WebApp").inputs["siteConfig"]
    for name, value in settings.items():
        assert not SECRET_VALUE.search(str(value)), f"{name} looks like a credential: {value}"
        if name not in NOT_SECRET:
            assert not SECRET_NAME.search(name), f"{name} looks like a secret setting"
    assert settings["AzureWebJobsStorage__accountName"] == "stllmopstestk7q2x"
    assert settings["COSMOS__accountEndpoint"] == "https://cosmos-llmops-test-k7q2x.documents.azure.com:443/"
    assert "AzureWebJobsStorage" not in settings  # the key-based form


def test_key_vaults_use_rbac_and_soft_delete(platform: ProgramRun):
    vaults = platform.of_type("keyvault:Vault")
    assert len(vaults) == 2  # the platform vault and the Azure ML workspace's
    for vault in vaults:
        properties = vault.inputs["properties"]
        assert properties["enableRbacAuthorization"] is True
        assert properties["enableSoftDelete"] is True
        assert properties["enablePurgeProtection"] is True
        assert "accessPolicies" not in properties


def test_gpu_cluster_scales_to_zero_within_configured_limits(platform: ProgramRun):
    compute = platform.one("machinelearningservices:Compute").inputs["properties"]
    scale = compute["properties"]["scaleSettings"]
    assert scale["minNodeCount"] == 0
    assert scale["maxNodeCount"] == platform.config.ml.gpu_max_nodes
    assert scale["nodeIdleTimeBeforeScaleDown"] == f"PT{platform.config.ml.gpu_idle_minutes}M"
    assert compute["properties"]["vmSize"] == platform.config.ml.gpu_vm_size
    assert compute["properties"]["vmPriority"] == "LowPriority"
    assert compute["properties"]["remoteLoginPortPublicAccess"] == "Disabled"


def _resource_id(platform: ProgramRun, typ: str, logical_name: str) -> str:
    return next(r.id for r in platform.of_type(typ) if r.name == logical_name)


FUNCTION_APP = "principal-of-function-app"
GPU_CLUSTER = "principal-of-gpu-cluster"
EVENT_TOPIC = "principal-of-evgt-llmops-test-ml"


def test_every_role_assignment_is_scoped_to_the_one_resource_it_needs(platform: ProgramRun):
    workspace = _resource_id(platform, "machinelearningservices:Workspace", "workspace")
    storage = _resource_id(platform, "storage:StorageAccount", "storage")
    openai = _resource_id(platform, "cognitiveservices:Account", "openai")
    content_safety = _resource_id(platform, "cognitiveservices:Account", "content-safety")
    expected = {
        (FUNCTION_APP, "Cognitive Services OpenAI User", openai),
        (FUNCTION_APP, "Cognitive Services User", content_safety),
        (FUNCTION_APP, "Storage Blob Data Owner", storage),
        (FUNCTION_APP, "Storage Queue Data Contributor", storage),
        (FUNCTION_APP, "AzureML Data Scientist", workspace),  # submits pipelines, deploys candidates
        # telemetry with Entra ID: Application Insights has local auth off
        (FUNCTION_APP, "Monitoring Metrics Publisher", platform.one("applicationinsights:Component").id),
        (GPU_CLUSTER, "AzureML Data Scientist", workspace),  # the register step, as the compute's identity
        # Event Grid's topic dead-letters undeliverable model events, into that one container only
        (EVENT_TOPIC, "Storage Blob Data Contributor",
         f"{storage}/blobServices/default/containers/eventgrid-deadletter"),
    }
    role_by_id = {role_id: role for role, role_id in ROLES.items()}
    assignments = platform.of_type("authorization:RoleAssignment")
    granted = set()
    for assignment in assignments:
        inputs = assignment.inputs
        role_id = inputs["roleDefinitionId"].rsplit("/", 1)[-1]
        assert inputs["roleDefinitionId"].startswith(f"/subscriptions/{SUBSCRIPTION}/providers/")
        role = role_by_id[role_id]  # only the known, narrow data roles: no Owner/Contributor
        assert inputs["principalType"] == "ServicePrincipal"
        granted.add((inputs["principalId"], role, inputs["scope"]))
    assert granted == expected
    assert len(assignments) == len(expected)
    assert len({a.inputs["roleAssignmentName"] for a in assignments}) == len(assignments)


def test_role_assignment_names_are_stable_guids(platform: ProgramRun):
    names = Names("llmops", "test")
    by_key = {a.name.removeprefix("role-"): a.inputs for a in platform.of_type("authorization:RoleAssignment")}
    data_scientist = ROLES["AzureML Data Scientist"]
    gpu = by_key["gpu-cluster-ml-data-scientist"]
    assert gpu["principalId"] == GPU_CLUSTER
    assert gpu["roleAssignmentName"] == stable_guid(
        f"{names.ml_workspace}/{names.gpu_cluster}", "gpu-cluster-ml-data-scientist", data_scientist
    )
    # The Function App's names are what they were before other identities got roles (no re-creation).
    assert by_key["ml-data-scientist"]["roleAssignmentName"] == stable_guid(
        names.function_app, "ml-data-scientist", data_scientist
    )


def test_cosmos_data_role_is_scoped_to_the_database(platform: ProgramRun):
    cosmos_id = platform.one("cosmosdb:DatabaseAccount").id
    assignments = {a.name: a.inputs for a in platform.of_type("cosmosdb:SqlResourceSqlRoleAssignment")}
    for assignment in assignments.values():
        assert assignment["roleDefinitionId"] == f"{cosmos_id}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}"
        assert assignment["scope"] == f"{cosmos_id}/dbs/llmops"
    assert assignments["role-cosmos-data-contributor"]["principalId"] == FUNCTION_APP
    # and each operator, so that the CLI works against the deployed platform with their own login
    assert {assignments[f"role-cosmos-operator-{i}"]["principalId"] for i in range(len(platform.config.operators))
            } == set(platform.config.operators)


@pytest.mark.parametrize("scope_pattern", [r"^/subscriptions/[^/]+$", r"^/subscriptions/[^/]+/resourceGroups/[^/]+$"])
def test_no_role_is_granted_on_a_subscription_or_resource_group(platform: ProgramRun, scope_pattern: str):
    scopes = [r.inputs["scope"] for r in platform.resources if "RoleAssignment" in r.typ]
    assert scopes and not [s for s in scopes if re.match(scope_pattern, s)]


def test_model_events_reach_the_model_events_function(platform: ProgramRun):
    from shared.queues import FUNCTION_MODEL_EVENTS

    topic = platform.one("eventgrid:SystemTopic").inputs
    assert topic["source"] == platform.one("machinelearningservices:Workspace").id
    assert topic["topicType"] == "Microsoft.MachineLearningServices.Workspaces"
    subscription = platform.one("eventgrid:SystemTopicEventSubscription").inputs
    function_app_id = platform.one("web:WebApp").id
    assert subscription["destination"]["resourceId"] == f"{function_app_id}/functions/{FUNCTION_MODEL_EVENTS}"
    assert subscription["destination"]["endpointType"] == "AzureFunction"
    assert "Microsoft.MachineLearningServices.RunCompleted" in subscription["filter"]["includedEventTypes"]


def test_ml_workspace_uses_its_storage_key_vault_and_the_shared_app_insights(platform: ProgramRun):
    workspace = platform.one("machinelearningservices:Workspace").inputs
    assert workspace["storageAccount"] == _resource_id(platform, "storage:StorageAccount", "ml-storage")
    assert workspace["keyVault"] == _resource_id(platform, "keyvault:Vault", "ml-key-vault")
    assert workspace["applicationInsights"] == platform.one("applicationinsights:Component").id


def test_code_is_deployed_by_hash_after_the_roles_exist(platform: ProgramRun):
    command = next(r for r in platform.resources if r.typ == "command:local:Command")
    assert command.inputs["triggers"] == [platform.outputs["packageSha256"]]
    assert "--build-remote true" in command.inputs["create"]
    assert command.inputs["environment"]["FUNCTION_APP"] == "func-llmops-test-k7q2x"
    assert command.inputs["environment"]["PACKAGE"].endswith("function-app.zip")


def test_stack_outputs(platform: ProgramRun):
    outputs = platform.outputs
    assert outputs["gatewayUrl"] == "https://func-llmops-test-k7q2x.azurewebsites.net/api/v1"
    workbook_id = platform.one("applicationinsights:Workbook").id
    assert outputs["workbookUrl"] == f"https://portal.azure.com/#resource{workbook_id}/workbook"
    assert outputs["logAnalyticsWorkspaceId"] == platform.one("operationalinsights:Workspace").id
    named = (
        "resourceGroup",
        "functionApp",
        "storageAccount",
        "cosmosAccount",
        "openaiAccount",
        "keyVault",
        "mlWorkspace",
        "gpuCluster",
        "logAnalyticsWorkspace",
        "appInsights",
        "deployCommand",
    )
    for key in named:
        assert outputs[key], key
    assert "az functionapp deployment source config-zip" in outputs["deployCommand"]
