"""The request log's local journal: every record is on disk before the reply that it describes leaves.

A process appends each record, serialised once, as one JSON line to its own segment file
(``journal-<pid>-<n>.jsonl`` in the journal folder) with a single ``write`` while it holds an
exclusive ``flock`` on the file. The fsync policy (``fsync``):

* ``"interval"`` (the default): the line is in the operating system's page cache when ``append``
  returns, so a killed process (``kill -9``, an out-of-memory kill, a crash) loses nothing; the
  writer's background task fsyncs the open segment every flush interval, so a lost machine (power,
  kernel panic) can lose at most the records of that last interval.
* ``"always"``: ``append`` fsyncs too (each record costs one disk flush, ~0.1-5 ms).
* ``"never"``: left to the operating system (tests and benchmarks).

A segment is deleted once every record in it is in the store. A segment whose file lock can be
taken belongs to no live process (the lock dies with its holder), so any process may claim it (an
atomic rename) and replay it: at start and from the background drain.

A record that cannot be serialised, or that the store refuses for itself (not an outage), is a
poison record: it goes to the dead-letter file (``dead-letter.jsonl``: its id, tenant, error and a
bounded excerpt) and never blocks the records behind it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

log = logging.getLogger(__name__)
FsyncPolicy = Literal["always", "interval", "never"]
DEAD_LETTER = "dead-letter.jsonl"
SEGMENT_GLOB = "journal-*.jsonl"
EXCERPT_CHARS = 2000


class PoisonRecordError(Exception):
    """A record that can never be written (not a store outage): it is dead-lettered."""


def encode(record: Any) -> bytes:
    """One journal line; ``PoisonRecordError`` when the record cannot be serialised (e.g. nested too deep)."""
    try:
        return orjson.dumps(record) + b"\n"
    except (orjson.JSONEncodeError, TypeError, RecursionError) as exc:
        raise PoisonRecordError(str(exc)) from None


@dataclass(eq=False)
class Segment:
    """One journal file of this process; ``outstanding``: its records not yet in the store."""

    path: Path
    handle: IO[bytes]
    outstanding: int = 0
    size: int = 0
    dirty: bool = False
    detached: bool = False  # let go of (``detach``): the drain replays the file


class Journal:
    def __init__(self, folder: Path, *, fsync: FsyncPolicy = "interval", segment_bytes: int = 8 << 20) -> None:
        self.folder = Path(folder)
        self.fsync_policy: FsyncPolicy = fsync
        self._segment_bytes = segment_bytes
        self._seq = 0
        self._current: Segment | None = None
        self.segments: list[Segment] = []
        self.dead_lettered = 0

    # -- writing --------------------------------------------------------------------------
    def append(self, line: bytes) -> Segment:
        """Append one encoded record; returns the segment that holds it (for ``settled``)."""
        segment = self._current
        if segment is None or segment.size >= self._segment_bytes:
            segment = self._rotate()
        segment.handle.write(line)
        segment.handle.flush()  # into the page cache: a killed process loses nothing
        if self.fsync_policy == "always":
            os.fsync(segment.handle.fileno())
        else:
            segment.dirty = True
        segment.size += len(line)
        segment.outstanding += 1
        return segment

    def sync(self) -> None:
        """The interval fsync: flush every segment written since the last call to disk."""
        for segment in self.segments:
            if segment.dirty and self.fsync_policy != "never":
                with contextlib.suppress(OSError, ValueError):
                    os.fsync(segment.handle.fileno())
            segment.dirty = False

    def settled(self, segment: Segment, count: int = 1) -> None:
        """``count`` records of ``segment`` are in the store (or dead-lettered)."""
        segment.outstanding -= count
        if segment.outstanding <= 0 and segment is not self._current and not segment.detached:
            self._delete(segment)

    def detach(self) -> None:
        """Let go of every segment (the writer dropped its records from memory, over its cap): the
        files stay, unlocked, and the drain replays them from disk like any orphan."""
        for segment in self.segments:
            segment.detached = True
            with contextlib.suppress(OSError, ValueError):
                os.fsync(segment.handle.fileno())
            segment.handle.close()
        self.segments = []
        self._current = None

    def close(self) -> None:
        """Release this process's segments: empty ones are deleted, the rest stay for the next replay."""
        self.sync()
        for segment in list(self.segments):
            if segment.outstanding <= 0:
                self._delete(segment)
            else:
                segment.handle.close()  # the lock goes with it: the next start replays the file
                self.segments.remove(segment)
        self._current = None

    def _rotate(self) -> Segment:
        previous = self._current
        self.folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = self.folder / f"journal-{os.getpid()}-{time.time_ns()}-{self._seq}.jsonl"
        handle = open(path, "ab")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        segment = Segment(path, handle)
        self.segments.append(segment)
        self._current = segment
        if previous is not None:
            if previous.outstanding <= 0:
                self._delete(previous)
        return segment

    def _delete(self, segment: Segment) -> None:
        with contextlib.suppress(OSError):
            segment.path.unlink()
        with contextlib.suppress(OSError, ValueError):
            segment.handle.close()
        if segment in self.segments:
            self.segments.remove(segment)
        if segment is self._current:
            self._current = None

    # -- replay ---------------------------------------------------------------------------
    def claim_orphans(self) -> list[tuple[Path, IO[bytes]]]:
        """Segments no live process holds (their owner died, or closed with records pending), each with
        its lock taken: the caller replays it, then ``release``s it (``delete=True`` once it is stored)."""
        if not self.folder.exists():
            return []
        mine = {s.path for s in self.segments}
        claimed: list[tuple[Path, IO[bytes]]] = []
        for path in sorted(self.folder.glob(SEGMENT_GLOB)):
            if path in mine:
                continue
            try:
                handle = open(path, "rb")
            except OSError:
                continue
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its owner lives
                if os.fstat(handle.fileno()).st_ino != path.stat().st_ino:
                    raise OSError("replayed and removed meanwhile")
            except OSError:
                handle.close()
                continue
            claimed.append((path, handle))
        return claimed

    @staticmethod
    def release(path: Path, handle: IO[bytes], *, delete: bool) -> None:
        if delete:
            with contextlib.suppress(OSError):
                path.unlink()
        handle.close()

    def read(self, path: Path) -> list[dict[str, Any]]:
        """The records of a segment; a torn last line (the process died mid-write: never answered) is skipped."""
        records: list[dict[str, Any]] = []
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    # -- dead letters ---------------------------------------------------------------------
    def dead_letter(self, record: Any, error: str) -> None:
        """Quarantine a record that can never be written, with its error; never raises."""
        self.dead_lettered += 1
        ids = record if isinstance(record, dict) else {}
        try:
            excerpt = repr(record)[:EXCERPT_CHARS]
        except RecursionError:
            excerpt = "(too deep to print)"
        entry = {"id": str(ids.get("id")), "tenant_id": str(ids.get("tenant_id")), "error": error[:500],
                 "at": time.time(), "excerpt": excerpt}
        log.error("request log: record %s of tenant %s quarantined: %s", entry["id"], entry["tenant_id"], error)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / DEAD_LETTER, "ab") as handle:
                handle.write(orjson.dumps(entry) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            log.exception("request log: the dead-letter file cannot be written")
