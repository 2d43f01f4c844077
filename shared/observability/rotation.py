"""Local telemetry files that rotate: ``spans.jsonl`` and ``metrics.jsonl`` under ``<data_dir>/telemetry``
would otherwise grow without bound (about 2 MB of metrics in 30 minutes of light use).

``RotatingFile`` is the text stream the console exporters write to. Before a write that would take the
file past ``max_bytes``, or once the file has been written to for longer than ``max_age_s``, it is renamed
to ``<name>.1`` (``.1`` to ``.2``, ... ``backups`` kept, the oldest deleted) and a new one is started.
A file left from an earlier run counts its age from its last change. Every line stays whole: rotation
happens between writes, and the exporters write one JSON document per line.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


class RotatingFile:
    def __init__(self, path: Path, *, max_bytes: int, max_age_s: float, backups: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.backups = backups
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = self.path.stat().st_mtime if self.path.exists() else clock()
        self._handle, self._started = self._open(), min(started, clock())

    def _open(self) -> TextIO:
        return open(self.path, "a", encoding="utf-8", buffering=1)

    def _due(self, incoming: int) -> bool:
        size = self._handle.tell()
        return size > 0 and (size + incoming > self.max_bytes or self._clock() - self._started >= self.max_age_s)

    def rotate(self) -> None:
        self._handle.close()
        for index in range(self.backups, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if index == self.backups:
                older.unlink(missing_ok=True)
            else:
                newer = self.path.with_name(f"{self.path.name}.{index + 1}")
                if older.exists():
                    os.replace(older, newer)
        if self.backups:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._handle, self._started = self._open(), self._clock()

    def write(self, text: str) -> int:
        with self._lock:
            if self._due(len(text.encode("utf-8"))):
                self.rotate()
            return self._handle.write(text)

    def flush(self) -> None:
        with self._lock:
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def files(self) -> list[Path]:
        """The current file and its rotated predecessors that exist, newest first."""
        candidates = [self.path, *(self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.backups + 1))]
        return [p for p in candidates if p.exists()]
