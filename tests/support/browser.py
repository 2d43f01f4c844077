"""Debian's Chromium, headless, for the dashboard's browser test: the DOM after the page's scripts ran
(``--dump-dom`` once ``--virtual-time-budget`` has passed) and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / ".llmops" / "artifacts"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium chromium-driver)")


def _run(url: str, *args: str, user_dir: Path, timeout_s: float = 90) -> str:
    command = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", f"--user-data-dir={user_dir}", "--window-size=1400,3200",
               "--virtual-time-budget=8000", *args, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def rendered_dom(url: str, user_dir: Path) -> str:
    return _run(url, "--dump-dom", user_dir=user_dir)


def screenshot(url: str, path: Path, user_dir: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(url, f"--screenshot={path}", user_dir=user_dir)
    assert path.exists() and path.stat().st_size > 10_000, "the screenshot is missing or blank"
    return path
