"""App settings: every one is read by the code (``shared.config.Settings``) or by the Functions host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.app_settings import HOST_SETTINGS, is_read_by_app, setting_env_names, settings_env_names
from shared.config import Settings
from tests.infra.conftest import SUBSCRIPTION, ProgramRun

DEPLOYMENT_KEYS = {
    "alias", "endpoint", "deployment", "api_version", "model", "family", "tier",
    "input_per_1m", "cached_input_per_1m", "output_per_1m",
}  # fmt: skip


def _app_settings(platform: ProgramRun) -> dict[str, str]:
    return {s["name"]: s["value"] for s in platform.one("web:WebApp").inputs["siteConfig"]["appSettings"]}


def test_every_app_setting_is_read_by_settings_or_the_host(platform: ProgramRun):
    settings = _app_settings(platform)
    unread = [name for name in settings if not is_read_by_app(name)]
    assert not unread, f"infra sets settings nothing reads: {unread}"
    assert HOST_SETTINGS <= settings.keys()


def test_the_app_reads_the_settings_as_deployed(platform: ProgramRun, monkeypatch: pytest.MonkeyPatch):
    for name, value in _app_settings(platform).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "azure"
    assert settings.store == "cosmos"
    assert settings.cosmos_endpoint == platform.outputs["cosmosEndpoint"]
    assert settings.cosmos_database == platform.outputs["cosmosDatabase"]
    assert settings.cosmos_key is None
    assert settings.default_deployment == platform.config.openai.first_of_tier("small").alias
    assert settings.applicationinsights_connection_string.startswith("InstrumentationKey=")


def test_guardrails_use_content_safety_and_the_packaged_encoder(platform: ProgramRun, deployed_settings):
    from llmops.packaging import MODEL_ARCHIVE_DIR
    from shared.embeddings.minilm import APP_ROOT, resolve_model_dir

    settings = deployed_settings(platform)
    assert settings.content_safety_endpoint == platform.outputs["contentSafetyEndpoint"]
    assert settings.content_safety_endpoint == "https://cs-llmops-test-k7q2x.cognitiveservices.azure.com/"
    assert settings.content_safety_key is None  # the managed identity (Cognitive Services User), never a key
    assert settings.embedding_model_dir == Path(MODEL_ARCHIVE_DIR)
    assert resolve_model_dir(settings.embedding_model_dir) == APP_ROOT / "models" / "all-MiniLM-L6-v2"


async def test_the_deployed_settings_build_the_guardrail_service(platform: ProgramRun, deployed_settings):
    """Every policy loads against the deployed settings, with the Content Safety adapter wired in (the
    clients are built; nothing calls Azure)."""
    from shared.guardrails.azure_content_safety import ContentSafetyClient
    from shared.guardrails.service import GuardrailService

    service = GuardrailService.from_settings(deployed_settings(platform))
    policy, _ = service.policy_for("any-tenant", "any-app")
    rules = [rule for stage in ("input", "output") for rule in getattr(policy, f"{stage}_rules")]
    clients = {type(rule.check.azure) for rule in rules if rule.check.azure is not None}
    assert clients == {ContentSafetyClient}  # injection, toxicity, groundedness: Content Safety in Azure
    for rule in rules:
        if rule.check.azure is not None:
            assert rule.check.azure.endpoint == "https://cs-llmops-test-k7q2x.cognitiveservices.azure.com"
            await rule.check.azure.close()


def test_the_deployed_settings_configure_retraining_in_azure_ml(platform: ProgramRun, deployed_settings):
    from shared.retraining.serving import ServingConfig
    from shared.runtime import build_training_runner

    settings = deployed_settings(platform)
    assert settings.training_runner == "azureml"
    assert settings.azureml_subscription_id == SUBSCRIPTION
    assert settings.azureml_resource_group == platform.outputs["resourceGroup"] == "rg-llmops-test"
    assert settings.azureml_workspace == platform.outputs["mlWorkspace"] == "mlw-llmops-test"
    assert settings.azureml_gpu_compute == platform.outputs["gpuCluster"] == "gpu-cluster"
    # every step on the cluster: the register step needs its identity, serverless has none to give
    assert settings.azureml_cpu_compute == "gpu-cluster"
    runner = build_training_runner(settings)  # the MLClient is made on first use: no Azure access here
    assert runner.kind == "azureml"
    assert (runner.gpu_compute, runner.cpu_compute) == ("gpu-cluster", "gpu-cluster")
    assert runner.experiment_name == settings.azureml_experiment
    default_base_model = Settings.model_fields["training_base_model"].default
    assert runner.params.base_model == settings.training_base_model == default_base_model
    assert "LLMOPS_TRAINING_BASE_MODEL" not in _app_settings(platform)  # ml.baseModel unset: the code's default
    assert settings.training_production_model is None  # ml.productionModel unset: candidates face the base model
    assert runner.regression_set == settings.training_regression_set == "azureml:llmops-regression-set:1"
    assert ServingConfig.from_settings(settings).endpoint_name == settings.serving_endpoint_name


def test_the_gateway_loads_the_deployments_as_deployed(platform: ProgramRun, monkeypatch: pytest.MonkeyPatch):
    from shared.deployments import load_registry

    for name, value in _app_settings(platform).items():
        monkeypatch.setenv(name, value)
    registry = load_registry(Settings())
    assert [d.alias for d in registry] == [d.alias for d in platform.config.openai.deployments]
    assert registry.default().alias == platform.config.openai.first_of_tier("small").alias
    assert {d.auth for d in registry} == {"entra"}  # managed identity, no api keys
    assert {d.endpoint for d in registry} == {"https://oai-llmops-test-k7q2x.openai.azure.com"}


def test_deployments_json_is_generated_from_config_and_the_openai_endpoint(platform: ProgramRun):
    deployments = json.loads(_app_settings(platform)["LLMOPS_DEPLOYMENTS_JSON"])
    configured = platform.config.openai.deployments
    assert [d["alias"] for d in deployments] == [c.alias for c in configured]
    for sent, wanted in zip(deployments, configured, strict=True):
        assert set(sent) == DEPLOYMENT_KEYS
        assert sent["endpoint"] == platform.outputs["openaiEndpoint"] == "https://oai-llmops-test-k7q2x.openai.azure.com/"
        assert sent["deployment"] == wanted.deployment_name
        assert sent["api_version"] == platform.config.openai.api_version
        assert sent["tier"] == wanted.tier
        assert sent["family"] == wanted.family  # the gateway shapes requests by it
        assert sent["input_per_1m"] == wanted.pricing.input_per_1m
        assert sent["output_per_1m"] == wanted.pricing.output_per_1m
    assert {d["tier"] for d in deployments} == {"small", "frontier", "embeddings"}


def test_env_names_come_from_settings_fields_and_aliases():
    assert setting_env_names("store") == ("LLMOPS_STORE",)
    assert "COSMOS__accountEndpoint" in setting_env_names("cosmos_endpoint")
    assert setting_env_names("applicationinsights_connection_string") == ("APPLICATIONINSIGHTS_CONNECTION_STRING",)
    assert "LLMOPS_DEPLOYMENTS_JSON" in settings_env_names()
    with pytest.raises(KeyError, match="no field 'not_a_field'"):
        setting_env_names("not_a_field")


def test_host_settings_do_not_shadow_application_settings():
    lowered = {name.lower() for name in settings_env_names()}
    assert not [name for name in HOST_SETTINGS if name.lower() in lowered]
    assert not is_read_by_app("LLMOPS_SOMETHING_NOBODY_READS")


def test_every_binding_expression_resolves_to_an_app_setting(platform: ProgramRun):
    """A ``%NAME%`` in a trigger binding is resolved by the host from app settings; a missing one stops
    the function from starting, so each must be deployed."""
    import re

    import function_app
    from llmops.devhost import registered_functions

    settings = _app_settings(platform)
    expressions = set()
    for function in registered_functions(function_app.app):
        expressions |= set(re.findall(r"%([A-Za-z0-9_]+)%", function.get_function_json()))
    assert expressions, "the app is expected to use binding expressions"
    missing = sorted(name for name in expressions if name not in settings)
    assert not missing, f"binding expressions without an app setting: {missing}"
