"""Stack config: the documented example is valid, and every kind of bad value fails clearly."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from infra.config import ConfigError, load_stack_config, parse_stack_config
from infra.naming import Names
from tests.infra.conftest import PlatformMocks


def _fails_with(values: dict[str, Any], *fragments: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(values, stack="dev")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_documented_example_stack_is_valid(stack_values):
    cfg = parse_stack_config(stack_values(), stack="dev")
    assert cfg.location == "swedencentral"
    assert {d.tier for d in cfg.openai.deployments} == {"small", "frontier", "embeddings"}
    assert cfg.ml.gpu_max_nodes >= 1
    assert cfg.alerts.ttft_p95_ms == 2000 and cfg.alerts.overhead_p95_ms == 50
    assert cfg.budget.daily_usd > 0
    assert cfg.owners


def test_out_of_range_value_names_the_key_and_the_value(stack_values):
    values = stack_values()
    values["ml"]["gpuMaxNodes"] = 0
    message = _fails_with(values, "llmops:ml.gpuMaxNodes", "greater than or equal to 1", "got 0")
    assert "Pulumi.dev.yaml" in message


def test_missing_required_values_are_named(stack_values):
    values = stack_values()
    del values["owners"]
    del values["budget"]
    _fails_with(values, "llmops:owners: required value is missing", "llmops:budget: required value is missing")


def test_misspelled_key_is_reported_as_unknown(stack_values):
    values = stack_values()
    values["functionApp"]["alwaysReadyHtpp"] = 2
    _fails_with(values, "llmops:functionApp.alwaysReadyHtpp: unknown key")


@pytest.mark.parametrize(
    ("section", "key", "value", "fragment"),
    [
        ("functionApp", "instanceMemoryMb", 1024, "llmops:functionApp.instanceMemoryMb"),
        ("functionApp", "codeDeployment", "ftp", "llmops:functionApp.codeDeployment"),
        ("alerts", "ttftP95Ms", -5, "llmops:alerts.ttftP95Ms"),
        ("alerts", "windowMinutes", 7, "llmops:alerts.windowMinutes"),
        ("budget", "dailyUsd", "lots", "llmops:budget.dailyUsd"),
        ("keyVault", "softDeleteRetentionDays", 3, "llmops:keyVault.softDeleteRetentionDays"),
        ("guardrails", "languagePii", "sometimes", "llmops:guardrails.languagePii"),
        ("ml", "regressionSet", "/home/me/regression.jsonl", "llmops:ml.regressionSet"),
    ],
)
def test_invalid_values_fail_with_their_key(stack_values, section, key, value, fragment):
    values = stack_values()
    values[section][key] = value
    _fails_with(values, fragment)


def test_bad_owner_email_and_name_prefix(stack_values):
    values = stack_values()
    values["owners"] = ["not-an-email"]
    values["namePrefix"] = "Has-Caps"
    _fails_with(values, "llmops:owners.0", "llmops:namePrefix")


def test_every_tier_needs_a_deployment_and_aliases_are_unique(stack_values):
    values = stack_values()
    values["openai"]["deployments"] = [d for d in values["openai"]["deployments"] if d["tier"] != "embeddings"]
    _fails_with(values, "llmops:openai", "missing: embeddings")
    values = stack_values()
    values["openai"]["deployments"][1]["alias"] = values["openai"]["deployments"][0]["alias"]
    _fails_with(values, "aliases must be unique")


def test_names_too_long_for_azure_fail_before_deployment():
    with pytest.raises(ConfigError, match="namePrefix"):
        Names("averylongname", "production-westeurope").validate()
    names = Names("llmops", "dev").validate()
    assert names.storage_account == "stllmopsdev"
    assert names.key_vault == "kv-llmops-dev"


@pytest.fixture
def pulumi_config():
    """Config values as the Pulumi engine hands them over: strings, structured ones as JSON text."""
    pulumi.runtime.set_mocks(PlatformMocks(), project="llmops", stack="dev", preview=False)

    def apply(values: dict[str, Any]) -> None:
        pulumi.runtime.set_all_config(
            {f"llmops:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        )

    yield apply
    pulumi.runtime.set_all_config({})


def test_load_through_the_pulumi_runtime(pulumi_config, stack_values):
    values = stack_values()
    values["ml"]["gpuMaxNodes"] = "4"  # scalars may arrive as text
    pulumi_config(values)
    cfg = load_stack_config()
    assert cfg.ml.gpu_max_nodes == 4
    assert cfg.openai.first_of_tier("frontier").alias == "frontier"


def test_load_through_the_pulumi_runtime_reports_typos(pulumi_config, stack_values):
    values = stack_values()
    values["gpuMaxNode"] = "3"
    pulumi_config(values)
    with pytest.raises(ConfigError, match="llmops:gpuMaxNode: unknown key"):
        load_stack_config()


def test_http_concurrency_follows_the_measured_cpu_per_request_and_memory() -> None:
    from infra.config import FunctionAppConfig

    default = FunctionAppConfig()
    assert default.http_concurrency() == 40  # 1 vCPU x 0.7 x 1000 / 52 ms x 3 s
    # twice the CPU (4,096 MB) serves twice as many; the bare gateway (~1 ms) is capped at Flex's maximum
    assert FunctionAppConfig(instance_memory_mb=4096).http_concurrency() == 81
    assert FunctionAppConfig(cpu_ms_per_request=1.0).http_concurrency() == 1000
    assert FunctionAppConfig(http_per_instance_concurrency=8).http_concurrency() == 8
