"""Limit reservations on the real SQLite store: all-or-nothing, exact under concurrency, settled later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.limits import Limiter, LimitExceeded, LimitsPolicy, UsageLimits
from shared.limits.limiter import CONTAINER, NANOS_PER_USD, to_nanos
from shared.policies import PolicyError, validate_section
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import AppRecord


class Clock:
    def __init__(self, now: float = 1_790_000_000.0) -> None:  # 2026-09-21, mid-minute
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path) -> AsyncIterator[SqliteDocumentStore]:
    adapter = SqliteDocumentStore(tmp_path / "limits.sqlite3")
    await adapter.open()
    yield adapter
    await adapter.close()


async def reserve(limiter: Limiter, scoped, tokens: int = 100, cost: float = 0.001):
    return await limiter.reserve(limiter.windows(scoped, tokens=tokens, cost_usd=cost), tokens=tokens,
                                 cost_usd=cost)


async def test_requests_per_minute_refuses_with_headers_and_retry_after(store) -> None:
    clock = Clock()
    limiter = Limiter(store, clock=clock)
    scoped = [("app:contoso/mobile", LimitsPolicy(requests_per_minute=2))]
    first = await reserve(limiter, scoped)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    await reserve(limiter, scoped)
    with pytest.raises(LimitExceeded) as refused:
        await reserve(limiter, scoped)
    error = refused.value
    assert error.status == 429 and error.code == "rate_limit_exceeded" and error.kind == "rpm"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(error.headers["retry-after"]) <= 60
    clock.now += 60  # the next minute window (server clock) starts empty
    assert (await reserve(limiter, scoped)).headers["x-ratelimit-remaining-requests"] == "1"


async def test_a_refusal_gives_back_what_the_other_counters_took(store) -> None:
    limiter = Limiter(store, clock=Clock())
    scoped = [("tenant:contoso", LimitsPolicy(requests_per_minute=100, tokens_per_minute=1000)),
              ("app:contoso/crm", LimitsPolicy(tokens_per_minute=150))]
    await reserve(limiter, scoped, tokens=100)
    with pytest.raises(LimitExceeded) as refused:
        await reserve(limiter, scoped, tokens=100)
    assert refused.value.kind == "tpm" and "app contoso/crm" in refused.value.message
    docs = {(d["scope"], d["id"]): d for d in await store.query(CONTAINER)}
    minute = int(Clock().now // 60)
    tenant = docs[("tenant:contoso", f"m:{minute}:rt")]
    assert tenant["requests"] == 1 and tenant["tokens"] == 100  # the refused request's share was given back
    assert docs[("app:contoso/crm", f"m:{minute}:t")]["tokens"] == 100


async def test_budget_is_exact_under_concurrency_and_zero_refuses_everything(store) -> None:
    limiter = Limiter(store, clock=Clock())
    scoped = [("tenant:acme", LimitsPolicy(monthly_budget_usd=0.01))]
    results = await asyncio.gather(*(reserve(limiter, scoped, cost=0.0007) for _ in range(40)),
                                   return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert len(admitted) == 14 and len(refused) == 26  # floor(0.01 / 0.0007)
    assert all(r.code == "budget_exceeded" and r.kind == "budget" for r in refused)
    zero = [("tenant:free", LimitsPolicy(monthly_budget_usd=0))]
    with pytest.raises(LimitExceeded) as error:
        await reserve(limiter, zero, cost=0.000001)
    assert error.value.code == "budget_exceeded"


async def test_settlement_corrects_the_reservation_in_the_background(store) -> None:
    limiter = Limiter(store, clock=Clock())
    scoped = [("app:contoso/mobile", LimitsPolicy(tokens_per_minute=1000, monthly_budget_usd=1.0))]
    reservation = await reserve(limiter, scoped, tokens=600, cost=0.5)
    assert reservation.headers["x-ratelimit-remaining-tokens"] == "400"
    assert reservation.headers["x-llmops-budget-remaining-usd"] == "0.500000"
    limiter.settle(reservation, tokens=250, cost_usd=0.1)
    await limiter.drain()
    docs = {d["id"][0]: d for d in await store.query(CONTAINER)}
    assert docs["m"]["tokens"] == 250 and docs["b"]["cost_nanos"] == to_nanos(0.1)
    again = await reserve(limiter, scoped, tokens=700, cost=0.8)
    assert again.headers["x-ratelimit-remaining-tokens"] == "50"


async def test_request_larger_than_the_limit_says_so(store) -> None:
    limiter = Limiter(store, clock=Clock())
    with pytest.raises(LimitExceeded) as error:
        await reserve(limiter, [("app:a/b", LimitsPolicy(tokens_per_minute=50))], tokens=51)
    assert "alone exceeds" in error.value.message


def test_month_windows_and_nanos() -> None:
    limiter = Limiter(None, clock=Clock(1_798_761_599.0))  # 2026-12-31T23:59:59Z
    [window] = limiter.windows([("t", LimitsPolicy(monthly_budget_usd=5))], tokens=1, cost_usd=0.5)
    assert window.doc_id == "b:2026-12" and window.reset_s == pytest.approx(1.0)
    assert window.meters[0].limit == 5 * NANOS_PER_USD and to_nanos(0.1) == 100_000_000


async def test_settlements_are_coalesced_into_one_write_per_document(store) -> None:
    writes = []
    original = store.increment

    async def counting(*args, **kwargs):
        writes.append(args[1])
        return await original(*args, **kwargs)

    store.increment = counting
    limiter = Limiter(store, clock=Clock(), settle_interval_s=0.05)
    scoped = [("app:a/b", LimitsPolicy(tokens_per_minute=100_000))]
    reservations = [await reserve(limiter, scoped, tokens=500) for _ in range(20)]
    writes.clear()
    for reservation in reservations:
        limiter.settle(reservation, tokens=100, cost_usd=0.0)
    await asyncio.sleep(0.15)
    assert len(writes) == 1  # twenty settlements, one write
    [doc] = await store.query(CONTAINER)
    assert doc["tokens"] == 20 * 100


async def test_usage_limits_scopes_and_allowance(store) -> None:
    limits = UsageLimits(store, default_output_tokens=1024)
    none = AppRecord("t", "a", {}, {}, {})
    assert limits.scoped(none) == []
    both = AppRecord("t", "a", {}, {"limits": {"monthly_budget_usd": 10}},
                     {"limits": {"tokens_per_minute": 1000, "default_output_tokens": 256}})
    scoped = limits.scoped(both)
    assert [scope for scope, _ in scoped] == ["tenant:t", "app:t/a"]
    assert limits.output_allowance(scoped) == 256
    assert limits.output_allowance(scoped[:1]) == 1024
    assert limits.scoped(both)[0][1] is scoped[0][1]  # parsed once per stored dict


@pytest.mark.parametrize(("section", "message"), [
    ({"requests_per_minute": -1}, "requests_per_minute: Input should be greater than or equal to 0"),
    ({"monthly_budget_usd": -0.5}, "monthly_budget_usd"),
    ({"rpm": 5}, "unknown setting 'rpm'"),
    ({"tokens_per_minute": "lots"}, "tokens_per_minute"),
])
def test_bad_limit_values_are_rejected_with_a_clear_error(section: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        validate_section("limits", section)
