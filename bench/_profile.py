"""Sampling profiles of a benchmarked server process with py-spy (``pip install py-spy``).

``with sampled(pid) as profile: <load>`` records the process (every thread, native frames off) while
the load runs; ``profile.top()`` then gives the frames with the largest share of the samples, by
their own time and including their callees, as the README quotes them.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITE = ("site-packages/", "/python3.11/", f"{REPO}/")  # paths shown from here on
OURS = ("shared/", "functions/")  # the project's own frames, by share of the samples that pass through them


class Profile:
    def __init__(self) -> None:
        self.stacks: collections.Counter[tuple[str, ...]] = collections.Counter()

    @staticmethod
    def _frame(frame: str) -> str:
        name, _, where = frame.partition(" (")
        for marker in SITE:
            if marker in where:
                where = where.split(marker, 1)[1]
        return f"{name} ({where}"

    def read(self, raw: Path) -> None:
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                self.stacks[tuple(self._frame(f) for f in stack.split(";"))] += int(count)

    def top(self, count: int = 12) -> dict[str, list[list[str | float]]]:
        total = sum(self.stacks.values()) or 1
        own: collections.Counter[str] = collections.Counter()
        inclusive: collections.Counter[str] = collections.Counter()
        for stack, samples in self.stacks.items():
            own[stack[-1]] += samples
            for frame in set(stack):
                inclusive[frame] += samples
        ours = collections.Counter({f: n for f, n in inclusive.items() if f.split("(", 1)[-1].startswith(OURS)})
        share = lambda counter: [[f, round(100 * n / total, 1)] for f, n in counter.most_common(count)]  # noqa: E731
        return {"samples": [[str(total), 100.0]], "self": share(own), "inclusive": share(inclusive),
                "ours_inclusive": share(ours)}


@contextlib.contextmanager
def sampled(pid: int, rate: int = 250) -> Iterator[Profile]:
    """Record ``pid`` with py-spy for the duration of the block (nothing when py-spy is missing)."""
    profile = Profile()
    spy = shutil.which("py-spy") or str(REPO / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed (pip install py-spy): no profile")
        yield profile
        return
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.txt"
        proc = subprocess.Popen([spy, "record", "-p", str(pid), "-o", str(raw), "--format", "raw", "-r", str(rate),
                                 "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the load starts
        try:
            yield profile
        finally:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            proc.wait(30)
            if raw.exists():
                profile.read(raw)
