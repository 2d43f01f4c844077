"""``llmops cache similarity`` with the real local embedder and the shipped verifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops.cli import main


def test_similarity_adds_similarity_and_hit(tmp_path: Path, capsys) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"a": "How do I reset my password?", "b": "How can I reset my password?", "id": 1})
        + "\n\n"
        + json.dumps({"a": "How do I learn Python?", "b": "How do I learn Java?", "id": 2})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    assert main(["cache", "similarity", "--input", str(pairs), "--output", str(out), "--threshold", "0.88"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["hit"] is True and rows[1]["hit"] is False
    assert all(0.0 <= r["similarity"] <= 1.0 for r in rows) and rows[0]["similarity"] > rows[1]["similarity"]
    assert "2 pairs, 1 hits" in capsys.readouterr().err
    # a looser threshold and cosine only change the decisions, not the file's shape
    assert (
        main(
            [
                "cache",
                "similarity",
                "--input",
                str(pairs),
                "--output",
                str(out),
                "--no-verifier",
                "--threshold",
                "0.3",
                "--floor",
                "0.3",
            ]
        )
        == 0
    )
    assert all(r["hit"] for r in (json.loads(line) for line in out.read_text().splitlines()))


@pytest.mark.parametrize("line", ['{"a": "x"}', "not json", '["a", "b"]', '{"a": 1, "b": "y"}'])
def test_bad_lines_are_named(tmp_path: Path, capsys, line: str) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"a": "ok", "b": "ok"}) + "\n" + line + "\n")
    assert main(["cache", "similarity", "--input", str(pairs), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "pairs.jsonl:2" in capsys.readouterr().err


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_calibrate_from_feedback_picks_the_lowest_threshold_that_keeps_the_precision(tmp_path: Path, capsys):
    # 30 good hits at high similarity, bad ones only below 0.9: the target is reached from 0.9 up
    rows = [{"similarity": 0.9 + i / 400, "good": True} for i in range(30)]
    rows += [{"similarity": 0.85 + i / 100, "good": False} for i in range(5)]
    path = _write(tmp_path / "feedback.jsonl", rows)
    assert main(["cache", "calibrate", "--feedback", str(path), "--target-precision", "0.97"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["chosen"]["threshold"] == 0.9 and result["chosen"]["precision"] == 1.0
    assert "semantic_threshold" in out.err


def test_calibrate_says_so_when_no_threshold_reaches_the_target(tmp_path: Path, capsys):
    rows = [{"similarity": 0.95, "good": i % 3 != 0} for i in range(40)]
    path = _write(tmp_path / "feedback.jsonl", rows)
    assert main(["cache", "calibrate", "--feedback", str(path)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["chosen"] is None and '"semantic": false' in out.err


def test_calibrate_from_labelled_pairs_scores_them_as_the_cache_does(tmp_path: Path, capsys):
    same = [("How do I reset my password?", "How can I reset my password?"),
            ("What time do you open?", "When do you open?")]
    other = [("How do I learn Python?", "How do I learn Java?"), ("Where is my order?", "Where is my invoice?")]
    rows = [{"a": a, "b": b, "label": 1} for a, b in same] + [{"a": a, "b": b, "label": 0} for a, b in other]
    path = _write(tmp_path / "pairs.jsonl", rows)
    assert main(["cache", "calibrate", "--pairs", str(path), "--min-hits", "1", "--table"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chosen"] is not None and result["chosen"]["precision"] == 1.0
    assert len(result["table"]) == 71


def test_calibrate_rejects_unlabelled_rows(tmp_path: Path, capsys):
    path = _write(tmp_path / "feedback.jsonl", [{"similarity": 0.9}])
    assert main(["cache", "calibrate", "--feedback", str(path)]) != 0
    assert "needs 'label'" in capsys.readouterr().err
