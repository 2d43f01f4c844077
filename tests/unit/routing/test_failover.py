"""Retries, backoff hints, failover order, circuit breakers and deadlines, with a scripted backend."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from shared.api.errors import ApiError
from shared.backends import BackendError
from shared.deployments import Deployment
from shared.routing import BreakerBoard, CircuitBreaker, FailoverCaller, RetryPolicy
from shared.routing.backoff import backoff_s, parse_duration, retry_after_s


def dep(alias: str) -> Deployment:
    return Deployment(alias=alias, endpoint="http://127.0.0.1:1", deployment=alias, model="m", tier="small")


A, B, C = dep("a"), dep("b"), dep("c")


def error(alias: str, status: int | None, *, retryable: bool = True, code: str | None = None,
          headers: dict | None = None) -> BackendError:
    return BackendError(alias, status, "scripted", retryable=retryable, code=code, headers=headers)


class Script:
    """A backend whose answers per deployment are scripted: an exception, a delay, or success."""

    def __init__(self, **answers: list) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, deployment: Deployment, timeout_s: float) -> str:
        self.calls.append(deployment.alias)
        queue = self.answers.get(deployment.alias) or ["ok"]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, float):
            await asyncio.sleep(answer)
        return f"reply from {deployment.alias}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def caller(retry: RetryPolicy | None = None, clock: Callable[[], float] | None = None,
           waits: list | None = None) -> FailoverCaller:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    board = BreakerBoard(3, 10.0, clock or FakeClock())
    return FailoverCaller(retry or RetryPolicy(), board, rng=random.Random(0), sleep=sleep)


async def test_retries_then_fails_over_and_logs_every_attempt() -> None:
    script = Script(a=[error("a", 500), error("a", 503)], b=["ok"])
    attempts: list[dict] = []
    waits: list[float] = []
    result, used = await caller(waits=waits).call([A, B], script, attempts)
    assert result == "reply from b" and used is B
    assert script.calls == ["a", "a", "b"]
    assert [(x["deployment"], x["status"]) for x in attempts] == [("a", 500), ("a", 503), ("b", 200)]
    assert len(waits) == 1 and 0 <= waits[0] <= 0.05  # jittered backoff before the retry on the same deployment


async def test_retry_after_is_honoured_and_long_waits_fail_over_instead() -> None:
    waits: list[float] = []
    short = Script(a=[error("a", 429, headers={"retry-after-ms": "300"}), "ok"])
    await caller(waits=waits).call([A, B], short, [])
    assert short.calls == ["a", "a"] and waits == [0.3]
    long = Script(a=[error("a", 429, headers={"retry-after": "30"})])
    waits.clear()
    _, used = await caller(waits=waits).call([A, B], long, [])
    assert used is B and waits == []  # a 30 s wait is not taken: the next deployment answers now


async def test_content_filter_is_not_retried() -> None:
    script = Script(a=[error("a", 400, retryable=False, code="content_filter")])
    with pytest.raises(BackendError) as raised:
        await caller().call([A, B], script, [])
    assert raised.value.is_content_filter and script.calls == ["a"]


async def test_all_failing_raises_the_last_error_within_max_attempts() -> None:
    script = Script(a=[error("a", 500)], b=[error("b", 502)], c=[error("c", 500)])
    attempts: list[dict] = []
    with pytest.raises(BackendError) as raised:
        await caller(RetryPolicy(max_attempts=5, attempts_per_deployment=2)).call([A, B, C], script, attempts)
    assert len(script.calls) == 5 and script.calls[-1] == "c" and raised.value.deployment == "c"


async def test_per_attempt_deadline_turns_a_hang_into_a_timeout_and_fails_over() -> None:
    script = Script(a=[5.0], b=["ok"])
    attempts: list[dict] = []
    retry = RetryPolicy(attempt_timeout_s=0.05, attempts_per_deployment=1)
    _, used = await caller(retry).call([A, B], script, attempts)
    assert used is B and attempts[0]["error"] == "timeout" and attempts[0]["status"] is None


async def test_total_deadline_bounds_the_whole_request() -> None:
    script = Script(a=[5.0], b=[5.0], c=[5.0])
    retry = RetryPolicy(attempt_timeout_s=0.2, request_deadline_s=0.3, attempts_per_deployment=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BackendError) as raised:
        await caller(retry).call([A, B, C], script, [])
    assert raised.value.is_timeout and loop.time() - started < 1.0 and len(script.calls) == 2


async def test_open_breakers_are_skipped_and_all_open_is_a_503() -> None:
    clock = FakeClock()
    board_caller = caller(RetryPolicy(attempts_per_deployment=1, max_attempts=1), clock)
    failing = Script(a=[error("a", 500)])
    for _ in range(3):
        with pytest.raises(BackendError):
            await board_caller.call([A], failing, [])
    assert board_caller.breakers.get("a").state == "open"
    with pytest.raises(ApiError) as unhealthy:
        await board_caller.call([A], failing, [])
    assert unhealthy.value.status == 503 and unhealthy.value.code == "no_healthy_deployment"
    assert len(failing.calls) == 3  # the open breaker kept the 4th call away from the deployment
    _, used = await board_caller.call([A, B], Script(), [])
    assert used is B


def test_breaker_half_open_lets_one_probe_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 10.0, clock)
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10.5
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.failure()  # the probe failed: open again at once
    assert breaker.state == "open"
    clock.now += 10.5
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_breaker_stays_open_for_a_longer_retry_after() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock)
    breaker.failure(retry_after_s=60)
    clock.now += 30
    assert breaker.state == "open"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:05 GMT"}, 5.0),
    ({"x-ratelimit-reset-requests": "1m30s", "x-ratelimit-reset-tokens": "250ms"}, 90.0),
    ({"x-ratelimit-reset-tokens": "1.5s"}, 1.5),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_retry_after_parsing(headers: dict, expected: float | None) -> None:
    now = 1445412480.0  # 5 s before the HTTP date above
    assert retry_after_s(headers, now=now) == (pytest.approx(expected) if expected is not None else None)


def test_durations_and_backoff() -> None:
    assert parse_duration("20ms") == pytest.approx(0.02) and parse_duration("2h") == 7200
    assert parse_duration("1x") is None
    rng = random.Random(3)
    assert all(0 <= backoff_s(n, 0.1, 1.0, rng) <= min(1.0, 0.1 * 2 ** n) for n in range(10))


async def test_a_request_that_fails_the_same_way_everywhere_opens_no_breaker() -> None:
    """Why 4: three requests that made the backend fail opened the breakers for every tenant."""
    board_caller = caller(RetryPolicy(attempts_per_deployment=1))
    poison = Script(a=[error("a", 500)], b=[error("b", 500)])
    for _ in range(5):
        with pytest.raises(BackendError):
            await board_caller.call([A, B], poison, [])
    assert board_caller.breakers.states() == {"a": "closed", "b": "closed"}
    hang = Script(a=[error("a", None, code="timeout")], b=[error("b", None, code="timeout")])
    for _ in range(5):
        with pytest.raises(BackendError):
            await board_caller.call([A, B], hang, [])
    assert board_caller.breakers.states() == {"a": "closed", "b": "closed"}


async def test_a_deployment_that_fails_where_another_succeeds_is_counted() -> None:
    board_caller = caller(RetryPolicy(attempts_per_deployment=1))
    sick = Script(a=[error("a", 500)])
    for _ in range(3):
        assert (await board_caller.call([A, B], sick, []))[1] is B
    assert board_caller.breakers.states() == {"a": "open", "b": "closed"}


async def test_different_failures_on_each_deployment_are_counted_against_each() -> None:
    board_caller = caller(RetryPolicy(attempts_per_deployment=1))
    outage = Script(a=[error("a", 500)], b=[error("b", 503)], c=[error("c", None)])  # c: connection refused
    for _ in range(3):
        with pytest.raises(BackendError):
            await board_caller.call([A, B, C], outage, [])
    assert board_caller.breakers.states() == {"a": "open", "b": "open", "c": "open"}
