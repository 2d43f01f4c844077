"""Progress for the CLI's long commands (scans, evaluations, syncs, training), drawn with ``rich`` on stderr.

On a terminal the user sees a bar (known length) or a spinner with the elapsed time; when stderr is not a
terminal (CI, a pipe, tests) nothing is drawn, so the commands' output stays the same to read and parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def _console() -> Console:
    return Console(stderr=True)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """``items``, with a bar of how many are done (``total``: ``len(items)`` when it has one)."""
    console = _console()
    if not console.is_terminal:
        yield from items
        return
    count = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=count)
        for item in items:
            yield item
            progress.advance(task)


@contextmanager
def working(description: str) -> Iterator[Progress | None]:
    """A spinner with the elapsed time while a step of unknown length runs; ``update(text)`` renames it."""
    console = _console()
    if not console.is_terminal:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        progress.add_task(description, total=None)
        yield progress
