"""Requests per minute, tokens per minute and monthly budgets, exact across gateway instances.

Counters live in the ``usage_counters`` container, partition key ``scope`` (``tenant:<id>`` or
``app:<tenant>/<app>``). One document per scope and window holds every meter of that window: the
minute document (id ``m:<minute>:<kinds>``) counts ``requests`` and ``tokens``; the month document
(``b:<YYYY-MM>``) counts ``cost_nanos``. Admission *reserves* the request's worst case up front — one
request, prompt tokens + the output allowance, and that many tokens at the plan's highest prices —
with the store's atomic conditional increment (every meter's ``used <= limit - amount`` must hold:
SQLite ``BEGIN IMMEDIATE``, Cosmos DB patch ``incr`` with a filter predicate), so concurrent requests
on any number of instances can never reserve past a limit. The windows of a request are reserved
concurrently (one round trip); when one refuses, the ones already taken are given back.

After the call the reservation is settled to the real usage (requests stay counted). Settlements are
coalesced per document and written every ``settle_interval_s`` in the background: the client never
waits, and under load many settlements cost one write. Until a settlement lands, the counters hold
the (larger) reservation, so a delay can only make the limiter stricter, never looser.

Windows are fixed minutes and calendar months (UTC) of the *gateway's* clock — never a client's —
so a window is the same on every instance up to their NTP skew (milliseconds in Azure). The minute
document's id names the kinds it meters, so a policy that starts metering tokens mid-minute starts a
fresh document rather than comparing against a field that is missing. Money is integer nano-USD.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.api.errors import ApiError
from shared.limits.policy import LimitsPolicy
from shared.store import DocumentStore, Filter, Increment, PreconditionFailedError

log = logging.getLogger(__name__)
CONTAINER = "usage_counters"
NANOS_PER_USD = 1_000_000_000
MINUTE_TTL_S = 180  # a minute window plus time for late settlements
MONTH_TTL_S = 100 * 24 * 3600
FIELDS = {"rpm": "requests", "tpm": "tokens", "budget": "cost_nanos"}
HEADER_KIND = {"rpm": "requests", "tpm": "tokens"}
WHAT = {"rpm": "requests per minute", "tpm": "tokens per minute", "budget": "monthly budget"}


def to_nanos(usd: float) -> int:
    return math.ceil(usd * NANOS_PER_USD - 1e-6)


@dataclass(slots=True)
class Meter:
    kind: str  # rpm | tpm | budget
    limit: int
    amount: int
    used_after: int | None = None
    refused: bool = False

    @property
    def field(self) -> str:
        return FIELDS[self.kind]

    def remaining(self) -> int:
        if self.used_after is None:
            return 0 if self.refused else self.limit
        return max(self.limit - self.used_after, 0)


@dataclass(slots=True)
class Window:
    scope: str
    doc_id: str
    meters: list[Meter]
    reset_s: float
    ttl_s: int

    def defaults(self) -> dict[str, int]:
        return {**{m.field: 0 for m in self.meters}, "ttl": self.ttl_s}


@dataclass(slots=True)
class Reservation:
    windows: list[Window]
    tokens: int
    cost_nanos: int
    headers: dict[str, str] = field(default_factory=dict)


class LimitExceeded(ApiError):
    def __init__(self, window: Window, meter: Meter, headers: dict[str, str]) -> None:
        owner = window.scope.replace(":", " ", 1)
        if meter.amount > meter.limit:
            message = f"This request alone exceeds the {WHAT[meter.kind]} limit of {owner}."
        elif meter.kind == "budget":
            message = f"The monthly budget of {owner} is used up."
        else:
            message = f"The {WHAT[meter.kind]} limit of {owner} is reached; retry after {math.ceil(window.reset_s)} s."
        super().__init__(429, message, type="rate_limit_error",
                         code="budget_exceeded" if meter.kind == "budget" else "rate_limit_exceeded",
                         headers={**headers, "retry-after": str(max(1, math.ceil(window.reset_s)))})
        self.kind = meter.kind


class Limiter:
    def __init__(self, store: DocumentStore, *, clock: Callable[[], float] = time.time,
                 settle_interval_s: float = 0.05) -> None:
        self._store = store
        self._clock = clock
        self._settle_interval_s = settle_interval_s
        self._owed: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._ttl: dict[tuple[str, str], int] = {}
        self._flusher: asyncio.Task[None] | None = None

    # -- planning -------------------------------------------------------------------------
    def windows(self, scoped: list[tuple[str, LimitsPolicy]], *, tokens: int, cost_usd: float) -> list[Window]:
        """The counter documents a request must reserve in, for each scope's active limits."""
        now = self._clock()
        minute = int(now // 60)
        out: list[Window] = []
        for scope, policy in scoped:
            per_minute = []
            if policy.requests_per_minute is not None:
                per_minute.append(Meter("rpm", policy.requests_per_minute, 1))
            if policy.tokens_per_minute is not None:
                per_minute.append(Meter("tpm", policy.tokens_per_minute, tokens))
            if per_minute:
                kinds = "".join(m.kind[0] for m in per_minute)  # "r", "t" or "rt"
                out.append(Window(scope, f"m:{minute}:{kinds}", per_minute, (minute + 1) * 60 - now, MINUTE_TTL_S))
            if policy.monthly_budget_usd is not None:
                month = time.strftime("%Y-%m", time.gmtime(now))
                out.append(Window(scope, f"b:{month}", [Meter("budget", to_nanos(policy.monthly_budget_usd),
                                                               to_nanos(cost_usd))], _month_reset_s(now), MONTH_TTL_S))
        return out

    # -- admission ------------------------------------------------------------------------
    async def reserve(self, windows: list[Window], *, tokens: int, cost_usd: float) -> Reservation:
        """Take every window or none; raise ``LimitExceeded`` (429) naming the meter that refused."""
        results = await self._take_all(windows)
        taken = [w for w, r in zip(windows, results, strict=True) if r is None]
        refused = [w for w, r in zip(windows, results, strict=True) if isinstance(r, PreconditionFailedError)]
        failed = [r for r in results if isinstance(r, BaseException) and not isinstance(r, PreconditionFailedError)]
        if refused or failed:
            await asyncio.gather(*(self._add(w, {m.field: -m.amount for m in w.meters}) for w in taken),
                                 return_exceptions=True)
            if not refused:
                log.error("limit reservation failed: %s", failed[0])
                raise ApiError(503, "Usage limits cannot be checked right now; retry shortly.", type="api_error",
                               code="limits_unavailable", headers={"retry-after": "1"})
            await asyncio.gather(*(self._explain(w) for w in refused), return_exceptions=True)
            window, meter = min(((w, m) for w in refused for m in w.meters if m.refused),
                                key=lambda wm: (wm[1].kind != "budget", -wm[0].reset_s))
            raise LimitExceeded(window, meter, self.headers(windows))
        return Reservation(windows, tokens, to_nanos(cost_usd), self.headers(windows))

    async def _take_all(self, windows: list[Window]) -> list[BaseException | None]:
        """One conditional increment per window, sent as one batch; ``None`` where it was taken."""
        items = [Increment(w.doc_id, w.scope, {m.field: m.amount for m in w.meters},
                           [Filter(m.field, "<=", m.limit - m.amount) for m in w.meters], w.defaults())
                 for w in windows]
        try:
            docs = await self._store.increment_many(CONTAINER, items)
        except Exception as exc:  # the store is unreachable: every window failed
            return [exc for _ in windows]
        results: list[BaseException | None] = []
        for window, doc in zip(windows, docs, strict=True):
            if isinstance(doc, BaseException):
                results.append(doc)
                continue
            for meter in window.meters:
                meter.used_after = int(doc.get(meter.field) or 0)
            results.append(None)
        return results

    async def _explain(self, window: Window) -> None:
        """Which meter of a refused window is full (one read, on the refusal path only)."""
        doc = await self._store.get(CONTAINER, window.doc_id, window.scope) or {}
        for meter in window.meters:
            used = int(doc.get(meter.field) or 0)
            meter.refused = used + meter.amount > meter.limit
            meter.used_after = None if meter.refused else used
        if not any(m.refused for m in window.meters):  # it changed since: blame the first meter
            window.meters[0].refused = True

    async def _add(self, window_or_key: Window | tuple[str, str], increments: dict[str, int],
                   ttl_s: int | None = None) -> None:
        if isinstance(window_or_key, Window):
            scope, doc_id, ttl = window_or_key.scope, window_or_key.doc_id, window_or_key.ttl_s
        else:
            (scope, doc_id), ttl = window_or_key, ttl_s or MINUTE_TTL_S
        await self._store.increment(CONTAINER, doc_id, scope, increments,
                                    defaults={**{k: 0 for k in increments}, "ttl": ttl})

    @staticmethod
    def headers(windows: list[Window]) -> dict[str, str]:
        """``x-ratelimit-*`` for the tightest meter of each kind (and the budget left, in USD)."""
        out: dict[str, str] = {}
        for kind in ("rpm", "tpm", "budget"):
            of_kind = [(w, m) for w in windows for m in w.meters if m.kind == kind]
            if not of_kind:
                continue
            window, meter = min(of_kind, key=lambda wm: wm[1].remaining())
            if kind == "budget":
                out["x-llmops-budget-limit-usd"] = f"{meter.limit / NANOS_PER_USD:.6f}"
                out["x-llmops-budget-remaining-usd"] = f"{meter.remaining() / NANOS_PER_USD:.6f}"
                continue
            name = HEADER_KIND[kind]
            out[f"x-ratelimit-limit-{name}"] = str(meter.limit)
            out[f"x-ratelimit-remaining-{name}"] = str(meter.remaining())
            out[f"x-ratelimit-reset-{name}"] = f"{window.reset_s:.1f}s"
        return out

    # -- settlement -----------------------------------------------------------------------
    def settle(self, reservation: Reservation, *, tokens: int, cost_usd: float) -> None:
        """Correct the reservation to the real usage, coalesced and written in the background."""
        actual = {"tpm": tokens, "budget": to_nanos(cost_usd)}
        for window in reservation.windows:
            for meter in window.meters:
                delta = actual[meter.kind] - meter.amount if meter.kind in actual else 0
                if delta:
                    key = (window.scope, window.doc_id)
                    self._owed[key][meter.field] += delta
                    self._ttl[key] = window.ttl_s
        if self._owed and (self._flusher is None or self._flusher.done()):
            try:
                self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())
            except RuntimeError:  # no running loop: written by the next drain()
                pass

    async def _flush_soon(self) -> None:
        while self._owed:  # settlements that arrive during a write go out with the next one
            await asyncio.sleep(self._settle_interval_s)
            await self._flush()

    async def _flush(self) -> None:
        for attempt in range(3):
            owed, self._owed = self._owed, defaultdict(lambda: defaultdict(int))
            keys = [k for k, v in owed.items() if any(v.values())]
            results = await asyncio.gather(*(self._add(k, dict(owed[k]), self._ttl.get(k)) for k in keys),
                                           return_exceptions=True)
            failed = [k for k, r in zip(keys, results, strict=True) if isinstance(r, BaseException)]
            for key in failed:  # put back what could not be written, for the next try
                for name, delta in owed[key].items():
                    self._owed[key][name] += delta
            if not failed:
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        log.error("limit settlement failed for %d counters; they stay at their reservation", len(self._owed))

    async def drain(self) -> None:
        """Write every pending settlement now (at shutdown, and in tests)."""
        if self._flusher is not None and not self._flusher.done():
            try:
                await self._flusher
            except Exception:  # logged by _flush; what is left is retried below
                pass
        if self._owed:
            await self._flush()


def _month_reset_s(now: float) -> float:
    moment = time.gmtime(now)
    year, month = (moment.tm_year + 1, 1) if moment.tm_mon == 12 else (moment.tm_year, moment.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0)) - now
