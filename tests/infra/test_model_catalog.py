"""The model catalog behind the stack config: unknown models, retired versions, GPU regions fail at preview."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from infra.config import ConfigError, parse_stack_config
from infra.model_checks import retirement_warnings
from shared.model_catalog import CatalogError, load_catalog, parse_catalog

TODAY = dt.date(2026, 12, 2)


def _fails_with(values: dict[str, Any], *fragments: str, today: dt.date = TODAY) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(values, stack="dev", today=today)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def _deployment(values: dict[str, Any], alias: str) -> dict[str, Any]:
    return next(d for d in values["openai"]["deployments"] if d["alias"] == alias)


def test_the_example_stack_uses_current_models_that_move_on_by_themselves(stack_values):
    cfg = parse_stack_config(stack_values(), stack="dev", today=TODAY)
    catalog = load_catalog()
    for deployment in cfg.openai.deployments:
        lifecycle = catalog.version(deployment.model, deployment.version)
        assert lifecycle is not None
        assert not lifecycle.retired_on(TODAY), deployment.model
        assert deployment.upgrade == "onceCurrentVersionExpired"
    assert cfg.openai.api_version == "v1"
    assert {d.family for d in cfg.openai.deployments} >= {"reasoning", "embeddings"}
    assert retirement_warnings(cfg, TODAY) == []


def test_the_old_example_models_fail_preview_naming_the_key(stack_values):
    values = stack_values()
    small = _deployment(values, "small")
    small.update(model="gpt-4o-mini", version="2024-07-18")
    _fails_with(values, "llmops:openai.deployments.0.version", "gpt-4o-mini version 2024-07-18 retired on 2026-10-01",
                "choose a current model")
    # The same version was fine before its retirement date.
    assert parse_stack_config(values, stack="dev", today=dt.date(2026, 9, 1))


def test_unknown_model_and_unknown_version_are_named(stack_values):
    values = stack_values()
    _deployment(values, "frontier")["model"] = "gpt-9-ultra"
    _fails_with(values, "llmops:openai.deployments.1.model", "unknown model 'gpt-9-ultra'", "model catalog")
    values = stack_values()
    _deployment(values, "frontier")["version"] = "2099-01-01"
    _fails_with(values, "llmops:openai.deployments.1.version", "no version '2099-01-01'")


def test_a_chat_model_in_the_embeddings_tier_is_refused(stack_values):
    values = stack_values()
    _deployment(values, "embeddings").update(model="gpt-5-mini", version="2025-08-07")
    _fails_with(values, "llmops:openai.deployments.2", "tier embeddings cannot serve gpt-5-mini")


def test_a_dated_api_version_older_than_reasoning_models_is_refused(stack_values):
    values = stack_values()
    values["openai"]["apiVersion"] = "2024-10-21"
    _fails_with(values, "llmops:openai", "apiVersion 2024-10-21 predates gpt-5-mini", "2024-12-01-preview")
    values["openai"]["apiVersion"] = "2025-04-01-preview"
    assert parse_stack_config(values, stack="dev", today=TODAY).openai.api_version == "2025-04-01-preview"


def test_a_region_without_the_gpu_size_fails_naming_the_key(stack_values):
    values = stack_values()
    values["location"] = "brazilsouth"
    values["ml"]["gpuVmSize"] = "Standard_NC24ads_A100_v4"
    _fails_with(values, "llmops:ml", "Standard_NC24ads_A100_v4 is not offered in brazilsouth")
    values = stack_values()
    values["ml"]["gpuVmSize"] = "Standard_ND96_Unknown"
    _fails_with(values, "llmops:ml", "not in the model catalog's gpu_sizes")
    values = stack_values()  # the default size is checked too when ml is not set at all
    values["location"] = "brazilsouth"
    del values["ml"]
    _fails_with(values, "llmops:ml", "not offered in brazilsouth")


def test_preview_warns_before_retirement_and_on_a_pinned_version(stack_values):
    values = stack_values()
    _deployment(values, "small")["upgrade"] = "noAutoUpgrade"
    cfg = parse_stack_config(values, stack="dev", today=dt.date(2027, 1, 1))
    warnings = retirement_warnings(cfg, dt.date(2027, 1, 1))
    assert any("openai.deployments.0.version" in w and "retires on 2027-02-06" in w for w in warnings), warnings
    assert any("openai.deployments.0.upgrade" in w and "noAutoUpgrade" in w for w in warnings), warnings


def test_the_catalog_describes_each_family():
    catalog = load_catalog()
    reasoning = catalog.family("reasoning")
    assert reasoning.renamed == {"max_tokens": "max_completion_tokens"}
    assert reasoning.token_limit == "max_completion_tokens"
    assert "temperature" in reasoning.default_only
    assert catalog.family("chat").token_limit == "max_tokens"
    assert "reasoning_effort" in catalog.family("chat").rejects
    assert catalog.family_of("o4-mini") == reasoning
    assert catalog.family_of("not-a-model") is None


def test_a_broken_catalog_names_the_entry():
    with pytest.raises(CatalogError, match=r"models\.x\.family"):
        parse_catalog({"checked": "2026-01-01", "default_api_version": "v1",
                       "families": {f: {"token_limit": "none"} for f in ("chat", "reasoning", "embeddings")},
                       "models": {"x": {"family": "vision", "versions": {"1": {}}}}})


def test_deployments_move_to_a_new_version_at_retirement_instead_of_failing(platform):
    deployments = platform.of_type("cognitiveservices:Deployment")
    assert {d.inputs["properties"]["model"]["name"] for d in deployments} == {
        "gpt-5-mini", "gpt-5.1", "text-embedding-3-small"}
    for deployment in deployments:
        assert deployment.inputs["properties"]["versionUpgradeOption"] == "OnceCurrentVersionExpired"
