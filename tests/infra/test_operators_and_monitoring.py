"""Operators can administer the deployed platform; monitoring reaches the workspace with Entra ID only."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, parse_stack_config

DIAGNOSED = {"cosmos": "cosmosdb:DatabaseAccount", "openai": "cognitiveservices:Account",
             "content-safety": "cognitiveservices:Account", "key-vault": "keyvault:Vault",
             "function-app": "web:WebApp"}


def test_a_missing_or_malformed_operator_group_names_the_key(stack_values):
    values = stack_values()
    del values["operators"]
    with pytest.raises(ConfigError, match="llmops:operators: required value is missing"):
        parse_stack_config(values)
    values["operators"] = ["platform-team"]
    with pytest.raises(ConfigError, match=r"llmops:operators\.0"):
        parse_stack_config(values)


def test_app_insights_takes_only_entra_id_ingestion(platform, deployed_settings):
    assert platform.one("applicationinsights:Component").inputs["disableLocalAuth"] is True
    settings = deployed_settings(platform)
    assert settings.applicationinsights_authentication_string == "Authorization=AAD"
    assert settings.telemetry_sampling_ratio == 1.0  # panels count every request unless sampling is chosen


def test_every_data_plane_resource_sends_logs_and_metrics_to_the_workspace(platform):
    workspace = platform.one("operationalinsights:Workspace").id
    settings = {s.name.removeprefix("diagnostics-"): s.inputs for s in platform.of_type("monitor:DiagnosticSetting")}
    assert set(settings) == set(DIAGNOSED)
    for key, typ in DIAGNOSED.items():
        setting = settings[key]
        assert setting["workspaceId"] == workspace
        assert setting["resourceUri"] in {r.id for r in platform.of_type(typ)}
        assert setting["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
        assert setting["metrics"] == [{"category": "AllMetrics", "enabled": True}]
    assert settings["openai"]["resourceUri"] == next(r.id for r in platform.of_type("cognitiveservices:Account")
                                                     if r.inputs["kind"] == "OpenAI")


def test_the_request_log_spills_under_the_temp_dir_not_the_read_only_app_root(platform, deployed_settings):
    import tempfile
    from pathlib import Path

    journal = deployed_settings(platform).request_journal_dir
    assert journal.is_absolute() and Path(tempfile.gettempdir()) in journal.parents


def test_entra_client_tokens_are_configured_from_the_stack(tmp_path, stack_values, deployed_settings):
    from tests.infra.conftest import TENANT, make_function_app_tree, run_program

    root = make_function_app_tree(tmp_path)
    values = stack_values()
    values["entraAudience"] = "api://llmops-gateway"
    values["functionApp"] = {**values["functionApp"], "packagePath": str(root / "dist" / "function-app.zip")}
    settings = deployed_settings(run_program(values, "test", root))
    assert (settings.entra_tenant_id, settings.entra_audience) == (TENANT, "api://llmops-gateway")


def test_without_an_audience_only_api_keys_are_accepted(platform, deployed_settings):
    settings = deployed_settings(platform)
    assert settings.entra_audience is None and settings.entra_tenant_id is None
