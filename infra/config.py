"""Typed stack configuration: every value the Pulumi program reads, validated once, up front.

Values live in ``Pulumi.<stack>.yaml`` under the ``llmops:`` namespace (``Pulumi.dev.yaml`` is the
documented example). Keys are camelCase, as Pulumi config keys usually are; structured values
(``openai``, ``functionApp``, ...) are YAML objects. A missing, mistyped or out-of-range value fails
before any resource is touched, with one line per problem naming the exact key::

    invalid stack config for stack 'dev' (Pulumi.dev.yaml):
      - llmops:ml.gpuMaxNodes: Input should be greater than or equal to 1 (got 0)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from shared.model_catalog import ModelCatalog, load_catalog

NAMESPACE = "llmops"
Tier = Literal["small", "frontier", "embeddings"]
TIERS: tuple[str, ...] = ("small", "frontier", "embeddings")
# How a deployment moves to a new model version: at the current version's retirement (never stranded on
# a retired version), as soon as Azure names a new default, or never (pinned: you upgrade it yourself).
UpgradePolicy = Literal["onceCurrentVersionExpired", "onceNewDefaultVersionAvailable", "noAutoUpgrade"]
ObjectId = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                           pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class ConfigError(Exception):
    """The stack configuration is missing a value or holds an invalid one."""


class _Section(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Pricing(_Section):
    """USD per million tokens, as the gateway's cost accounting needs them."""

    input_per_1m: float = Field(ge=0, alias="inputPer1m")
    cached_input_per_1m: float = Field(default=0.0, ge=0, alias="cachedInputPer1m")
    output_per_1m: float = Field(default=0.0, ge=0, alias="outputPer1m")


class ModelDeployment(_Section):
    """One Azure OpenAI deployment and how the gateway addresses it."""

    alias: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    tier: Tier
    model: str = Field(min_length=1)
    version: str = Field(min_length=1)
    deployment: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
    sku: Literal["GlobalStandard", "Standard", "DataZoneStandard", "ProvisionedManaged", "GlobalProvisionedManaged"] = (
        "GlobalStandard"
    )
    # Thousands of tokens per minute (Standard SKUs) or provisioned throughput units.
    capacity: int = Field(ge=1, le=100_000)
    pricing: Pricing
    upgrade: UpgradePolicy = "onceCurrentVersionExpired"

    @property
    def deployment_name(self) -> str:
        return self.deployment or self.alias

    @property
    def family(self) -> str:
        entry = load_catalog().model(self.model)
        assert entry is not None  # validated against the catalog
        return entry.family

    @field_validator("model")
    @classmethod
    def _known_model(cls, model: str) -> str:
        catalog = load_catalog()
        if catalog.model(model) is None:
            raise ValueError(f"unknown model {model!r}: not in the model catalog (shared/model_catalog/catalog.yaml; "
                             f"known: {', '.join(sorted(catalog.models))})")
        return model

    @field_validator("version")
    @classmethod
    def _current_version(cls, version: str, info: ValidationInfo) -> str:
        model = info.data.get("model")
        if model is None:  # the model itself is invalid (reported on its own key)
            return version
        catalog = load_catalog()
        entry = catalog.model(model)
        assert entry is not None
        known = entry.versions.get(version)
        if known is None:
            raise ValueError(f"{model} has no version {version!r} in the model catalog "
                             f"(known: {', '.join(sorted(entry.versions))})")
        today = _today(info)
        if known.retired_on(today):
            raise ValueError(f"{model} version {version} retired on {known.retirement} (model catalog): choose a "
                             f"current model, e.g. {_current_models(catalog, entry.family, today)}")
        return version

    @model_validator(mode="after")
    def _family_fits_tier(self) -> ModelDeployment:
        if (self.tier == "embeddings") != (self.family == "embeddings"):
            raise ValueError(f"deployment {self.alias}: tier {self.tier} cannot serve {self.model} "
                             f"(a {self.family} model)")
        return self


class OpenAIConfig(_Section):
    location: str | None = None  # defaults to the stack location (model availability differs by region)
    # "v1": Azure OpenAI's v1 API (no api-version), or a dated version (e.g. 2025-04-01-preview)
    api_version: str = Field(default_factory=lambda: load_catalog().default_api_version,
                             pattern=r"^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$")
    deployments: tuple[ModelDeployment, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_deployment_per_tier_at_least(self) -> OpenAIConfig:
        aliases = [d.alias for d in self.deployments]
        duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
        if duplicates:
            raise ValueError(f"deployment aliases must be unique; repeated: {', '.join(duplicates)}")
        names = [d.deployment_name for d in self.deployments]
        if len(set(names)) != len(names):
            raise ValueError("deployment names must be unique within the Azure OpenAI account")
        missing = [t for t in TIERS if not any(d.tier == t for d in self.deployments)]
        if missing:
            raise ValueError(f"needs at least one deployment for each tier; missing: {', '.join(missing)}")
        catalog = load_catalog()
        for d in self.deployments:
            family = catalog.family(d.family)
            if not family.accepts_api_version(self.api_version):
                raise ValueError(f"apiVersion {self.api_version} predates {d.model} ({family.name} models need "
                                 f"{family.min_api_version} or later, or v1)")
        return self

    def first_of_tier(self, tier: str) -> ModelDeployment:
        return next(d for d in self.deployments if d.tier == tier)


class FunctionAppConfig(_Section):
    always_ready_http: int = Field(default=1, ge=0, le=20)
    maximum_instances: int = Field(default=100, ge=40, le=1000)
    instance_memory_mb: Literal[512, 2048, 4096] = 2048
    # HTTP requests one instance takes at once (scaleAndConcurrency.triggers.http.perInstanceConcurrency);
    # more arriving start another instance. None: derived from the measurements below (http_concurrency).
    http_per_instance_concurrency: int | None = Field(default=None, ge=1, le=1000)
    # Gateway CPU per request with the default policy, distinct ~1 KB prompts and ~150-token answers
    # (`python bench/gateway_overhead.py --targets`, README "Gateway targets"); the encoder is most of it.
    cpu_ms_per_request: float = Field(default=52.0, gt=0)
    # How long a request waits on the model (a ~150-token answer from gpt-4o-mini): the CPU is free meanwhile.
    upstream_latency_s: float = Field(default=3.0, gt=0)
    # The share of an instance's CPU the gateway may use before new requests go to a new instance.
    target_cpu_utilisation: float = Field(default=0.7, gt=0, le=1)

    def http_concurrency(self) -> int:
        """Requests in flight that keep one instance's CPU at the target utilisation (Little's law):
        requests per second its CPU serves times how long each waits on the model. Flex Consumption
        allots CPU in proportion to memory; 1 vCPU per 2,048 MB is assumed (re-measure in Azure)."""
        if self.http_per_instance_concurrency is not None:
            return self.http_per_instance_concurrency
        vcpus = self.instance_memory_mb / 2048
        per_second = vcpus * self.target_cpu_utilisation * 1000 / self.cpu_ms_per_request
        return max(1, min(1000, round(per_second * self.upstream_latency_s)))
    # az: `pulumi up` deploys the package with the Azure CLI (OneDeploy with remote build, Entra ID auth).
    # none: `pulumi up` leaves the code alone (deploy it yourself; see infra/README.md).
    code_deployment: Literal["az", "none"] = "az"
    # Where `llmops package` writes the zip, relative to the infra/ folder.
    package_path: str = "../dist/function-app.zip"
    # Build the package as part of `pulumi up` (deterministic, so an unchanged tree redeploys nothing).
    build_package: bool = True
    # How long `pulumi up` keeps retrying the code deployment: new role assignments take up to ~10
    # minutes to apply and the remote build several more.
    deploy_timeout_minutes: int = Field(default=30, ge=10, le=120)


class MLConfig(_Section):
    gpu_vm_size: str = Field(default="Standard_NC24ads_A100_v4", pattern=r"^Standard_[A-Za-z0-9_]+$")
    gpu_max_nodes: int = Field(default=2, ge=1, le=100)
    gpu_low_priority: bool = True
    gpu_idle_minutes: int = Field(default=15, ge=1, le=10_080)
    # The fixed regression set every candidate is evaluated on: a uri_file data asset you upload once
    # (azureml:<name>:<version>) or a URI (LLMOPS_TRAINING_REGRESSION_SET). Unset: the fine-tuning
    # snapshot's own held-out split only.
    regression_set: str | None = Field(default=None, pattern=r"^(azureml:|azureml://|https://)\S+$")
    # The open instruct model fine-tuned and served (a hub id; LLMOPS_TRAINING_BASE_MODEL). Unset: the
    # Settings default.
    base_model: str | None = Field(default=None, pattern=r"^\S+$")
    # The registered model candidates must beat (azureml:<name>:<version>, LLMOPS_TRAINING_PRODUCTION_MODEL),
    # e.g. the last promoted one. Unset: the base model itself.
    production_model: str | None = Field(default=None, pattern=r"^azureml:\S+$")


class GuardrailsConfig(_Section):
    # Provision an Azure AI Language account and let the guardrails' pii check use its PII entity
    # recognition (LLMOPS_LANGUAGE_ENDPOINT). Off: the local pattern detectors do PII on their own.
    language_pii: bool = False


class BudgetConfig(_Section):
    daily_usd: float = Field(gt=0)
    # Alert when the model spend of the last 24 hours reaches this share of the daily budget.
    burn_alert_percent: float = Field(default=80.0, gt=0, le=1000)


class AlertsConfig(_Section):
    # p95 of the time to first token of streamed chat requests (what a user waits for; a whole stream's
    # duration depends on the answer's length), and p95 of the gateway's own overhead.
    ttft_p95_ms: float = Field(default=2000.0, gt=0, alias="ttftP95Ms")
    overhead_p95_ms: float = Field(default=50.0, gt=0, alias="overheadP95Ms")
    error_5xx_percent: float = Field(default=5.0, gt=0, le=100, alias="error5xxPercent")
    guardrail_violation_percent: float = Field(default=10.0, gt=0, le=100)
    # Alert when at least this many retraining runs failed in the last day.
    retraining_failures: int = Field(default=1, ge=1)
    evaluation_frequency_minutes: Literal[1, 5, 10, 15, 30, 60] = 5
    window_minutes: Literal[5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440] = 15
    severity: int = Field(default=2, ge=0, le=4)

    @model_validator(mode="after")
    def _window_covers_frequency(self) -> AlertsConfig:
        if self.window_minutes < self.evaluation_frequency_minutes:
            raise ValueError("windowMinutes must be at least evaluationFrequencyMinutes")
        return self


class NetworkConfig(_Section):
    # Flex VNet integration and private endpoints for Cosmos DB, Azure OpenAI, Content Safety (and
    # Language) and the app's storage; public network access off on each. Deploy and administer from
    # inside the network (or a peered one) once it is on.
    private: bool = False
    address_space: str = Field(default="10.60.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-3])$")


class MonitoringConfig(_Section):
    log_retention_days: int = Field(default=30, ge=30, le=730)
    # Share of traces kept (1 = all). Below 1, kept spans carry ItemCount and the workbook weights by it.
    trace_sampling_ratio: float = Field(default=1.0, gt=0, le=1)


class KeyVaultConfig(_Section):
    soft_delete_retention_days: int = Field(default=90, ge=7, le=90)
    purge_protection: bool = True


class StackConfig(_Section):
    """The whole ``llmops:`` namespace of a stack."""

    location: str = Field(pattern=r"^[a-z][a-z0-9]+$")
    name_prefix: str = Field(default="llmops", pattern=r"^[a-z][a-z0-9]{1,11}$")
    # The global names' suffix. Unset (the default): five random characters made on the first
    # `pulumi up` and kept in the stack's state. Set it to pin one ("" keeps names without a suffix,
    # as stacks created before suffixes had them).
    name_suffix: str | None = Field(default=None, pattern=r"^[a-z0-9]{0,5}$")
    owners: tuple[Email, ...] = Field(min_length=1)
    # Entra ID object ids of the operators' group (or users): they get Cosmos DB's data role, so that
    # `llmops tenants|keys|prompts ...` works against the deployed platform with their own login.
    # (az ad group show --group "LLMOps operators" --query id -o tsv)
    operators: tuple[ObjectId, ...] = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)
    openai: OpenAIConfig
    function_app: FunctionAppConfig = FunctionAppConfig()
    ml: MLConfig = Field(default_factory=MLConfig, validate_default=True)
    guardrails: GuardrailsConfig = GuardrailsConfig()
    budget: BudgetConfig
    alerts: AlertsConfig = AlertsConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    network: NetworkConfig = NetworkConfig()
    # Client apps may also authenticate with Entra ID access tokens for this app registration (its
    # Application ID URI, e.g. api://llmops-gateway); app roles "llmops:<tenant>/<app>" name the caller.
    entra_audience: str | None = Field(default=None, pattern=r"^(api://\S+|[0-9a-fA-F-]{36})$")
    key_vault: KeyVaultConfig = KeyVaultConfig()

    @field_validator("ml")
    @classmethod
    def _gpu_size_in_region(cls, ml: MLConfig, info: ValidationInfo) -> MLConfig:
        location = info.data.get("location")
        regions = load_catalog().gpu_regions(ml.gpu_vm_size)
        if regions is None:
            raise ValueError(f"gpuVmSize {ml.gpu_vm_size} is not in the model catalog's gpu_sizes "
                             f"(shared/model_catalog/catalog.yaml; add it with the regions that offer it)")
        if location is not None and location not in regions:
            raise ValueError(f"gpuVmSize {ml.gpu_vm_size} is not offered in {location} (offered in: "
                             f"{', '.join(sorted(regions))}); choose another size or llmops:location")
        return ml

    @field_validator("tags")
    @classmethod
    def _tags_are_valid(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if not key or len(key) > 512 or re.search(r"[<>%&\\?/]", key):
                raise ValueError(f"tag name {key!r} is not allowed in Azure (1-512 chars, none of <>%&\\?/)")
            if len(value) > 256:
                raise ValueError(f"tag {key!r}: value longer than 256 characters")
        return tags


def _today(info: ValidationInfo) -> dt.date:
    context = info.context if isinstance(info.context, dict) else {}
    today = context.get("today")
    return today if isinstance(today, dt.date) else dt.datetime.now(dt.UTC).date()


def _current_models(catalog: ModelCatalog, family: str, today: dt.date) -> str:
    current = sorted(f"{name} {version}" for name, entry in catalog.models.items() if entry.family == family
                     for version, lifecycle in entry.versions.items() if not lifecycle.retired_on(today))
    return ", ".join(current[:4]) or "none in the catalog: update it (infra/README.md)"


def parse_stack_config(raw: Mapping[str, Any], *, stack: str = "dev", today: dt.date | None = None) -> StackConfig:
    """Validate the ``llmops:`` keys of a stack (key -> value, keys without the namespace).

    ``today`` is the date retirement is checked against (default: the current UTC date)."""
    try:
        return StackConfig.model_validate(dict(raw), context={"today": today} if today else None)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(error)}" for error in exc.errors())
        raise ConfigError(
            f"invalid stack config for stack {stack!r} (Pulumi.{stack}.yaml):\n{problems}\n"
            f"See infra/Pulumi.dev.yaml for a documented example; set a value with "
            f"`pulumi config set {NAMESPACE}:<key> <value>` (--path for nested keys)."
        ) from None


def load_stack_config() -> StackConfig:
    """Read and validate the current stack's config through the Pulumi runtime."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    stack = pulumi.get_stack()
    config = pulumi.Config(NAMESPACE)
    known = {field.alias or name for name, field in StackConfig.model_fields.items()}
    raw: dict[str, Any] = {}
    for key in sorted(known):
        value = config.get(key)
        if value is not None:
            raw[key] = _decode(value)
    # Keys nobody reads are typos: pass them on so that validation names them.
    prefix = f"{NAMESPACE}:"
    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for full_key, value in everything.items():
        key = full_key[len(prefix) :] if full_key.startswith(prefix) else None
        if key is not None and key not in raw:
            raw[key] = _decode(value)
    return parse_stack_config(raw, stack=stack)


def _decode(value: Any) -> Any:
    """Pulumi hands structured values over as JSON text; scalars stay strings (pydantic coerces them)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    key = f"{NAMESPACE}:{location}" if location else f"{NAMESPACE}:<root>"
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "missing":
        return f"{key}: required value is missing"
    if error.get("type") == "extra_forbidden":
        return f"{key}: unknown key (check the spelling against Pulumi.dev.yaml)"
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
    return f"{key}: {message}{shown}"
