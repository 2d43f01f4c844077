"""The event-driven half of the retraining loop: what the queue, Event Grid and timer functions call.

- ``handle_retrain_message``: a ``retrain-requests`` queue message -> export the dataset snapshot ->
  submit the pipeline once per snapshot (``RetrainingService``). Bad messages raise ``ValueError``, so
  the host retries them and then moves them to the poison queue, where they stay visible.
- ``handle_model_work``: a ``model-events`` queue message (an Azure ML event the Event Grid function
  enqueued, ``shared.retraining.operations``) -> ``on_run_completed`` or ``on_model_registered``;
- ``on_run_completed``: ``RunCompleted`` / ``RunStatusChanged`` -> refresh the run record (metrics,
  gate decision, registered model); failures are counted for the alert.
- ``on_model_registered``: ``ModelRegistered`` for a candidate whose gate passed -> *start* deploying it
  behind an OpenAI-compatible endpoint (a ``ServingOperation``); a model whose gate did not pass never
  gets traffic.
- ``poll_operations``: the timer -> check each deployment still in progress; once ready, start a canary
  rollout against the production deployment. It also refreshes runs still in flight (``poll_runs``),
  so runs do not depend on events alone.
- ``evaluate_canaries``: the timer -> promote or roll back each canary on live signals.

Azure ML emits the two events itself; the local runner finishes inside ``submit``, so locally the
coordinator emits the same events through ``event_sink`` (the local event runtime).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from shared.deployments import Deployment
from shared.observability import names as n
from shared.observability.telemetry import Telemetry
from shared.retraining.contract.registry import RegisteredModel
from shared.retraining.contract.runs import TrainingRequest, TrainingRun
from shared.retraining.operations import (
    MODEL_REGISTERED,
    RUN_COMPLETED,
    RUN_STATUS_CHANGED,
    ServingOperation,
    ServingOperations,
    parse_model_work,
)
from shared.retraining.runner import RetrainingService
from shared.retraining.runs import TRAINING_RUNS
from shared.retraining.serving import DeployProgress, ServingDeployer, ServingEndpoint
from shared.retraining.snapshots import export_snapshot
from shared.rollouts import CanaryJudge, Decision, Rollout, RolloutStore
from shared.store import DocumentStore, Filter

log = logging.getLogger(__name__)
EventSink = Callable[[str, str, dict[str, Any]], Awaitable[None]]
IN_FLIGHT: tuple[str, ...] = ("submitted", "running")


class RetrainMessage(BaseModel):
    dataset_id: str = Field(min_length=1, max_length=128)
    snapshot_id: str = Field(min_length=1, max_length=160)
    examples: int = Field(default=0, ge=0)
    requested_at: str | None = None


class CanaryConfig(BaseModel):
    target_alias: str
    share: float = Field(gt=0, le=1)
    input_per_1m: float = 0.0
    output_per_1m: float = 0.0


def parse_retrain_message(body: bytes | str) -> list[RetrainMessage]:
    try:
        payload = json.loads(body)
        items = payload["requests"] if isinstance(payload, dict) and "requests" in payload else [payload]
        return [RetrainMessage.model_validate(item) for item in items]
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ValueError(f"malformed retrain message: {exc}") from None


class RetrainingCoordinator:
    def __init__(self, store: DocumentStore, service: RetrainingService, deployer: Callable[[], ServingDeployer],
                 rollouts: RolloutStore, judge: CanaryJudge, canary: CanaryConfig, *, snapshot_dir: Path | None,
                 production_model: str | None, telemetry: Telemetry | None = None,
                 event_sink: EventSink | None = None, local_api_key: str | None = None) -> None:
        self.store = store
        self.service = service
        self._deployer_factory = deployer
        self._deployer: ServingDeployer | None = None
        self.rollouts = rollouts
        self.judge = judge
        self.canary = canary
        self.snapshot_dir = snapshot_dir
        self.production_model = production_model
        self.telemetry = telemetry
        self.event_sink = event_sink
        self.local_api_key = local_api_key
        self.operations = ServingOperations(store)

    def _serving(self) -> ServingDeployer:
        if self._deployer is None:
            self._deployer = self._deployer_factory()
        return self._deployer

    def _count(self, status: str) -> None:
        if self.telemetry is not None:
            self.telemetry.count(n.METRIC_RETRAINING_RUNS, 1, {n.LLMOPS_RETRAINING_STATUS: status})

    # -- queue ------------------------------------------------------------------------------
    async def handle_retrain_message(self, body: bytes | str) -> list[TrainingRun]:
        runs = []
        for message in parse_retrain_message(body):
            directory = self.snapshot_dir or Path(tempfile.mkdtemp(prefix="llmops-snapshot-"))
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{message.snapshot_id}.jsonl"
            snapshot = await export_snapshot(self.store, message.dataset_id, path)
            if snapshot.examples == 0:
                raise ValueError(f"dataset {message.dataset_id} has no examples to train on")
            run = await self.service.start(TrainingRequest(
                dataset_id=message.dataset_id, snapshot_id=message.snapshot_id, snapshot_uri=str(path),
                production_model=self.production_model, reason=f"{message.examples} curated examples"))
            self._count(run.status)
            runs.append(run)
            if run.runner == "local" and run.finished and self.event_sink is not None:
                await self._emit_local_events(run)
        return runs

    async def _emit_local_events(self, run: TrainingRun) -> None:
        """What Azure ML would publish to Event Grid for this run."""
        sink = self.event_sink
        if sink is None:
            return
        if run.registered_model:
            model = RegisteredModel.model_validate(run.registered_model)
            tags = {"gate": "passed" if run.gate_passed else "failed", "dataset_ids": run.dataset_id}
            await sink(MODEL_REGISTERED, f"models/{model.name}:{model.version}", {
                "modelName": model.name, "modelVersion": model.version, "modelTags": tags,
                "modelUri": model.uri, "registry": model.registry})
        await sink(RUN_COMPLETED, f"experiments/local/runs/{run.id}", {
            "runId": run.id, "runStatus": run.status.capitalize(), "experimentName": "local"})

    # -- model-events queue (what the Event Grid function enqueued) ------------------------------
    async def handle_model_work(self, body: bytes | str) -> TrainingRun | ServingOperation | None:
        work = parse_model_work(body)
        if work.event_type == MODEL_REGISTERED:
            return await self.on_model_registered(work.data)
        if work.event_type in (RUN_COMPLETED, RUN_STATUS_CHANGED):
            return await self.on_run_completed(work.data)
        return None

    async def on_run_completed(self, data: dict[str, Any]) -> TrainingRun | None:
        run_id = str(data.get("runId") or "")
        docs = await self.store.query(TRAINING_RUNS, {"id": run_id}, limit=1) if run_id else []
        if not docs:  # a child step's run, or a run this platform did not start
            return None
        return await self._refresh(run_id, docs[0]["dataset_id"])

    async def _refresh(self, run_id: str, dataset_id: str) -> TrainingRun:
        run = await self.service.refresh(run_id, dataset_id)
        if run.finished:
            self._count("gate_failed" if run.status == "completed" and run.gate_passed is False else run.status)
        return run

    async def on_model_registered(self, data: dict[str, Any]) -> ServingOperation | None:
        """Start deploying a candidate whose gate passed; returns once the deployment is started."""
        name = str(data.get("modelName") or data.get("ModelName") or "")
        version = str(data.get("modelVersion") or data.get("ModelVersion") or "")
        tags = data.get("modelTags") or data.get("ModelTags") or {}
        if not name or not version:
            raise ValueError("ModelRegistered event without model name and version")
        if tags.get("gate") != "passed":
            log.warning("model %s:%s was registered without a passed gate; it gets no traffic", name, version)
            return None
        operation_id = f"{name}-{version}"
        existing = await self.operations.get(operation_id)
        if existing is not None:  # Event Grid delivers at least once
            return existing
        model = RegisteredModel(name=name, version=version, registry=str(data.get("registry") or "azureml"),
                                uri=str(data.get("modelUri") or f"azureml:{name}:{version}"))
        dataset_id = str(tags.get("dataset_ids") or "") or None
        operation = ServingOperation(id=operation_id, model=model, dataset_id=dataset_id)
        return await self._advance(operation, await self._serving().begin(model))

    async def _advance(self, operation: ServingOperation, progress: DeployProgress) -> ServingOperation:
        update: dict[str, Any] = {"stage": progress.stage, "detail": progress.detail}
        if progress.state == "ready" and progress.endpoint is not None:
            await self._start_canary(operation, progress.endpoint)
            update["status"] = "ready"
        elif progress.state == "failed":
            log.warning("deployment of %s failed: %s", operation.model.uri, progress.detail)
            self._count("deploy_failed")
            update["status"] = "failed"
        return await self.operations.save(operation.model_copy(update=update))

    async def _start_canary(self, operation: ServingOperation, endpoint: ServingEndpoint) -> Rollout:
        existing = await self.rollouts.get(operation.id)
        if existing is not None:
            return existing
        model = operation.model
        deployment = Deployment(
            alias=f"ft-{model.name}-{model.version}", endpoint=endpoint.base_url, deployment=endpoint.model,
            model=f"{model.name}:{model.version}", tier="canary", api_style="openai",
            auth="entra" if endpoint.auth == "aad" else "key",
            api_key=None if endpoint.auth == "aad" else self.local_api_key,
            token_scope=endpoint.token_scope, headers=endpoint.headers,
            input_per_1m=self.canary.input_per_1m, output_per_1m=self.canary.output_per_1m)
        rollout = Rollout(id=operation.id, dataset_id=operation.dataset_id, model=model.model_dump(),
                          deployment=deployment, target_alias=self.canary.target_alias, share=self.canary.share)
        await self.rollouts.start(rollout)
        self._count("canary_started")
        return rollout

    # -- polling timer: long operations and runs, never waited for inside a function ---------------
    async def poll_operations(self) -> list[ServingOperation]:
        """One check of every deployment still in progress (the canary starts when one is ready), then
        a refresh of every run still in flight."""
        done = []
        for operation in await self.operations.deploying():
            progress = await self._serving().check(operation.model)
            done.append(await self._advance(operation.model_copy(update={"checks": operation.checks + 1}), progress))
        await self.poll_runs()
        return done

    async def poll_runs(self) -> list[TrainingRun]:
        docs = await self.store.query(TRAINING_RUNS, [Filter("status", "in", list(IN_FLIGHT))], limit=50)
        return [await self._refresh(str(doc["id"]), str(doc["dataset_id"])) for doc in docs]

    # -- timer ------------------------------------------------------------------------------
    async def evaluate_canaries(self) -> list[tuple[Rollout, Decision]]:
        outcomes = await self.judge.evaluate()
        for rollout, decision in outcomes:
            if decision.action != "wait":
                self._count("promoted" if decision.action == "promote" else "rolled_back")
                log.warning("canary %s: %s (%s)", rollout.id, decision.action, "; ".join(decision.reasons))
        return outcomes
