"""prepare: validate a dataset snapshot and export train/validation JSONL with a manifest.

Output folder: ``train.jsonl``, ``validation.jsonl``, ``manifest.json`` (snapshot digest, counts,
dataset ids). Examples keep their curated ``split``; when the snapshot marks none as validation, a
deterministic share (by hash of ``example_id``) is held out, and at least one example when there are
two or more (a small snapshot's hash share can come out empty). Repeated ``example_id``s keep the first.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipelines.components.spec import PREPARE
from shared.retraining.contract.examples import SnapshotError, TrainingExample, read_examples, write_examples

MANIFEST = "manifest.json"
TRAIN_FILE, VALIDATION_FILE = "train.jsonl", "validation.jsonl"


def _digest(path: Path) -> str:
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _bucket(example_id: str) -> float:
    return int(hashlib.sha256(example_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _held_out(example_id: str, fraction: float) -> bool:
    return _bucket(example_id) < fraction


def split_examples(
    examples: Sequence[TrainingExample], validation_fraction: float
) -> tuple[list[TrainingExample], list[TrainingExample], int]:
    """(train, validation, duplicates dropped)."""
    seen: set[str] = set()
    unique: list[TrainingExample] = []
    for example in examples:
        if example.example_id not in seen:
            seen.add(example.example_id)
            unique.append(example)
    validation = [e for e in unique if e.split == "validation"]
    if validation:
        train = [e for e in unique if e.split == "train"]
    else:
        held = {e.example_id for e in unique if _held_out(e.example_id, validation_fraction)}
        if not held and len(unique) >= 2 and validation_fraction > 0:  # the example nearest the share
            held = {min(unique, key=lambda e: _bucket(e.example_id)).example_id}
        validation = [e for e in unique if e.example_id in held]
        train = [e for e in unique if e.example_id not in held]
        validation = [e.model_copy(update={"split": "validation"}) for e in validation]
    return train, validation, len(examples) - len(unique)


def prepare(snapshot: Path, out: Path, *, validation_fraction: float, min_train_examples: int) -> dict:
    if not snapshot.exists():
        raise SnapshotError(f"{snapshot}: snapshot not found")
    train, validation, duplicates = split_examples(read_examples(snapshot), validation_fraction)
    if len(train) < min_train_examples:
        raise SnapshotError(f"{len(train)} training examples, at least {min_train_examples} needed")
    if not validation:
        raise SnapshotError("no validation examples: raise validation_fraction or mark some in the snapshot")
    out.mkdir(parents=True, exist_ok=True)
    write_examples(out / TRAIN_FILE, train)
    write_examples(out / VALIDATION_FILE, validation)
    manifest = {
        "snapshot": str(snapshot),
        "snapshot_sha256": _digest(snapshot),
        "dataset_ids": sorted({e.dataset_id for e in train + validation}),
        "train_examples": len(train),
        "validation_examples": len(validation),
        "duplicates_dropped": duplicates,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    args = PREPARE.parse_args(argv)
    try:
        manifest = prepare(
            args.snapshot,
            args.dataset,
            validation_fraction=args.validation_fraction,
            min_train_examples=args.min_train_examples,
        )
    except SnapshotError as exc:
        print(f"prepare: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
