"""``scripts/train_cache_verifier.py`` trains a loadable verifier from a pairs file it is given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shared.cache.verifier import LogisticModel

ROOT = Path(__file__).resolve().parents[3]
SAME = [("How do I reset my password?", "How can I reset my password?"),
        ("Where is my order?", "Where's my order?"), ("How do I cancel my plan?", "How can I cancel my plan?"),
        ("What are your opening hours?", "When are you open?"), ("Do you ship to Canada?", "Can you ship to Canada?"),
        ("How do I change my address?", "How can I update my address?")]  # fmt: skip
DIFFERENT = [
    ("How do I learn Python?", "How do I learn Java?"),
    ("Where is my order?", "Where is my refund?"),
    ("Do you ship to Canada?", "Do you ship to Mexico?"),
    ("How do I cancel my plan?", "How do I upgrade my plan?"),
    ("What are your opening hours?", "What are your prices?"),
    ("Is the X100 waterproof?", "Is the X100 heavy?"),
]


def test_training_script_writes_a_model_with_its_figures(tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    rows = [{"a": a, "b": b, "label": 1, "source": "t"} for a, b in SAME]
    rows += [{"a": a, "b": b, "label": 0, "source": "t"} for a, b in DIFFERENT]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    output = tmp_path / "verifier.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_cache_verifier.py"),
            "--data",
            str(data),
            "--output",
            str(output),
            "--folds",
            "2",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    model = LogisticModel.load(output)
    assert model.metadata["pairs"] == 12 and model.metadata["data"] == "pairs.jsonl"
    assert set(model.metadata["report"]["cross_validation"]) == {"all", "t"}
    assert "recommended default threshold" in done.stdout


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_cache_verifier.py"), "--data", str(tmp_path / "none.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "no data at" in done.stderr
