"""Run records of the platform: every training run (local or Azure ML) is a document in the
``training_runs`` container (partitioned by ``dataset_id``); the record itself is
``shared.retraining.contract.runs.TrainingRun``."""

from __future__ import annotations

from shared.retraining.contract.runs import TrainingRun
from shared.store.base import DocumentStore

TRAINING_RUNS = "training_runs"


class TrainingRunStore:
    """Run records through the document-store port."""

    def __init__(self, store: DocumentStore):
        self.store = store

    async def get(self, run_id: str, dataset_id: str) -> TrainingRun | None:
        doc = await self.store.get(TRAINING_RUNS, run_id, dataset_id)
        return TrainingRun.model_validate(doc) if doc else None

    async def save(self, run: TrainingRun) -> TrainingRun:
        await self.store.upsert(TRAINING_RUNS, run.model_dump(mode="json"))
        return run

    async def for_dataset(self, dataset_id: str, *, limit: int = 50) -> list[TrainingRun]:
        docs = await self.store.query(
            TRAINING_RUNS, {"dataset_id": dataset_id}, order_by="submitted_at", descending=True, limit=limit
        )
        return [TrainingRun.model_validate(doc) for doc in docs]
