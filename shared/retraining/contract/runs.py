"""Retraining requests, run records and the training-runner port.

A run is identified by the dataset snapshot it trains on: ``job_name_for(snapshot_id)`` is a
deterministic Azure ML job name, so a retried submission for the same snapshot finds the job it
already created instead of submitting twice. ``TrainingRunner`` is what a runner implements (the Azure
ML and local runners live beside the pipeline, in ``pipelines/runners``); the platform records every
run (``shared.retraining.runs.TrainingRunStore``) with its status, metrics and gate decision.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

RunStatus = Literal["submitted", "running", "completed", "failed", "canceled"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "canceled"})
_NOT_NAME = re.compile(r"[^a-z0-9]+")


class TrainingRunError(RuntimeError):
    """Submitting or reading a run failed (the queue message should be retried)."""


def job_name_for(snapshot_id: str) -> str:
    """``llmops-retrain-<slug>-<digest>``: the same snapshot always gives the same job name (Azure ML
    job names: letters, digits, ``-`` and ``_``, starting with a letter)."""
    if not snapshot_id.strip():
        raise ValueError("snapshot_id is empty")
    slug = _NOT_NAME.sub("-", snapshot_id.lower()).strip("-")[:40].rstrip("-")
    digest = hashlib.sha256(snapshot_id.encode()).hexdigest()[:12]
    return f"llmops-retrain-{slug}-{digest}" if slug else f"llmops-retrain-{digest}"


class TrainingRequest(BaseModel):
    """What the retraining trigger asks for: train on this snapshot of this dataset."""

    dataset_id: str = Field(min_length=1)
    snapshot_id: str = Field(min_length=1)
    # A local JSONL path (uploaded by MLClient on submission), or azureml://… / https://… in Azure.
    snapshot_uri: str = Field(min_length=1)
    # The model to beat: azureml:<name>:<version> or a local adapter folder; None: the base model.
    production_model: str | None = None
    reason: str | None = None


class TrainingRun(BaseModel):
    """The ``training_runs`` document."""

    id: str
    dataset_id: str
    snapshot_id: str
    snapshot_uri: str
    runner: Literal["local", "azureml"]
    status: RunStatus
    submitted_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    production_model: str | None = None
    studio_url: str | None = None
    output_dir: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    gate_passed: bool | None = None
    gate: dict[str, Any] | None = None
    registered_model: dict[str, Any] | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def with_outcome(self, registration: dict[str, Any]) -> TrainingRun:
        """Fold the register step's ``registration.json`` into the record."""
        training = registration.get("training", {})
        evaluation = registration.get("evaluation", {})
        metrics = {
            "training": {
                k: training.get(k)
                for k in (
                    "steps",
                    "first_loss",
                    "final_loss",
                    "eval_loss_before",
                    "eval_loss_after",
                    "tokens_per_second",
                    "seconds",
                    "peak_gpu_memory_gb",
                )
                if k in training
            },
            "evaluation": evaluation,
            "manifest": registration.get("manifest", {}),
        }
        return self.model_copy(
            update={
                "metrics": metrics,
                "gate_passed": bool(registration.get("passed")),
                "gate": registration.get("gate"),
                "registered_model": registration.get("registered_model"),
                "updated_at": time.time(),
            }
        )


class TrainingRunner(Protocol):
    kind: str

    async def submit(self, request: TrainingRequest, *, run_id: str) -> TrainingRun:
        """Start the pipeline for ``request`` as ``run_id``; when a run of that id exists already,
        return it instead of starting another."""
        ...

    async def refresh(self, run: TrainingRun) -> TrainingRun:
        """The run's current status; once finished, with its metrics, gate decision and model."""
        ...
