"""Serving a registered candidate behind an OpenAI-compatible endpoint.

- ``AzureMLServingDeployer``: an Azure ML managed online endpoint (``ManagedOnlineEndpoint``,
  key-less: ``auth_mode="aad_token"``, callers present an Entra ID token for
  ``https://ml.azure.com/.default``) and one ``ManagedOnlineDeployment`` per candidate on a GPU
  instance type from the settings, running vLLM's OpenAI-compatible server with the base model and
  the registered LoRA adapter (``pipelines/environments/serving``: ``vllm serve --enable-lora``).
  The gateway calls it with the ``openai`` client at ``ServingEndpoint.base_url``, naming the adapter
  as the model and the deployment in the ``azureml-model-deployment`` header (so canary traffic is
  the gateway's routing decision, not the endpoint's traffic split).
- ``LocalServingDeployer``: the simulator (or any OpenAI-compatible server) stands in for the
  endpoint; the same entities are still built, so a bad configuration fails locally too.

Creating an online deployment takes 20-40 minutes, far past what one function may run. So a deployer
never waits: ``begin`` starts the next step (the endpoint, then the deployment) and returns its
``DeployProgress``; ``check`` looks once (a GET or two) and starts the deployment when the endpoint is
ready. The coordinator calls ``begin`` from the queue function and ``check`` from a timer until the
progress is ``ready`` (with the endpoint) or ``failed``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from shared.config import Settings, TrainingSettings
from shared.retraining.contract.registry import RegisteredModel

if TYPE_CHECKING:  # azure-ai-ml is imported where it is used, never at start-up
    from azure.ai.ml.entities import Environment, ManagedOnlineDeployment, ManagedOnlineEndpoint

AZUREML_ENDPOINT_SCOPE = "https://ml.azure.com/.default"
DEPLOYMENT_HEADER = "azureml-model-deployment"
SERVING_ENVIRONMENT = Path(__file__).resolve().parents[2] / "pipelines" / "environments" / "serving"
VLLM_PORT = 8000


class ServingEndpoint(BaseModel):
    """How the gateway reaches a deployed candidate with the ``openai`` client."""

    base_url: str  # OpenAI-compatible base URL, ending in /v1
    model: str  # the ``model`` to send: the LoRA adapter's served name
    deployment: str | None = None
    auth: Literal["aad", "none"] = "aad"
    token_scope: str | None = AZUREML_ENDPOINT_SCOPE
    headers: dict[str, str] = Field(default_factory=dict)


class ServingConfig(BaseModel):
    endpoint_name: str
    instance_type: str
    instance_count: int = 1
    base_model: str
    max_lora_rank: int = 64
    max_model_len: int = 4096

    @classmethod
    def from_settings(cls, settings: TrainingSettings) -> ServingConfig:
        return cls(
            endpoint_name=settings.serving_endpoint_name,
            instance_type=settings.serving_instance_type,
            instance_count=settings.serving_instance_count,
            base_model=settings.training_base_model,
            max_lora_rank=settings.serving_max_lora_rank,
        )


class DeployProgress(BaseModel):
    state: Literal["running", "ready", "failed"]
    stage: Literal["endpoint", "deployment", "done"]
    endpoint: ServingEndpoint | None = None  # when ready
    detail: str = ""


class ServingDeployer(Protocol):
    async def begin(self, model: RegisteredModel) -> DeployProgress:
        """Start deploying ``model`` (idempotent); returns at once."""
        ...

    async def check(self, model: RegisteredModel) -> DeployProgress:
        """Where the deployment stands now; moves it on to its next step when the last one is done."""
        ...


def served_name(model: RegisteredModel) -> str:
    """The adapter's name in vLLM (and in the deployment's name): ``<model>-v<version>``."""
    return f"{model.name}-v{model.version}"


def deployment_name(model: RegisteredModel) -> str:
    """Azure ML deployment names: 3-32 characters, letters, digits and hyphens, starting with a letter."""
    name = re.sub(r"[^a-z0-9-]+", "-", served_name(model).lower()).strip("-")
    return ("d-" + name if not name[:1].isalpha() else name)[:32].rstrip("-")


class AzureMLServingDeployer:
    def __init__(self, ml_client: Any, config: ServingConfig):
        self.ml_client = ml_client
        self.config = config

    # -- entities (offline) -----------------------------------------------------------------
    def build_endpoint(self) -> ManagedOnlineEndpoint:
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        return ManagedOnlineEndpoint(
            name=self.config.endpoint_name,
            auth_mode="aad_token",
            description="LoRA candidates fine-tuned by the llmops retraining pipeline (vLLM, OpenAI API)",
            tags={"managed-by": "llmops"},
        )

    def build_environment(self) -> Environment:
        from azure.ai.ml.entities import BuildContext, Environment

        route = {"port": VLLM_PORT, "path": "/health"}
        return Environment(
            name="llmops-serving-vllm",
            build=BuildContext(path=str(SERVING_ENVIRONMENT)),
            inference_config={
                "liveness_route": route,
                "readiness_route": route,
                "scoring_route": {"port": VLLM_PORT, "path": "/"},
            },
        )

    def build_deployment(self, model: RegisteredModel) -> ManagedOnlineDeployment:
        from azure.ai.ml.entities import ManagedOnlineDeployment, OnlineRequestSettings, ProbeSettings

        if model.registry != "azureml":
            raise ValueError(f"{model.uri}: only models registered in Azure ML can be deployed there")
        vllm_args = f"--max-lora-rank {self.config.max_lora_rank} --max-model-len {self.config.max_model_len}"
        # vLLM downloads and loads the base model at start: give the probes minutes, not seconds.
        probe = ProbeSettings(initial_delay=600, period=10, timeout=5, failure_threshold=30)
        return ManagedOnlineDeployment(
            name=deployment_name(model),
            endpoint_name=self.config.endpoint_name,
            model=model.uri,
            environment=self.build_environment(),
            instance_type=self.config.instance_type,
            instance_count=self.config.instance_count,
            environment_variables={
                "BASE_MODEL": self.config.base_model,
                "LORA_NAME": served_name(model),
                "VLLM_ARGS": vllm_args,
            },
            request_settings=OnlineRequestSettings(request_timeout_ms=180000, max_concurrent_requests_per_instance=32),
            liveness_probe=probe,
            readiness_probe=probe,
            tags={"model": model.uri},
        )

    def endpoint_for(self, model: RegisteredModel, scoring_uri: str) -> ServingEndpoint:
        base = re.sub(r"/score/?$", "", scoring_uri.rstrip("/"))
        name = deployment_name(model)
        return ServingEndpoint(
            base_url=f"{base}/v1",
            model=served_name(model),
            deployment=name,
            auth="aad",
            headers={DEPLOYMENT_HEADER: name},
        )

    def write_entities(self, model: RegisteredModel, out_dir: Path) -> list[Path]:
        """Dump the endpoint and deployment as YAML and load them back (azure-ai-ml's schema checks)."""
        import json

        import yaml
        from azure.ai.ml import load_online_deployment, load_online_endpoint

        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for entity, loader, file in (
            (self.build_endpoint(), load_online_endpoint, "endpoint.yml"),
            (self.build_deployment(model), load_online_deployment, "deployment.yml"),
        ):
            path = out_dir / file
            # _to_dict gives ordered dicts; a JSON round trip makes them plain for safe_dump.
            path.write_text(yaml.safe_dump(json.loads(json.dumps(entity._to_dict()))), encoding="utf-8")
            loader(path)
            written.append(path)
        return written

    # -- deployment (Azure): started, then checked; never waited for ----------------------------
    async def begin(self, model: RegisteredModel) -> DeployProgress:
        return await asyncio.to_thread(self._step, model)

    async def check(self, model: RegisteredModel) -> DeployProgress:
        return await asyncio.to_thread(self._step, model)

    def _step(self, model: RegisteredModel) -> DeployProgress:
        """One look at the endpoint and the deployment, starting whichever is missing (no ``.result()``)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            endpoint = self.ml_client.online_endpoints.get(self.config.endpoint_name)
        except ResourceNotFoundError:
            self.ml_client.online_endpoints.begin_create_or_update(self.build_endpoint())
            return DeployProgress(state="running", stage="endpoint", detail="endpoint creation started")
        state = _provisioning(endpoint)
        if state != "succeeded":
            return DeployProgress(state="failed" if state == "failed" else "running", stage="endpoint",
                                  detail=f"endpoint {endpoint.provisioning_state}")
        name = deployment_name(model)
        try:
            deployment = self.ml_client.online_deployments.get(name=name, endpoint_name=self.config.endpoint_name)
        except ResourceNotFoundError:
            self.ml_client.online_deployments.begin_create_or_update(self.build_deployment(model))
            return DeployProgress(state="running", stage="deployment", detail=f"deployment {name} started")
        state = _provisioning(deployment)
        if state == "succeeded":
            return DeployProgress(state="ready", stage="done", endpoint=self.endpoint_for(model, endpoint.scoring_uri))
        return DeployProgress(state="failed" if state == "failed" else "running", stage="deployment",
                              detail=f"deployment {name} {deployment.provisioning_state}")


def _provisioning(entity: Any) -> str:
    state = str(getattr(entity, "provisioning_state", "") or "").lower()
    return "failed" if state in ("failed", "canceled") else state


class LocalServingDeployer:
    """Locally the simulator stands in for the endpoint; the Azure entities are still built.

    ``provisioning_checks``: how many checks report the deployment still running before it is ready
    (0: ready at once), so the started-then-polled path runs locally as it does in Azure."""

    def __init__(self, base_url: str, config: ServingConfig, *, provisioning_checks: int = 0):
        self.base_url = base_url.rstrip("/")
        self.config = config
        self.provisioning_checks = provisioning_checks
        self._checks: dict[str, int] = {}

    async def begin(self, model: RegisteredModel) -> DeployProgress:
        builder = AzureMLServingDeployer(None, self.config)
        builder.build_endpoint()
        if model.registry == "azureml":
            builder.build_deployment(model)
        self._checks.setdefault(model.uri, 0)
        return self._progress(model)

    async def check(self, model: RegisteredModel) -> DeployProgress:
        self._checks[model.uri] = self._checks.get(model.uri, 0) + 1
        return self._progress(model)

    def _progress(self, model: RegisteredModel) -> DeployProgress:
        if self._checks.get(model.uri, 0) < self.provisioning_checks:
            return DeployProgress(state="running", stage="deployment", detail="provisioning (local)")
        endpoint = ServingEndpoint(base_url=self.base_url, model=served_name(model), auth="none", token_scope=None)
        return DeployProgress(state="ready", stage="done", endpoint=endpoint)


def build_serving_deployer(settings: Settings) -> ServingDeployer:
    config = ServingConfig.from_settings(settings)
    if settings.training_runner == "azureml":
        from shared.retraining.contract.registry import workspace_ml_client

        client = workspace_ml_client(*settings.azureml_workspace_ids(), client_id=settings.azure_client_id)
        return AzureMLServingDeployer(client, config)
    if not settings.serving_local_base_url:
        raise ValueError("local serving needs LLMOPS_SERVING_LOCAL_BASE_URL (the simulator's /v1 URL)")
    return LocalServingDeployer(settings.serving_local_base_url, config)
