"""The code snapshot every component runs from: this package plus the retraining contract
(``shared.retraining.contract``: examples, metrics, report, gate, registry, runs), copied into one folder.

Azure ML uploads that folder as each command component's ``code``; the local runner runs the
scripts from the same kind of folder, so a missing file shows up locally first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipelines", "shared/retraining/contract")


def stage_component_code(dest: Path) -> Path:
    """Copy the component code into ``dest`` (replacing what was there); return ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "shared" / "retraining").mkdir(parents=True)
    for package in ("shared", "shared/retraining"):  # empty: only the contract comes along
        (dest / package / "__init__.py").write_text("", encoding="utf-8")
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            dest / package,
            # the runners submit or run the pipeline from the platform; they never run inside it
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data", "environments", "runners"),
        )
    return dest
