"""App settings: every one is read by the code (``shared.config.Settings``) or by the Functions host."""

from __future__ import annotations

import json

import pytest

from infra.app_settings import HOST_SETTINGS, is_read_by_app, setting_env_names, settings_env_names
from shared.config import Settings
from tests.infra.conftest import ProgramRun

DEPLOYMENT_KEYS = {
    "alias", "endpoint", "deployment", "api_version", "model", "tier",
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


def test_the_gateway_loads_the_deployments_as_deployed(platform: ProgramRun, monkeypatch: pytest.MonkeyPatch):
    from shared.deployments import load_registry

    for name, value in _app_settings(platform).items():
        monkeypatch.setenv(name, value)
    registry = load_registry(Settings())
    assert [d.alias for d in registry] == [d.alias for d in platform.config.openai.deployments]
    assert registry.default().alias == platform.config.openai.first_of_tier("small").alias
    assert {d.auth for d in registry} == {"entra"}  # managed identity, no api keys
    assert {d.endpoint for d in registry} == {"https://oai-llmops-test.openai.azure.com"}


def test_deployments_json_is_generated_from_config_and_the_openai_endpoint(platform: ProgramRun):
    deployments = json.loads(_app_settings(platform)["LLMOPS_DEPLOYMENTS_JSON"])
    configured = platform.config.openai.deployments
    assert [d["alias"] for d in deployments] == [c.alias for c in configured]
    for sent, wanted in zip(deployments, configured, strict=True):
        assert set(sent) == DEPLOYMENT_KEYS
        assert sent["endpoint"] == platform.outputs["openaiEndpoint"] == "https://oai-llmops-test.openai.azure.com/"
        assert sent["deployment"] == wanted.deployment_name
        assert sent["api_version"] == platform.config.openai.api_version
        assert sent["tier"] == wanted.tier
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
