"""The model-registry port: where a candidate that passed the gate is registered, with its
evaluation report inside the registered folder.

- ``AzureMLModelRegistry``: ``MLClient.models.create_or_update(Model(type=custom_model, ...))`` in
  the Azure ML workspace; inside a pipeline job it authenticates as the compute's managed identity.
- ``LocalModelRegistry``: numbered versions in a folder (``<root>/<name>/<version>/``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:  # azure-ai-ml is imported where it is used, never at start-up
    from azure.ai.ml import MLClient


class RegisteredModel(BaseModel):
    name: str
    version: str
    uri: str  # azureml:<name>:<version> or a local folder
    registry: str  # "azureml" | "local"


class ModelRegistry(Protocol):
    def register(
        self, name: str, folder: Path, *, tags: Mapping[str, str], description: str = ""
    ) -> RegisteredModel: ...


class LocalModelRegistry:
    def __init__(self, root: Path):
        self.root = root

    def register(self, name: str, folder: Path, *, tags: Mapping[str, str], description: str = "") -> RegisteredModel:
        base = self.root / name
        base.mkdir(parents=True, exist_ok=True)
        versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
        version = str(max(versions, default=0) + 1)
        target = base / version
        shutil.copytree(folder, target)
        (target / "model.json").write_text(
            json.dumps({"name": name, "version": version, "tags": dict(tags), "description": description}, indent=2),
            encoding="utf-8",
        )
        return RegisteredModel(name=name, version=version, uri=str(target.resolve()), registry="local")


def workspace_ml_client(
    subscription_id: str,
    resource_group: str,
    workspace: str,
    *,
    credential: Any = None,
    client_id: str | None = None,
) -> MLClient:
    """An ``MLClient`` for the workspace, authenticated with a managed identity by default
    (``client_id`` picks a user-assigned one) or any ``azure-identity`` credential passed in."""
    from azure.ai.ml import MLClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=client_id)
    return MLClient(credential, subscription_id, resource_group, workspace)


class AzureMLModelRegistry:
    def __init__(self, ml_client: Any):
        self.ml_client = ml_client

    @classmethod
    def from_job_environment(cls) -> AzureMLModelRegistry:
        """Inside an Azure ML job: the job's workspace, as the compute's managed identity."""
        missing = [
            name
            for name in (
                "AZUREML_ARM_SUBSCRIPTION",
                "AZUREML_ARM_RESOURCEGROUP",
                "AZUREML_ARM_WORKSPACE_NAME",
            )
            if not os.environ.get(name)
        ]
        if missing:
            raise RuntimeError(f"not inside an Azure ML job ({', '.join(missing)} unset); use --registry local")
        return cls(
            workspace_ml_client(
                os.environ["AZUREML_ARM_SUBSCRIPTION"],
                os.environ["AZUREML_ARM_RESOURCEGROUP"],
                os.environ["AZUREML_ARM_WORKSPACE_NAME"],
                client_id=os.environ.get("DEFAULT_IDENTITY_CLIENT_ID"),
            )
        )

    def register(self, name: str, folder: Path, *, tags: Mapping[str, str], description: str = "") -> RegisteredModel:
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model

        model = self.ml_client.models.create_or_update(
            Model(
                name=name,
                path=str(folder),
                type=AssetTypes.CUSTOM_MODEL,
                description=description,
                tags=dict(tags),
            )
        )
        return RegisteredModel(
            name=model.name,
            version=str(model.version),
            uri=f"azureml:{model.name}:{model.version}",
            registry="azureml",
        )
