"""Hedged attempts: a backend call that is slow far beyond its deployment's usual latency gets a twin.

A hung backend otherwise holds a request for the whole attempt deadline (30 s by default). Instead,
once an attempt has run ``factor`` times its deployment's recent p95 latency (at least ``min_s``; with
too little history, a third of the attempt deadline), the same call is also sent to the next healthy
deployment of the plan (or the same one when the plan has no other); the first success wins and the
other is cancelled. Only the slow tail is hedged (a few percent of calls), and the threshold follows
each deployment's real latency, so a long completion on a deployment whose completions are long is
never duplicated for being long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
WINDOW = 256  # recent successful latencies kept per deployment
MIN_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class HedgePolicy:
    enabled: bool = True
    factor: float = 3.0
    min_s: float = 1.0


class LatencyTracker:
    """Recent successful call latencies per deployment (in memory, per instance)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}

    def observe(self, alias: str, seconds: float) -> None:
        self._seen.setdefault(alias, deque(maxlen=WINDOW)).append(seconds)

    def p95(self, alias: str) -> float | None:
        seen = self._seen.get(alias)
        if seen is None or len(seen) < MIN_SAMPLES:
            return None
        ordered = sorted(seen)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    def hedge_after_s(self, alias: str, policy: HedgePolicy, attempt_timeout_s: float) -> float:
        p95 = self.p95(alias)
        if p95 is None:
            return max(policy.min_s, attempt_timeout_s / 3)
        return max(policy.min_s, policy.factor * p95)


async def first_success(primary: Awaitable[T], hedge_after_s: float, start_hedge: Callable[[], Awaitable[T] | None],
                        on_hedge_done: Callable[[BaseException | None], None]) -> tuple[T, bool]:
    """``primary``'s result, or the hedge's when ``primary`` is still running after ``hedge_after_s`` and
    the hedge (``start_hedge()``; None: no hedge possible) succeeds first. Returns (result, hedge won).
    ``on_hedge_done`` hears how the hedge ended (None: it succeeded, or the exception; cancelled ones
    included). The primary's failure is raised once no hedge can still succeed."""
    first: asyncio.Future[T] = asyncio.ensure_future(primary)
    try:
        done, _ = await asyncio.wait({first}, timeout=hedge_after_s)
        if done:
            return first.result(), False
        hedge_call = start_hedge()
        if hedge_call is None:
            return await first, False
        second: asyncio.Future[T] = asyncio.ensure_future(hedge_call)
        try:
            pending: set[asyncio.Future[Any]] = {first, second}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if second in done:
                    error = second.exception()
                    on_hedge_done(error)
                    if error is None:
                        return second.result(), True
                if first in done and (first.exception() is None or second.done()):
                    break
            return first.result(), False  # raises the primary's error when both failed
        finally:
            if not second.done():
                second.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await second
                on_hedge_done(asyncio.CancelledError())
    finally:
        if not first.done():
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await first
