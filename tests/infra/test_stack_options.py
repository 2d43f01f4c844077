"""Stack options that are off by default: the Azure AI Language account for the guardrails' PII check
(``guardrails.languagePii``) and the retraining models (``ml.baseModel``, ``ml.productionModel``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.components.security import ROLES
from tests.infra.conftest import ProgramRun, dev_stack_values, run_program
from tests.infra.test_app_settings import _app_settings


@pytest.fixture(scope="module")
def options_on(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    values = dev_stack_values()
    values["guardrails"] = {"languagePii": True}
    values["ml"] = {**values["ml"], "baseModel": "Qwen/Qwen2.5-1.5B-Instruct", "productionModel": "azureml:cand:3"}
    values["functionApp"] = {**values["functionApp"], "codeDeployment": "none"}  # no package needed here
    return run_program(values, "test", Path(tmp_path_factory.mktemp("unused")))


def _language_accounts(run: ProgramRun) -> list:
    return [a for a in run.of_type("cognitiveservices:Account") if a.inputs["kind"] == "TextAnalytics"]


def test_language_is_off_by_default(platform: ProgramRun):
    assert platform.config.guardrails.language_pii is False
    assert _language_accounts(platform) == []
    settings = _app_settings(platform)
    assert "LLMOPS_LANGUAGE_ENDPOINT" not in settings
    assert "languageAccount" not in platform.outputs
    language_roles = [a for a in platform.of_type("authorization:RoleAssignment") if a.name == "role-language-user"]
    assert language_roles == []


def test_the_switch_provisions_a_keyless_language_account(options_on: ProgramRun):
    (account,) = _language_accounts(options_on)
    inputs = account.inputs
    assert inputs["accountName"] == "lang-llmops-test-k7q2x"
    assert inputs["sku"] == {"name": "S"}
    assert inputs["properties"]["disableLocalAuth"] is True
    assert inputs["properties"]["customSubDomainName"] == inputs["accountName"]  # Entra ID tokens need it
    assert inputs["identity"] == {"type": "SystemAssigned"}
    assert options_on.outputs["languageAccount"] == "lang-llmops-test-k7q2x"


def test_the_function_app_may_call_language_and_nothing_more(options_on: ProgramRun):
    (account,) = _language_accounts(options_on)
    assignments = options_on.of_type("authorization:RoleAssignment")
    on_language = [a.inputs for a in assignments if a.inputs["scope"] == account.id]
    assert len(on_language) == 1
    assert on_language[0]["roleDefinitionId"].endswith(ROLES["Cognitive Services User"])
    assert on_language[0]["principalId"] == "principal-of-function-app"


def test_the_pii_check_gets_the_language_endpoint(options_on: ProgramRun, deployed_settings):
    from shared.guardrails.azure_content_safety import LanguageClient, azure_services_from_settings

    settings_sent = _app_settings(options_on)
    assert settings_sent["LLMOPS_LANGUAGE_ENDPOINT"] == "https://lang-llmops-test-k7q2x.cognitiveservices.azure.com/"
    settings = deployed_settings(options_on)
    assert settings.language_endpoint == options_on.outputs["languageEndpoint"]
    assert settings.language_key is None  # the managed identity, never a key
    services = azure_services_from_settings(settings)  # builds the clients; nothing is called
    assert isinstance(services["language"], LanguageClient)
    assert services["language"].endpoint == "https://lang-llmops-test-k7q2x.cognitiveservices.azure.com"


def test_the_model_options_reach_the_retraining_loop(options_on: ProgramRun, deployed_settings):
    from pipelines.parameters import PipelineParameters

    settings_sent = _app_settings(options_on)
    assert settings_sent["LLMOPS_TRAINING_BASE_MODEL"] == "Qwen/Qwen2.5-1.5B-Instruct"
    assert settings_sent["LLMOPS_TRAINING_PRODUCTION_MODEL"] == "azureml:cand:3"
    assert "LLMOPS_TRAINING_REGRESSION_SET" not in settings_sent  # ml.regressionSet unset
    settings = deployed_settings(options_on)
    assert PipelineParameters.from_settings(settings).base_model == "Qwen/Qwen2.5-1.5B-Instruct"
    assert settings.training_production_model == "azureml:cand:3"
