"""The registry of model deployments the gateway may call.

Each deployment is an Azure OpenAI (or OpenAI-compatible, e.g. an Azure ML online endpoint)
deployment with an alias clients use as ``model``, a tier for routing and a price table for cost.
The list comes from ``LLMOPS_DEPLOYMENTS_JSON`` (the Pulumi program writes it) or from
``LLMOPS_DEPLOYMENTS_FILE`` (YAML or JSON), validated at load with errors that name the entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.config import Settings
from shared.model_catalog import Family, FamilyName, load_catalog

# "reasoning": a reasoning-family deployment served only when a client names it (not routed by "auto")
Tier = Literal["small", "frontier", "embeddings", "canary", "reasoning"]
AUTO_MODEL = "auto"


class DeploymentConfigError(ValueError):
    """The deployment list is missing or invalid."""


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:-]+$")
    endpoint: str = Field(min_length=1)  # https://<name>.openai.azure.com or a local simulator URL
    deployment: str = Field(min_length=1)  # the Azure deployment name in the URL path
    # a dated Azure OpenAI API version, or "v1" (Azure's v1 API: /openai/v1/, no api-version)
    api_version: str = Field(default_factory=lambda: load_catalog().default_api_version)
    model: str = Field(min_length=1)  # the underlying model, e.g. gpt-5-mini
    tier: Tier = "small"
    # what the model accepts (shared/model_catalog): from the catalog by ``model`` when not given;
    # a model the catalog does not know (a fine-tuned open model) is "chat"
    family: FamilyName | None = None
    # USD per 1M tokens
    input_per_1m: float = Field(default=0.0, ge=0)
    cached_input_per_1m: float | None = Field(default=None, ge=0)
    output_per_1m: float = Field(default=0.0, ge=0)
    # "entra" (managed identity, the Azure default) or "key" (the simulator / a keyed endpoint)
    auth: Literal["entra", "key"] = "entra"
    api_key: str | None = None
    # "azure": Azure OpenAI's URL shape (/openai/deployments/{deployment}/...?api-version=);
    # "azure_responses": Azure OpenAI through the Responses API on the v1 endpoint (/openai/v1/responses);
    # "openai": an OpenAI-compatible server at ``endpoint`` (e.g. vLLM on an Azure ML online endpoint, .../v1)
    api_style: Literal["azure", "azure_responses", "openai"] = "azure"
    # Entra ID scope of the token (default: Cognitive Services; Azure ML endpoints use https://ml.azure.com/.default)
    token_scope: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # sent with every call (e.g. azureml-model-deployment)
    # routing pools (issue: routing/failover): lower priority is tried first; weight splits traffic
    priority: int = Field(default=0, ge=0)
    weight: float = Field(default=1.0, gt=0)
    region: str | None = None

    @model_validator(mode="after")
    def _family_from_catalog(self) -> Deployment:
        if self.family is None:
            known = load_catalog().family_of(self.model)
            family = known.name if known else ("embeddings" if self.tier == "embeddings" else "chat")
            object.__setattr__(self, "family", family)
        return self

    @cached_property
    def model_family(self) -> Family:
        return load_catalog().family(self.family or "chat")

    @field_validator("endpoint")
    @classmethod
    def _http_endpoint(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL")
        return value.rstrip("/")

    def cost_usd(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached = min(max(cached_tokens, 0), prompt_tokens)
        cached_price = self.cached_input_per_1m if self.cached_input_per_1m is not None else self.input_per_1m
        return (
            (prompt_tokens - cached) * self.input_per_1m
            + cached * cached_price
            + completion_tokens * self.output_per_1m
        ) / 1_000_000


class DeploymentRegistry:
    def __init__(self, deployments: Iterable[Deployment], default_alias: str | None = None) -> None:
        self._by_alias: dict[str, Deployment] = {}
        for deployment in deployments:
            if deployment.alias in self._by_alias:
                raise DeploymentConfigError(f"duplicate deployment alias {deployment.alias!r}")
            if deployment.alias == AUTO_MODEL:
                raise DeploymentConfigError(f"'{AUTO_MODEL}' is reserved for routing; pick another alias")
            self._by_alias[deployment.alias] = deployment
        chat = [d for d in self._by_alias.values() if d.tier != "embeddings"]
        if default_alias is not None and default_alias not in self._by_alias:
            raise DeploymentConfigError(f"default deployment {default_alias!r} is not in the deployment list")
        self.default_alias = default_alias or (chat[0].alias if chat else None)
        self._tiers: dict[str, tuple[Deployment, ...]] = {}  # sorted once: the router asks on every request
        for deployment in sorted(self._by_alias.values(), key=lambda d: d.priority):
            self._tiers[deployment.tier] = (*self._tiers.get(deployment.tier, ()), deployment)

    def __iter__(self) -> Iterator[Deployment]:
        return iter(self._by_alias.values())

    def __len__(self) -> int:
        return len(self._by_alias)

    def get(self, alias: str) -> Deployment | None:
        return self._by_alias.get(alias)

    def chat_deployments(self) -> list[Deployment]:
        return [d for d in self._by_alias.values() if d.tier != "embeddings"]

    def by_tier(self, tier: str) -> list[Deployment]:
        return list(self._tiers.get(tier, ()))

    def default(self) -> Deployment:
        if self.default_alias is None:
            raise DeploymentConfigError("no chat deployment is configured")
        return self._by_alias[self.default_alias]

    def model_names(self) -> list[str]:
        """What a client may send as ``model``."""
        return [AUTO_MODEL, *(d.alias for d in self.chat_deployments())]


def parse_deployments(raw: object, source: str) -> list[Deployment]:
    if isinstance(raw, dict) and "deployments" in raw:
        raw = raw["deployments"]
    if not isinstance(raw, list):
        raise DeploymentConfigError(f"{source}: expected a list of deployments")
    out = []
    for index, item in enumerate(raw):
        try:
            out.append(Deployment.model_validate(item))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            name = item.get("alias", f"#{index}") if isinstance(item, dict) else f"#{index}"
            raise DeploymentConfigError(f"{source}: deployment {name}: {field}: {first['msg']}") from None
    return out


def load_registry(settings: Settings) -> DeploymentRegistry:
    if settings.deployments_json:
        try:
            raw = json.loads(settings.deployments_json)
        except json.JSONDecodeError as exc:
            raise DeploymentConfigError(f"LLMOPS_DEPLOYMENTS_JSON is not valid JSON: {exc}") from None
        deployments = parse_deployments(raw, "LLMOPS_DEPLOYMENTS_JSON")
    elif settings.deployments_file:
        path = Path(settings.deployments_file)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DeploymentConfigError(f"cannot read {path}: {exc}") from None
        except yaml.YAMLError as exc:
            raise DeploymentConfigError(f"{path}: invalid YAML: {exc}") from None
        deployments = parse_deployments(raw, str(path))
    else:
        deployments = []
    return DeploymentRegistry(deployments, settings.default_deployment)
