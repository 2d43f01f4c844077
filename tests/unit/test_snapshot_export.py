"""Exporting a dataset's curated examples (the curation's documents) into the pipeline's snapshot file."""

from __future__ import annotations

import pytest

from pipelines.components.prepare import prepare
from shared.retraining.contract.examples import SnapshotError, read_examples
from shared.retraining.snapshots import export_snapshot
from shared.store.sqlite import SqliteDocumentStore


def curated(i: int, dataset: str = "support", split: str = "train") -> dict:
    """A document as curation writes it: ``id`` for the example id, plus curation's own fields."""
    return {
        "id": f"ex-fb{i:03d}",
        "dataset_id": dataset,
        "tenant_id": "contoso",
        "source_request_id": f"req-{i}",
        "source": "correction",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": f"Answer {i}."},
        ],
        "split": split,
        "simhash": "00ff",
    }


@pytest.fixture
async def store(tmp_path):
    adapter = SqliteDocumentStore(tmp_path / "store.sqlite3")
    await adapter.open()
    yield adapter
    await adapter.close()


async def test_export_writes_a_snapshot_prepare_accepts(store, tmp_path) -> None:
    await store.upsert_many(
        "training_examples",
        [curated(i, split="validation" if i % 4 == 0 else "train") for i in range(12)] + [curated(99, "other")],
    )
    snapshot = await export_snapshot(store, "support", tmp_path / "support.jsonl")
    assert (snapshot.examples, snapshot.train, snapshot.validation) == (12, 9, 3)
    examples = read_examples(snapshot.path)
    assert [e.example_id for e in examples] == sorted(f"ex-fb{i:03d}" for i in range(12))
    assert examples[0].source_request_id == "req-0"
    again = await export_snapshot(store, "support", tmp_path / "again.jsonl")
    assert again.sha256 == snapshot.sha256  # the same examples give the same file
    manifest = prepare(snapshot.path, tmp_path / "dataset", validation_fraction=0.1, min_train_examples=1)
    assert manifest["train_examples"] == 9 and manifest["validation_examples"] == 3


async def test_export_rejects_empty_and_malformed_datasets(store, tmp_path) -> None:
    with pytest.raises(SnapshotError, match="no examples"):
        await export_snapshot(store, "empty", tmp_path / "x.jsonl")
    await store.upsert("training_examples", {**curated(1), "messages": [{"role": "user", "content": "q"}]})
    with pytest.raises(SnapshotError, match="ex-fb001"):
        await export_snapshot(store, "support", tmp_path / "y.jsonl")
