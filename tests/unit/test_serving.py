"""Serving entities for a registered candidate (managed online endpoint + vLLM deployment), the URL
the gateway calls, and the local stand-in."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.config import Settings
from shared.retraining.contract.registry import RegisteredModel
from shared.retraining.serving import (
    DEPLOYMENT_HEADER,
    AzureMLServingDeployer,
    LocalServingDeployer,
    ServingConfig,
    build_serving_deployer,
    deployment_name,
)

MODEL = RegisteredModel(
    name="llmops-candidate", version="12", uri="azureml:llmops-candidate:12", registry="azureml"
)
CONFIG = ServingConfig.from_settings(Settings(serving_instance_type="Standard_NC40ads_H100_v5"))


def test_endpoint_is_keyless_and_deployment_serves_base_plus_adapter() -> None:
    deployer = AzureMLServingDeployer(None, CONFIG)
    assert deployer.build_endpoint().auth_mode == "aad_token"
    deployment = deployer.build_deployment(MODEL)
    assert deployment.instance_type == "Standard_NC40ads_H100_v5"
    assert deployment.model == "azureml:llmops-candidate:12"
    assert deployment.environment_variables["BASE_MODEL"] == "microsoft/Phi-3.5-mini-instruct"
    assert deployment.environment_variables["LORA_NAME"] == "llmops-candidate-v12"
    assert "--max-lora-rank 64" in deployment.environment_variables["VLLM_ARGS"]
    routes = deployment.environment.inference_config
    assert routes["scoring_route"]["port"] == 8000
    serve_script = deployment.environment.build.path + "/serve.sh"
    assert "--enable-lora" in Path(serve_script).read_text(encoding="utf-8")


def test_local_models_cannot_go_to_azure() -> None:
    local = RegisteredModel(name="m", version="1", uri="/tmp/m/1", registry="local")
    with pytest.raises(ValueError, match="Azure ML"):
        AzureMLServingDeployer(None, CONFIG).build_deployment(local)


def test_deployment_names_follow_azure_rules() -> None:
    name = deployment_name(
        RegisteredModel(
            name="9_Very.Long_Model_Name_For_Support", version="123", uri="azureml:x:1", registry="azureml"
        )
    )
    assert (
        3 <= len(name) <= 32
        and name[0].isalpha()
        and set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    )


class _FakeOnline:
    """Azure ML's online endpoints/deployments operations: provisioning takes a few GETs."""

    def __init__(self, calls: list[str], kind: str, ready_after: int, final: str = "Succeeded") -> None:
        self.calls, self.kind, self.ready_after, self.final = calls, kind, ready_after, final
        self.created: dict[str, int] = {}

    def get(self, name=None, endpoint_name=None):
        from azure.core.exceptions import ResourceNotFoundError

        if name not in self.created:
            raise ResourceNotFoundError(f"no {self.kind}")
        self.created[name] += 1
        state = self.final if self.created[name] > self.ready_after else "Creating"
        return SimpleNamespace(provisioning_state=state,
                               scoring_uri="https://llmops-candidates.westeurope.inference.ml.azure.com/score")

    def begin_create_or_update(self, entity):
        self.calls.append(f"{self.kind} {entity.name}")
        self.created[entity.name] = 0
        return SimpleNamespace(result=lambda: (_ for _ in ()).throw(AssertionError("nobody waits for a poller")))


async def test_deploying_starts_each_step_and_never_waits_for_it() -> None:
    calls: list[str] = []
    client = SimpleNamespace(online_endpoints=_FakeOnline(calls, "endpoint", ready_after=1),
                             online_deployments=_FakeOnline(calls, "deployment", ready_after=2))
    deployer = AzureMLServingDeployer(client, CONFIG)
    progress = await deployer.begin(MODEL)
    assert (progress.state, progress.stage) == ("running", "endpoint")
    states = [(await deployer.check(MODEL)) for _ in range(5)]
    assert [(p.state, p.stage) for p in states] == [
        ("running", "endpoint"), ("running", "deployment"), ("running", "deployment"), ("running", "deployment"),
        ("ready", "done")]
    assert calls == ["endpoint llmops-candidates", "deployment llmops-candidate-v12"]
    endpoint = states[-1].endpoint
    assert endpoint is not None
    assert endpoint.base_url == "https://llmops-candidates.westeurope.inference.ml.azure.com/v1"
    assert endpoint.model == "llmops-candidate-v12"
    assert endpoint.headers == {DEPLOYMENT_HEADER: "llmops-candidate-v12"}
    assert endpoint.auth == "aad" and endpoint.token_scope == "https://ml.azure.com/.default"


async def test_a_failed_deployment_is_reported_not_retried_forever() -> None:
    calls: list[str] = []
    client = SimpleNamespace(online_endpoints=_FakeOnline(calls, "endpoint", ready_after=0),
                             online_deployments=_FakeOnline(calls, "deployment", ready_after=0, final="Failed"))
    deployer = AzureMLServingDeployer(client, CONFIG)
    await deployer.begin(MODEL)
    await deployer.check(MODEL)  # the endpoint is ready: the deployment starts
    progress = await deployer.check(MODEL)
    assert progress.state == "failed" and "Failed" in progress.detail


async def test_local_deployer_points_at_the_simulator() -> None:
    endpoint = (await LocalServingDeployer("http://127.0.0.1:9999/v1/", CONFIG).begin(MODEL)).endpoint
    assert endpoint is not None
    assert endpoint.base_url == "http://127.0.0.1:9999/v1" and endpoint.auth == "none"
    assert endpoint.model == "llmops-candidate-v12"
    with pytest.raises(ValueError, match="SERVING_LOCAL_BASE_URL"):
        build_serving_deployer(Settings())
    assert isinstance(
        build_serving_deployer(Settings(serving_local_base_url="http://x/v1")), LocalServingDeployer
    )
