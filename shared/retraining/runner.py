"""The retraining service that the retraining trigger calls.

It drives a ``TrainingRunner`` (``shared.retraining.contract.runs``; its adapters live beside the
pipeline they run: ``pipelines.runners.azureml.AzureMLTrainingRunner`` builds the pipeline and submits
it with ``MLClient.jobs.create_or_update``, ``pipelines.runners.local.LocalTrainingRunner`` runs the same
component scripts in subprocesses on this machine; the composition root, ``shared.runtime``, picks
one). ``RetrainingService`` adds the idempotency and the records: one run per snapshot, recorded in
``training_runs`` before and after every change.

Entry points for the event-driven functions::

    service = RetrainingService(build_training_runner(settings), TrainingRunStore(store))
    run = await service.start(TrainingRequest(...))         # retraining queue message
    run = await service.refresh(run_id, dataset_id)         # Azure ML RunCompleted event / timer
"""

from __future__ import annotations

import time

from shared.retraining.contract.runs import TrainingRequest, TrainingRun, TrainingRunner, job_name_for
from shared.retraining.runs import TrainingRunStore


class RetrainingService:
    def __init__(self, runner: TrainingRunner, runs: TrainingRunStore):
        self.runner = runner
        self.runs = runs

    async def start(self, request: TrainingRequest) -> TrainingRun:
        """Submit the pipeline for this snapshot once; a repeated request returns the recorded run."""
        run_id = job_name_for(request.snapshot_id)
        existing = await self.runs.get(run_id, request.dataset_id)
        if existing is not None:
            return existing
        run = await self.runner.submit(request, run_id=run_id)
        return await self.runs.save(run)

    async def refresh(self, run_id: str, dataset_id: str) -> TrainingRun:
        run = await self.runs.get(run_id, dataset_id)
        if run is None:
            raise KeyError(f"no training run {run_id!r} for dataset {dataset_id!r}")
        if run.finished and run.gate is not None:
            return run
        updated = await self.runner.refresh(run)
        return await self.runs.save(updated.model_copy(update={"updated_at": time.time()}))

