"""Requests per minute, tokens per minute and monthly budgets, exact across gateway instances.

Each limit is a counter document in the ``usage_counters`` container (partition key ``scope``:
``tenant:<id>`` or ``app:<tenant>/<app>``; id ``rpm:<minute>``, ``tpm:<minute>`` or
``budget:<YYYY-MM>``). Admission *reserves* the request's worst case up front — 1 request, prompt
tokens + the output allowance, and that many tokens at the plan's highest prices — with the store's
atomic conditional increment (``used <= limit - amount``: SQLite ``BEGIN IMMEDIATE``, Cosmos DB
patch ``incr`` with a filter predicate), so concurrent requests on any number of instances can never
reserve past a limit. All counters of a request are reserved concurrently (one round trip); when one
refuses, the ones already taken are given back. After the call the reservation is settled to the
real usage (tokens and cost; requests stay counted) in the background.

Windows are fixed minutes and calendar months (UTC) of the *gateway's* clock — never a client's —
so a counter's window is the same on every instance up to their NTP skew (milliseconds in Azure).
Budget amounts are kept in integer nano-USD so counters add up exactly.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.api.errors import ApiError
from shared.limits.policy import LimitsPolicy
from shared.store import DocumentStore, Filter, PreconditionFailedError

log = logging.getLogger(__name__)
CONTAINER = "usage_counters"
NANOS_PER_USD = 1_000_000_000
MINUTE_TTL_S = 180  # a minute window plus time for late settlements
MONTH_TTL_S = 100 * 24 * 3600
HEADER_KIND = {"rpm": "requests", "tpm": "tokens"}


def to_nanos(usd: float) -> int:
    return math.ceil(usd * NANOS_PER_USD - 1e-6)


@dataclass(slots=True)
class Counter:
    scope: str
    kind: str  # rpm | tpm | budget
    doc_id: str
    limit: int
    amount: int
    reset_s: float
    ttl_s: int
    used_after: int | None = None


@dataclass(slots=True)
class Reservation:
    counters: list[Counter]
    tokens: int
    cost_nanos: int
    headers: dict[str, str] = field(default_factory=dict)


class LimitExceeded(ApiError):
    def __init__(self, counter: Counter, headers: dict[str, str]) -> None:
        what = {"rpm": "requests per minute", "tpm": "tokens per minute", "budget": "monthly budget"}[counter.kind]
        owner = counter.scope.replace(":", " ", 1)
        if counter.amount > counter.limit:
            message = f"This request alone exceeds the {what} limit of {owner}."
        elif counter.kind == "budget":
            message = f"The monthly budget of {owner} is used up."
        else:
            message = f"The {what} limit of {owner} is reached; retry after {math.ceil(counter.reset_s)} s."
        retry = {"retry-after": str(max(1, math.ceil(counter.reset_s)))}
        super().__init__(429, message, type="rate_limit_error",
                         code="budget_exceeded" if counter.kind == "budget" else "rate_limit_exceeded",
                         headers={**headers, **retry})
        self.kind = counter.kind


class Limiter:
    def __init__(self, store: DocumentStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._pending: set[asyncio.Task] = set()

    # -- planning -------------------------------------------------------------------------
    def counters(self, scoped: list[tuple[str, LimitsPolicy]], *, tokens: int, cost_usd: float) -> list[Counter]:
        """The counters a request must reserve, for each scope's active limits."""
        now = self._clock()
        minute = int(now // 60)
        minute_reset = (minute + 1) * 60 - now
        month = time.strftime("%Y-%m", time.gmtime(now))
        out: list[Counter] = []
        for scope, policy in scoped:
            if policy.requests_per_minute is not None:
                out.append(Counter(scope, "rpm", f"rpm:{minute}", policy.requests_per_minute, 1, minute_reset,
                                   MINUTE_TTL_S))
            if policy.tokens_per_minute is not None:
                out.append(Counter(scope, "tpm", f"tpm:{minute}", policy.tokens_per_minute, tokens, minute_reset,
                                   MINUTE_TTL_S))
            if policy.monthly_budget_usd is not None:
                out.append(Counter(scope, "budget", f"budget:{month}", to_nanos(policy.monthly_budget_usd),
                                   to_nanos(cost_usd), _month_reset_s(now), MONTH_TTL_S))
        return out

    # -- admission ------------------------------------------------------------------------
    async def reserve(self, counters: list[Counter], *, tokens: int, cost_usd: float) -> Reservation:
        """Take every counter or none; raise ``LimitExceeded`` (429) naming the first that refused."""
        results = await asyncio.gather(*(self._take(c) for c in counters), return_exceptions=True)
        taken = [c for c, r in zip(counters, results, strict=True) if not isinstance(r, BaseException)]
        refused = [c for c, r in zip(counters, results, strict=True) if isinstance(r, PreconditionFailedError)]
        failed = [r for r in results if isinstance(r, BaseException) and not isinstance(r, PreconditionFailedError)]
        if refused or failed:
            await self._give_back(taken)
            if refused:
                worst = min(refused, key=lambda c: (c.kind != "budget", -c.reset_s))
                raise LimitExceeded(worst, self.headers(counters, refused=refused))
            log.error("limit reservation failed: %s", failed[0])
            raise ApiError(503, "Usage limits cannot be checked right now; retry shortly.", type="api_error",
                           code="limits_unavailable", headers={"retry-after": "1"})
        return Reservation(counters, tokens, to_nanos(cost_usd), self.headers(counters))

    async def _take(self, counter: Counter) -> None:
        doc = await self._store.increment(
            CONTAINER, counter.doc_id, counter.scope, {"used": counter.amount},
            condition=[Filter("used", "<=", counter.limit - counter.amount)],
            defaults={"used": 0, "kind": counter.kind, "limit": counter.limit, "ttl": counter.ttl_s})
        counter.used_after = int(doc.get("used") or 0)

    async def _give_back(self, counters: list[Counter]) -> None:
        await asyncio.gather(*(self._add(c, -c.amount) for c in counters if c.amount), return_exceptions=True)

    async def _add(self, counter: Counter, amount: int) -> None:
        await self._store.increment(CONTAINER, counter.doc_id, counter.scope, {"used": amount},
                                    defaults={"used": 0, "kind": counter.kind, "limit": counter.limit,
                                              "ttl": counter.ttl_s})

    @staticmethod
    def headers(counters: list[Counter], *, refused: list[Counter] = ()) -> dict[str, str]:
        """``x-ratelimit-*`` for the tightest counter of each kind (and the budget left, in USD)."""
        out: dict[str, str] = {}
        for kind in ("rpm", "tpm", "budget"):
            of_kind = [c for c in counters if c.kind == kind]
            if not of_kind:
                continue

            def remaining(c: Counter) -> int:
                if c.used_after is None:  # refused, or not reserved
                    return 0 if c in refused else c.limit
                return max(c.limit - c.used_after, 0)

            tightest = min(of_kind, key=remaining)
            if kind == "budget":
                out["x-llmops-budget-limit-usd"] = f"{tightest.limit / NANOS_PER_USD:.6f}"
                out["x-llmops-budget-remaining-usd"] = f"{remaining(tightest) / NANOS_PER_USD:.6f}"
                continue
            name = HEADER_KIND[kind]
            out[f"x-ratelimit-limit-{name}"] = str(tightest.limit)
            out[f"x-ratelimit-remaining-{name}"] = str(remaining(tightest))
            out[f"x-ratelimit-reset-{name}"] = f"{tightest.reset_s:.1f}s"
        return out

    # -- settlement -----------------------------------------------------------------------
    def settle(self, reservation: Reservation, *, tokens: int, cost_usd: float) -> None:
        """Correct the reservation to the real usage, in the background (the client never waits)."""
        deltas = []
        for counter in reservation.counters:
            if counter.kind == "tpm":
                deltas.append((counter, tokens - counter.amount))
            elif counter.kind == "budget":
                deltas.append((counter, to_nanos(cost_usd) - counter.amount))
        deltas = [(c, d) for c, d in deltas if d]
        if not deltas:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._settle(deltas))
        except RuntimeError:  # no loop (a synchronous caller): nothing to schedule on
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _settle(self, deltas: list[tuple[Counter, int]]) -> None:
        for attempt in range(3):
            results = await asyncio.gather(*(self._add(c, d) for c, d in deltas), return_exceptions=True)
            deltas = [(c, d) for (c, d), r in zip(deltas, results, strict=True) if isinstance(r, BaseException)]
            if not deltas:
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        log.error("limit settlement failed for %d counters; they stay at their reservation", len(deltas))

    async def drain(self) -> None:
        """Wait for scheduled settlements (at shutdown)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def _month_reset_s(now: float) -> float:
    moment = time.gmtime(now)
    year, month = (moment.tm_year + 1, 1) if moment.tm_mon == 12 else (moment.tm_year, moment.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0)) - now
