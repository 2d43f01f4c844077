"""The Azure ML training runner against a fake MLClient (the real SDK cannot reach Azure here):
idempotent submission by job name, duplicate-name races, status mapping and the outcome download."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from pipelines.parameters import PipelineParameters
from pipelines.runners.azureml import AzureMLTrainingRunner, run_status
from shared.config import Settings
from shared.retraining.contract.runs import TrainingRequest, job_name_for
from shared.retraining.runner import RetrainingService
from shared.retraining.runs import TrainingRunStore
from shared.runtime import build_training_runner
from shared.store.sqlite import SqliteDocumentStore


class FakeJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, SimpleNamespace] = {}
        self.submitted: list = []
        self.race = False
        self.registration: dict | None = None

    def get(self, name: str):
        if name not in self.jobs:
            raise ResourceNotFoundError(f"job {name} not found")
        return self.jobs[name]

    def create_or_update(self, job, *, experiment_name: str):
        self.submitted.append((job, experiment_name))
        created = SimpleNamespace(
            name=job.name, status="NotStarted", studio_url=f"https://ml.azure.com/runs/{job.name}"
        )
        self.jobs[job.name] = created
        if self.race:  # another delivery created it first: the service answers "already exists"
            raise ResourceExistsError("job exists")
        return created

    def download(self, *, name: str, download_path: str, output_name: str) -> None:
        folder = Path(download_path) / "named-outputs" / output_name
        folder.mkdir(parents=True)
        (folder / "registration.json").write_text(json.dumps(self.registration))


@pytest.fixture
def jobs() -> FakeJobs:
    return FakeJobs()


@pytest.fixture
def runner(jobs) -> AzureMLTrainingRunner:
    return AzureMLTrainingRunner(
        lambda: SimpleNamespace(jobs=jobs),
        PipelineParameters.from_settings(Settings()),
        gpu_compute="gpu",
        cpu_compute="cpu",
        experiment_name="llmops-retraining",
        regression_set="azureml:llmops-regression-set@latest",
    )


@pytest.fixture
async def service(tmp_path, runner):
    store = SqliteDocumentStore(tmp_path / "store.sqlite3")
    await store.open()
    yield RetrainingService(runner, TrainingRunStore(store))
    await store.close()


REQUEST = TrainingRequest(
    dataset_id="support",
    snapshot_id="support@7",
    snapshot_uri="azureml://datastores/workspaceblobstore/paths/snapshots/support-7.jsonl",
    production_model="azureml:llmops-candidate:2",
)


async def test_submits_once_per_snapshot(service, jobs) -> None:
    run = await service.start(REQUEST)
    assert run.id == job_name_for("support@7") and run.status == "submitted" and run.runner == "azureml"
    ((job, experiment),) = jobs.submitted
    assert job.name == run.id and experiment == "llmops-retraining"
    assert job.tags["snapshot_id"] == "support@7"
    assert job.inputs["production_adapter"].path == "azureml:llmops-candidate:2"
    again = await service.start(REQUEST)  # the queue redelivers the message
    assert again.id == run.id and len(jobs.submitted) == 1


async def test_existing_job_is_not_submitted_again(runner, jobs) -> None:
    """The record was lost (or never written) but the job exists: the runner finds it by name."""
    name = job_name_for("support@7")
    jobs.jobs[name] = SimpleNamespace(name=name, status="Running", studio_url="https://studio/x")
    run = await runner.submit(REQUEST, run_id=name)
    assert run.status == "running" and run.studio_url == "https://studio/x" and jobs.submitted == []


async def test_duplicate_name_race_reads_as_submitted(runner, jobs) -> None:
    jobs.race = True
    run = await runner.submit(REQUEST, run_id=job_name_for("support@7"))
    assert run.status == "submitted" and len(jobs.submitted) == 1


async def test_refresh_records_the_gate_outcome(service, jobs) -> None:
    run = await service.start(REQUEST)
    jobs.jobs[run.id].status = "Running"
    assert (await service.refresh(run.id, "support")).status == "running"
    jobs.jobs[run.id].status = "Completed"
    jobs.registration = {
        "passed": True,
        "gate": {"passed": True, "checks": []},
        "registered_model": {
            "name": "llmops-candidate",
            "version": "3",
            "uri": "azureml:llmops-candidate:3",
            "registry": "azureml",
        },
        "training": {"steps": 100, "first_loss": 2.0, "final_loss": 1.0},
        "evaluation": {"validation": {}},
        "manifest": {"train_examples": 10},
    }
    done = await service.refresh(run.id, "support")
    assert done.status == "completed" and done.gate_passed is True
    assert done.registered_model["uri"] == "azureml:llmops-candidate:3"
    assert done.metrics["training"]["final_loss"] == 1.0
    stored = await service.runs.get(run.id, "support")
    assert stored is not None and stored.gate_passed is True


async def test_refresh_of_failed_and_vanished_jobs(service, jobs) -> None:
    run = await service.start(REQUEST)
    jobs.jobs[run.id].status = "Failed"
    failed = await service.refresh(run.id, "support")
    assert failed.status == "failed" and "Failed" in failed.error
    del jobs.jobs[run.id]
    assert (await service.refresh(run.id, "support")).status == "failed"
    with pytest.raises(KeyError):
        await service.refresh("no-such-run", "support")


def test_status_mapping_and_settings() -> None:
    assert run_status("Completed") == "completed" and run_status("Queued") == "running"
    assert run_status("CancelRequested") == "canceled" and run_status(None) == "running"
    with pytest.raises(ValueError, match="LLMOPS_AZUREML_SUBSCRIPTION_ID"):
        build_training_runner(Settings(training_runner="azureml"))
    configured = build_training_runner(
        Settings(
            training_runner="azureml",
            azureml_subscription_id="s",
            azureml_resource_group="rg",
            azureml_workspace="ws",
        )
    )
    assert configured.kind == "azureml" and configured.gpu_compute == "gpu-cluster"
    assert build_training_runner(Settings()).kind == "local"
