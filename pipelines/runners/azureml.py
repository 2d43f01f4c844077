"""Azure ML adapter of the training-runner port.

``submit`` builds the pipeline (``pipelines.definition``) and submits it with
``MLClient.jobs.create_or_update(job, experiment_name=...)`` under a job name derived from the
dataset snapshot, after checking that no job of that name exists: a retried queue message for the
same snapshot finds the job instead of submitting a second one (and a race between two deliveries
ends in Azure ML refusing the duplicate name, which is read as "already submitted").
``refresh`` maps the job's status and, once it completed, downloads the register step's
``decision`` output (``registration.json``) into the run record.

The ``MLClient`` authenticates with the Function App's managed identity (``DefaultAzureCredential``;
``AZURE_CLIENT_ID`` selects a user-assigned one). Its calls are synchronous, so they run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.retraining.contract.runs import RunStatus, TrainingRequest, TrainingRun, TrainingRunError

# Azure ML job status -> run status (anything else: still running).
_STATUS: dict[str, RunStatus] = {
    "NotStarted": "submitted",
    "Completed": "completed",
    "Failed": "failed",
    "NotResponding": "failed",
    "Canceled": "canceled",
    "CancelRequested": "canceled",
}


def run_status(job_status: str | None) -> RunStatus:
    return _STATUS.get(job_status or "", "running")


class AzureMLTrainingRunner:
    kind = "azureml"

    def __init__(
        self,
        ml_client_factory: Callable[[], Any],
        params: Any,  # pipelines.parameters.PipelineParameters
        *,
        gpu_compute: str,
        cpu_compute: str,
        experiment_name: str,
        regression_set: str | None = None,
    ):
        self._factory = ml_client_factory
        self._client: Any = None
        self.params = params
        self.gpu_compute = gpu_compute
        self.cpu_compute = cpu_compute
        self.experiment_name = experiment_name
        self.regression_set = regression_set

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureMLTrainingRunner:
        from pipelines.parameters import PipelineParameters
        from shared.retraining.contract.registry import workspace_ml_client

        subscription, group, workspace = settings.azureml_workspace_ids()
        return cls(
            lambda: workspace_ml_client(subscription, group, workspace, client_id=settings.azure_client_id),
            PipelineParameters.from_settings(settings),
            gpu_compute=settings.azureml_gpu_compute,
            cpu_compute=settings.azureml_cpu_compute,
            experiment_name=settings.azureml_experiment,
            regression_set=settings.training_regression_set,
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    # -- the port ---------------------------------------------------------------------------
    async def submit(self, request: TrainingRequest, *, run_id: str) -> TrainingRun:
        return await asyncio.to_thread(self._submit, request, run_id)

    async def refresh(self, run: TrainingRun) -> TrainingRun:
        return await asyncio.to_thread(self._refresh, run)

    # -- synchronous SDK calls --------------------------------------------------------------
    def _existing_job(self, name: str) -> Any | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.client.jobs.get(name)
        except ResourceNotFoundError:
            return None

    def _submit(self, request: TrainingRequest, run_id: str) -> TrainingRun:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        from pipelines.definition import build_pipeline_job

        job = self._existing_job(run_id)
        if job is None:
            with tempfile.TemporaryDirectory(prefix="llmops-pipeline-") as workdir:
                pipeline = build_pipeline_job(
                    self.params,
                    workdir=Path(workdir),
                    snapshot=request.snapshot_uri,
                    regression_set=self.regression_set,
                    production_model=request.production_model,
                    gpu_compute=self.gpu_compute,
                    cpu_compute=self.cpu_compute,
                    experiment_name=self.experiment_name,
                    job_name=run_id,
                    tags={"dataset_id": request.dataset_id, "snapshot_id": request.snapshot_id},
                )
                try:
                    job = self.client.jobs.create_or_update(pipeline, experiment_name=self.experiment_name)
                except ResourceExistsError:
                    job = self._existing_job(run_id)
                except HttpResponseError as exc:
                    # A concurrent delivery created it between our check and our submission.
                    job = self._existing_job(run_id) if exc.status_code in (400, 409) else None
                    if job is None:
                        raise TrainingRunError(f"submitting {run_id} failed: {exc.message}") from exc
        return TrainingRun(
            id=run_id,
            dataset_id=request.dataset_id,
            snapshot_id=request.snapshot_id,
            snapshot_uri=request.snapshot_uri,
            runner="azureml",
            status=run_status(getattr(job, "status", None)),
            production_model=request.production_model,
            studio_url=getattr(job, "studio_url", None),
        )

    def _refresh(self, run: TrainingRun) -> TrainingRun:
        from pipelines.definition import OUTPUT_DECISION

        job = self._existing_job(run.id)
        if job is None:
            return run.model_copy(update={"status": "failed", "error": "the Azure ML job no longer exists"})
        status = run_status(job.status)
        updated = run.model_copy(
            update={
                "status": status,
                "studio_url": job.studio_url or run.studio_url,
                "updated_at": time.time(),
            }
        )
        if status != "completed":
            if status == "failed":
                updated = updated.model_copy(update={"error": f"Azure ML job {job.status}: see {job.studio_url}"})
            return updated
        with tempfile.TemporaryDirectory(prefix="llmops-outcome-") as folder:
            self.client.jobs.download(name=run.id, download_path=folder, output_name=OUTPUT_DECISION)
            found = next(Path(folder).rglob("registration.json"), None)
            if found is None:
                return updated.model_copy(update={"error": "the register step wrote no registration.json"})
            registration = json.loads(found.read_text(encoding="utf-8"))
        return updated.with_outcome(registration)
