"""The Function App's app settings, built in one function and checked against the code that reads them.

Two kinds of setting exist:

* settings the application reads through ``shared.config.Settings`` — named ``LLMOPS_<FIELD>`` or one
  of the aliases a field declares (``COSMOS__accountEndpoint``, ``APPLICATIONINSIGHTS_CONNECTION_STRING``).
  They are addressed here by *field name*, and the environment name is taken from ``Settings`` itself,
  so a renamed or removed field fails the build instead of silently setting a dead variable;
* settings the Functions host and its bindings read (``HOST_SETTINGS``), listed explicitly.

Nothing here is a secret: connections are identity based (``__accountName`` / ``__accountEndpoint``),
and the Application Insights connection string only identifies where telemetry goes.

To wire a new setting: add the field to ``Settings`` (its own section), then one ``_setting(...)``
line in ``build_app_settings``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pydantic import AliasChoices, AliasPath

from infra.config import ModelDeployment
from shared.config import Settings

# Read by the Functions host / its extensions, not by our code.
HOST_SETTINGS: frozenset[str] = frozenset(
    {
        "AzureWebJobsStorage__accountName",  # host storage + queue triggers, identity based
        "PYTHON_ENABLE_INIT_INDEXING",  # needed by the http-fastapi streaming extension
    }
)


def setting_env_names(field: str) -> tuple[str, ...]:
    """The environment variable names ``Settings`` reads for one field (first = canonical)."""
    info = Settings.model_fields.get(field)
    if info is None:
        raise KeyError(f"shared.config.Settings has no field {field!r}; add it there before wiring it in infra")
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices if not isinstance(choice, AliasPath))
    if isinstance(alias, str):
        return (alias,)
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return (f"{prefix}{field}".upper(),)


def settings_env_names() -> frozenset[str]:
    """Every environment variable name the application's ``Settings`` reads."""
    return frozenset(name for field in Settings.model_fields for name in setting_env_names(field))


def is_read_by_app(name: str) -> bool:
    """True when the host or ``Settings`` reads this setting (pydantic-settings ignores case)."""
    known = {n.lower() for n in settings_env_names()} | {n.lower() for n in HOST_SETTINGS}
    return name.lower() in known


@dataclass(frozen=True)
class AzureMLTarget:
    """Where the retraining loop submits its pipelines (names from ``infra.naming``)."""

    subscription_id: pulumi.Input[str]
    resource_group: str
    workspace: str
    # Every pipeline step runs here. The register step needs the compute's managed identity, and Azure
    # ML's serverless compute cannot use a system-assigned one; prepare and register take minutes on a
    # node that is up for fine-tuning anyway.
    compute: str
    regression_set: str | None = None  # azureml:<name>:<version> of the uploaded regression set
    base_model: str | None = None  # None: the Settings default
    production_model: str | None = None  # azureml:<name>:<version>; None: candidates face the base model


@dataclass(frozen=True)
class AppSettingsInputs:
    """Values the app settings are made of, mostly outputs of other components."""

    storage_account_name: pulumi.Input[str]
    cosmos_endpoint: pulumi.Input[str]
    cosmos_database: str
    openai_endpoint: pulumi.Input[str]
    openai_api_version: str
    deployments: Sequence[ModelDeployment]
    default_deployment: str
    app_insights_connection_string: pulumi.Input[str]
    content_safety_endpoint: pulumi.Input[str]
    language_endpoint: pulumi.Input[str] | None  # None: no Language account, PII stays local
    embedding_model_dir: str  # relative to the app root: where `llmops package` puts all-MiniLM-L6-v2
    azureml: AzureMLTarget
    trace_sampling_ratio: float = 1.0  # share of traces kept (monitoring.traceSamplingRatio)
    # Entra ID client tokens (llmops:entraAudience): the directory and the gateway's app registration
    entra_tenant_id: pulumi.Input[str] | None = None
    entra_audience: str | None = None


def deployments_json(deployments: Sequence[ModelDeployment], endpoint: str, api_version: str) -> str:
    """``LLMOPS_DEPLOYMENTS_JSON``: the model deployments as the gateway's registry reads them."""
    return json.dumps(
        [
            {
                "alias": d.alias,
                "endpoint": endpoint,
                "deployment": d.deployment_name,
                "api_version": api_version,
                "model": d.model,
                "family": d.family,
                "tier": d.tier,
                "input_per_1m": d.pricing.input_per_1m,
                "cached_input_per_1m": d.pricing.cached_input_per_1m,
                "output_per_1m": d.pricing.output_per_1m,
            }
            for d in deployments
        ],
        separators=(",", ":"),
    )


def build_app_settings(inputs: AppSettingsInputs) -> dict[str, pulumi.Input[str]]:
    """The complete app settings of the Function App, name -> value."""
    settings: dict[str, pulumi.Input[str]] = {
        "AzureWebJobsStorage__accountName": inputs.storage_account_name,
        "PYTHON_ENABLE_INIT_INDEXING": "1",
    }

    def _setting(field: str, value: pulumi.Input[str], *, name: str | None = None) -> None:
        names = setting_env_names(field)
        chosen = name or names[0]
        if chosen not in names:
            raise KeyError(f"Settings.{field} is read from {', '.join(names)}, not {chosen}")
        settings[chosen] = value

    # --- where we run
    _setting("environment", "azure")
    # --- document store (Cosmos DB through the managed identity; the trigger reads the same setting)
    _setting("store", "cosmos")
    _setting("cosmos_endpoint", inputs.cosmos_endpoint, name="COSMOS__accountEndpoint")
    _setting("cosmos_database", inputs.cosmos_database)
    # --- model backends
    _setting(
        "deployments_json",
        pulumi.Output.from_input(inputs.openai_endpoint).apply(
            lambda endpoint: deployments_json(inputs.deployments, endpoint, inputs.openai_api_version)
        ),
    )
    _setting("default_deployment", inputs.default_deployment)
    # --- telemetry: Entra ID ingestion (local auth is off), every trace kept unless sampling is configured
    _setting("applicationinsights_connection_string", inputs.app_insights_connection_string)
    _setting("applicationinsights_authentication_string", "Authorization=AAD")
    _setting("telemetry_sampling_ratio", f"{inputs.trace_sampling_ratio:g}")
    # --- client apps may present Entra ID access tokens beside API keys (shared/entra_auth.py)
    if inputs.entra_audience and inputs.entra_tenant_id is not None:
        _setting("entra_tenant_id", inputs.entra_tenant_id)
        _setting("entra_audience", inputs.entra_audience)
    # --- response cache: vectors in Cosmos DB (DiskANN), embeddings from the embeddings-tier deployment
    _setting("cache_vector_store", "cosmos")
    embeddings = next((d for d in inputs.deployments if d.tier == "embeddings"), None)
    if embeddings is not None:
        _setting("embeddings", "azure")
        _setting("embeddings_endpoint", inputs.openai_endpoint)
        _setting("embeddings_deployment", embeddings.deployment_name)
        _setting("embeddings_api_version", inputs.openai_api_version)
    # --- guardrails: Azure AI Content Safety (and Language for PII when provisioned) with Entra ID; the
    # local detectors' encoder reads all-MiniLM-L6-v2 from the package
    _setting("content_safety_endpoint", inputs.content_safety_endpoint)
    if inputs.language_endpoint is not None:
        _setting("language_endpoint", inputs.language_endpoint)
    _setting("embedding_model_dir", inputs.embedding_model_dir)
    # --- retraining: pipelines in the Azure ML workspace, submitted as the Function App's identity
    _setting("training_runner", "azureml")
    _setting("azureml_subscription_id", inputs.azureml.subscription_id)
    _setting("azureml_resource_group", inputs.azureml.resource_group)
    _setting("azureml_workspace", inputs.azureml.workspace)
    _setting("azureml_gpu_compute", inputs.azureml.compute)
    _setting("azureml_cpu_compute", inputs.azureml.compute)
    if inputs.azureml.regression_set:
        _setting("training_regression_set", inputs.azureml.regression_set)
    if inputs.azureml.base_model:
        _setting("training_base_model", inputs.azureml.base_model)
    if inputs.azureml.production_model:
        _setting("training_production_model", inputs.azureml.production_model)
    # --- feedback loop (binding expressions: the host resolves %LLMOPS_RETRAIN_SWEEP_SCHEDULE%)
    _setting("retrain_sweep_schedule", Settings.model_fields["retrain_sweep_schedule"].default)
    _setting("canary_evaluator_schedule", Settings.model_fields["canary_evaluator_schedule"].default)
    _setting("model_operations_schedule", Settings.model_fields["model_operations_schedule"].default)
    _setting("monitor_schedule", Settings.model_fields["monitor_schedule"].default)  # drift monitors (issue 15)

    unknown = sorted(name for name in settings if not is_read_by_app(name))
    if unknown:  # a host setting added above without listing it in HOST_SETTINGS
        raise KeyError(f"app settings nobody reads: {', '.join(unknown)}")
    return settings
