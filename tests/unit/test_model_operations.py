"""Runs are polled, not only updated by events: the model-operations timer refreshes runs in flight."""

from __future__ import annotations

from pathlib import Path

from shared.config import Settings
from shared.retraining.contract.runs import TrainingRequest, TrainingRun
from shared.retraining.coordinator import CanaryConfig, RetrainingCoordinator
from shared.retraining.operations import MODEL_REGISTERED, model_event_message
from shared.retraining.runner import RetrainingService
from shared.retraining.runs import TrainingRunStore
from shared.retraining.serving import LocalServingDeployer, ServingConfig
from shared.rollouts import CanaryJudge, RolloutPolicy, RolloutStore
from shared.store.sqlite import SqliteDocumentStore


class AzureLikeRunner:
    """A pipeline that is still running when submitted and finishes later (as Azure ML's do)."""

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.refreshed: list[str] = []

    async def submit(self, request: TrainingRequest, *, run_id: str) -> TrainingRun:
        return TrainingRun(id=run_id, dataset_id=request.dataset_id, snapshot_id=request.snapshot_id,
                           snapshot_uri=request.snapshot_uri, runner="azureml", status="running")

    async def refresh(self, run: TrainingRun) -> TrainingRun:
        self.refreshed.append(run.id)
        if run.id in self.done:
            return run.model_copy(update={"status": "completed", "gate_passed": True, "gate": {"passed": True}})
        return run


async def test_the_timer_refreshes_runs_whose_events_never_came(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "loop.sqlite3")
    await store.open()
    try:
        runner = AzureLikeRunner()
        runs = TrainingRunStore(store)
        rollouts = RolloutStore(store, ttl_s=0)
        coordinator = RetrainingCoordinator(
            store, RetrainingService(runner, runs),
            lambda: LocalServingDeployer("http://127.0.0.1:1/v1", ServingConfig.from_settings(Settings())),
            rollouts, CanaryJudge(store, rollouts, RolloutPolicy()), CanaryConfig(target_alias="small", share=0.1),
            snapshot_dir=tmp_path, production_model=None)
        run = await coordinator.service.start(TrainingRequest(dataset_id="ds", snapshot_id="s1",
                                                              snapshot_uri="file://s1.jsonl"))
        assert run.status == "running"
        await coordinator.poll_operations()  # still running: looked at, left as it is
        assert runner.refreshed == [run.id]
        runner.done.add(run.id)
        await coordinator.poll_operations()  # finished without any event: the record is updated
        stored = await runs.get(run.id, "ds")
        assert stored is not None and stored.status == "completed" and stored.gate_passed is True
        await coordinator.poll_operations()  # finished runs are not polled again
        assert runner.refreshed == [run.id, run.id]
    finally:
        await store.close()


def test_only_the_events_the_platform_acts_on_become_work() -> None:
    assert model_event_message("Microsoft.MachineLearningServices.DatasetDriftDetected", {}) is None
    message = model_event_message(MODEL_REGISTERED, {"modelName": "m", "modelVersion": "1"}, "event-1")
    assert message is not None and '"event_id":"event-1"' in message
