"""Training-example format, snapshot preparation, offline reference metrics and run ids."""

from __future__ import annotations

import json

import pytest

from pipelines.components.prepare import main as prepare_main
from pipelines.components.prepare import split_examples
from pipelines.training.sample_data import synthetic_examples
from shared.retraining.contract.examples import SnapshotError, TrainingExample, parse_examples, write_examples
from shared.retraining.contract.metrics import exact_match, percentile, rouge_l, token_f1
from shared.retraining.contract.runs import job_name_for


def example(i: int, split: str = "train", answer: str = "Fine.") -> dict:
    return {
        "messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": answer}],
        "split": split,
        "example_id": f"ex-{i}",
        "dataset_id": "ds",
    }


def test_bad_lines_are_reported_with_their_line_number() -> None:
    lines = [json.dumps(example(1)), "", "{not json", json.dumps(example(2))]
    with pytest.raises(SnapshotError, match=r"snap:3"):
        list(parse_examples(lines, source="snap"))
    no_answer = {
        **example(3),
        "messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}],
    }
    with pytest.raises(SnapshotError, match="assistant"):
        list(parse_examples([json.dumps(no_answer)]))
    with pytest.raises(SnapshotError, match="split"):
        list(parse_examples([json.dumps({**example(4), "split": "test"})]))


def test_example_prompt_and_reference() -> None:
    parsed = TrainingExample.model_validate(example(1, answer="The answer."))
    assert parsed.prompt == [{"role": "user", "content": "question 1"}]
    assert parsed.reference == "The answer."


def test_split_keeps_curated_split_and_drops_duplicate_ids() -> None:
    examples = [
        TrainingExample.model_validate(example(i, "validation" if i < 2 else "train")) for i in range(6)
    ]
    train, validation, duplicates = split_examples([*examples, examples[3]], 0.5)
    assert [e.example_id for e in validation] == ["ex-0", "ex-1"]
    assert len(train) == 4 and duplicates == 1


def test_split_holds_out_deterministically_when_none_marked() -> None:
    examples = [TrainingExample.model_validate(example(i)) for i in range(200)]
    first = split_examples(examples, 0.2)
    second = split_examples(list(reversed(examples)), 0.2)
    assert {e.example_id for e in first[1]} == {e.example_id for e in second[1]}
    assert 20 <= len(first[1]) <= 60
    assert all(e.split == "validation" for e in first[1])


def test_a_small_snapshot_always_keeps_one_example_for_validation() -> None:
    examples = [TrainingExample.model_validate(example(i)) for i in range(10)]
    for fraction in (0.001, 0.2):
        train, validation, _ = split_examples(examples, fraction)
        assert validation and len(train) + len(validation) == 10
    assert split_examples(examples[:1], 0.2)[1] == []  # a single example cannot be split


def test_prepare_step_writes_splits_and_manifest(tmp_path) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    write_examples(snapshot, synthetic_examples(60))
    out = tmp_path / "dataset"
    assert prepare_main(["--snapshot", str(snapshot), "--dataset", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["train_examples"] + manifest["validation_examples"] == 60
    assert manifest["dataset_ids"] == ["synthetic-support"]
    assert len((out / "train.jsonl").read_text().splitlines()) == manifest["train_examples"]


def test_prepare_step_rejects_bad_snapshots(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    assert prepare_main(["--snapshot", str(bad), "--dataset", str(tmp_path / "out")]) == 1
    assert "bad.jsonl:1" in capsys.readouterr().err
    assert (
        prepare_main(["--snapshot", str(tmp_path / "missing.jsonl"), "--dataset", str(tmp_path / "o")]) == 1
    )


def test_reference_metrics() -> None:
    assert exact_match("The store opens at Nine.", "store opens at nine") == 1.0
    assert token_f1("opens at nine", "the store opens at nine") == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert rouge_l("x b c d", "x c d") == pytest.approx(2 * (3 / 4) * 1 / (3 / 4 + 1))
    assert rouge_l("d c b", "b c d") == pytest.approx(1 / 3)
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([], 95) == 0.0


def test_job_names_are_deterministic_and_valid() -> None:
    name = job_name_for("Support FAQ@2025-06-01T10:00")
    assert name == job_name_for("Support FAQ@2025-06-01T10:00")
    assert name != job_name_for("Support FAQ@2025-06-02T10:00")
    assert name.startswith("llmops-retrain-support-faq-2025-06-01t10-00-")
    assert all(ch.isalnum() or ch == "-" for ch in name) and len(name) < 100
    with pytest.raises(ValueError):
        job_name_for("  ")
