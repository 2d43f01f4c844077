"""Circuit breakers, one per deployment, kept in memory by each gateway instance.

Closed: calls flow; ``threshold`` consecutive failures (5xx, 429, timeouts, connection errors) open it.
Open: the deployment is skipped until ``open_s`` (or a longer ``Retry-After``) has passed.
Half-open: one probe call is let through; success closes the breaker, failure opens it again.
State is per instance on purpose: it reacts within one instance's traffic in milliseconds with no
store round trip; limits and budgets, which must be exact, are shared (shared/limits).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(slots=True)
class CircuitBreaker:
    threshold: int
    open_s: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_until: float = 0.0
    probing: bool = False

    @property
    def state(self) -> str:
        if self.opened_until == 0.0:
            return CLOSED
        return OPEN if self.clock() < self.opened_until else HALF_OPEN

    def allow(self) -> bool:
        """May a call go to this deployment now? In half-open state only one probe at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN or self.probing:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_until = 0.0
        self.probing = False

    def failure(self, retry_after_s: float | None = None) -> None:
        self.failures += 1
        was_probe = self.probing
        self.probing = False
        if was_probe or self.failures >= self.threshold:
            self.opened_until = self.clock() + max(self.open_s, retry_after_s or 0.0)

    def release(self) -> None:
        """A probe ended without a verdict (e.g. the client went away): let another probe through."""
        self.probing = False


class BreakerBoard:
    """The breakers of one instance, by deployment alias."""

    def __init__(self, threshold: int, open_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = threshold
        self._open_s = open_s
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, alias: str) -> CircuitBreaker:
        breaker = self._breakers.get(alias)
        if breaker is None:
            breaker = self._breakers[alias] = CircuitBreaker(self._threshold, self._open_s, self._clock)
        return breaker

    def reset(self) -> None:
        self._breakers.clear()

    def states(self) -> dict[str, str]:
        return {alias: breaker.state for alias, breaker in self._breakers.items()}
