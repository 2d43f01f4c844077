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
    assert main(["cache", "similarity", "--input", str(pairs), "--output", str(out)]) == 0
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
    assert main(["cache", "similarity", "--input", str(pairs), "--output", str(tmp_path / "o.jsonl")]) == 1
    assert "pairs.jsonl:2" in capsys.readouterr().err
