"""Dataset snapshots: the curated examples of one dataset, exported from the document store into the
JSONL file the pipeline's ``prepare`` step reads.

The retraining function exports the snapshot to a local file and submits it; ``MLClient`` uploads a
local input file to the workspace's default datastore on submission, and the local runner reads it
in place.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from shared.retraining.contract.examples import SnapshotError, TrainingExample, write_examples
from shared.store.base import DocumentStore

TRAINING_EXAMPLES = "training_examples"


class SnapshotFile(BaseModel):
    path: Path
    dataset_id: str
    examples: int
    train: int
    validation: int
    sha256: str


async def export_snapshot(
    store: DocumentStore, dataset_id: str, path: Path, *, container: str = TRAINING_EXAMPLES
) -> SnapshotFile:
    """Write every example of ``dataset_id`` (ordered by id, so the same examples give the same file)."""
    docs = await store.query(container, {"dataset_id": dataset_id}, order_by="id")
    examples: list[TrainingExample] = []
    for doc in docs:
        try:
            examples.append(TrainingExample.model_validate(doc))
        except ValidationError as exc:
            raise SnapshotError(
                f"{container}/{doc.get('id')}: not a training example: {exc.errors()[0]['msg']}"
            ) from exc
    if not examples:
        raise SnapshotError(f"dataset {dataset_id!r} has no examples")
    await asyncio.to_thread(write_examples, path, examples)
    return SnapshotFile(
        path=path,
        dataset_id=dataset_id,
        examples=len(examples),
        train=sum(e.split == "train" for e in examples),
        validation=sum(e.split == "validation" for e in examples),
        sha256=hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest(),
    )
