"""Calling a plan of deployments: retries with backoff, failover, circuit breakers and deadlines.

For each deployment of the plan (skipping those whose breaker is open) the call is tried up to
``attempts_per_deployment`` times, and at most ``max_attempts`` times in all, within the request's
total deadline; each try has its own deadline. A retryable failure (429, 408/409, 5xx, timeout,
connection error) is retried on the same deployment after the wait the backend asked for
(``retry-after-ms`` / ``retry-after`` / ``x-ratelimit-reset-*``) or an exponential backoff with
jitter; a wait longer than ``retry_after_max_wait_s`` is not taken, the next deployment is tried at
once. A non-retryable failure (a content-filter 400, any other 4xx) ends the request immediately.
When every deployment of the plan is skipped as unhealthy the request gets a 503.

Breaker verdicts are given when the request is over, so that one request cannot open the breakers
for every tenant: a failure that the same request met the same way (status and code) on two or more
deployments is that request's fault (a prompt that makes every model fail or hang), not the
deployments', and counts against no breaker. Rate limits (429) and connection errors are always the
deployment's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.backends import BackendError
from shared.config import RoutingSettings
from shared.deployments import Deployment
from shared.request_record import Attempt as AttemptRecord
from shared.routing.backoff import backoff_s, retry_after_s
from shared.routing.breaker import BreakerBoard, CircuitBreaker
from shared.routing.router import no_healthy_deployment

T = TypeVar("T")
Attempt = Callable[[Deployment, float], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    attempts_per_deployment: int = 2
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0
    retry_after_max_wait_s: float = 2.0
    attempt_timeout_s: float = 30.0
    request_deadline_s: float = 90.0

    @classmethod
    def from_settings(cls, settings: RoutingSettings) -> RetryPolicy:
        return cls(settings.route_max_attempts, settings.route_attempts_per_deployment,
                   settings.retry_backoff_base_s, settings.retry_backoff_max_s, settings.retry_after_max_wait_s,
                   settings.attempt_timeout_s, settings.request_deadline_s)


def _attempt_entry(deployment: Deployment, started: float, error: BackendError | None) -> AttemptRecord:
    entry: AttemptRecord = {"deployment": deployment.alias,
                            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
    if error is None:
        entry["status"] = 200
    else:
        entry["status"] = error.status
        entry["error"] = error.code or ("timeout" if error.is_timeout else "error")
    return entry


class FailoverCaller:
    def __init__(self, retry: RetryPolicy, breakers: BreakerBoard, *, rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.retry = retry
        self.breakers = breakers
        self._rng = rng or random.Random()
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: RoutingSettings) -> FailoverCaller:
        """Retries and breakers as the settings say (one breaker board per process)."""
        return cls(RetryPolicy.from_settings(settings),
                   BreakerBoard(settings.breaker_failure_threshold, settings.breaker_open_s))

    async def call(self, plan: list[Deployment], attempt: Attempt[T], attempts_log: list[AttemptRecord],
                   *, what: str = "this request") -> tuple[T, Deployment]:
        """Run ``attempt(deployment, timeout_s)`` along the plan until one succeeds."""
        deadline = time.perf_counter() + self.retry.request_deadline_s
        verdicts: list[tuple[CircuitBreaker, str, BackendError]] = []  # failures, judged at the end
        try:
            return await self._along(plan, attempt, attempts_log, what, deadline, verdicts)
        finally:
            _judge(verdicts)

    async def _along(self, plan: list[Deployment], attempt: Attempt[T], attempts_log: list[AttemptRecord],
                     what: str, deadline: float, verdicts: list[tuple[CircuitBreaker, str, BackendError]]
                     ) -> tuple[T, Deployment]:
        retry = self.retry
        last_error: BackendError | None = None
        tries = 0
        for deployment in plan:
            breaker = self.breakers.get(deployment.alias)
            for n in range(retry.attempts_per_deployment):
                remaining = deadline - time.perf_counter()
                if tries >= retry.max_attempts or remaining <= 0:
                    break
                if not breaker.allow():
                    break
                tries += 1
                started = time.perf_counter()
                try:
                    result = await self._one(deployment, attempt, min(retry.attempt_timeout_s, remaining))
                except BackendError as error:
                    attempts_log.append(_attempt_entry(deployment, started, error))
                    last_error = error
                    if not error.retryable:
                        breaker.release()
                        raise
                    hint = retry_after_s(error.headers)
                    verdicts.append((breaker, deployment.alias, error))
                    wait = hint if hint is not None else backoff_s(n, retry.backoff_base_s, retry.backoff_max_s,
                                                                   self._rng)
                    if n + 1 >= retry.attempts_per_deployment or wait > retry.retry_after_max_wait_s:
                        break  # fail over to the next deployment now
                    if wait >= deadline - time.perf_counter():
                        break
                    if wait > 0:
                        await self._sleep(wait)
                    continue
                except BaseException:
                    breaker.release()  # cancelled (client gone): no verdict on the deployment
                    raise
                breaker.success()
                attempts_log.append(_attempt_entry(deployment, started, None))
                return result, deployment
            if tries >= retry.max_attempts or deadline - time.perf_counter() <= 0:
                break
        if last_error is not None:
            raise last_error
        raise no_healthy_deployment(what)

    @staticmethod
    async def _one(deployment: Deployment, attempt: Attempt[T], timeout_s: float) -> T:
        try:
            async with asyncio.timeout(timeout_s):
                return await attempt(deployment, timeout_s)
        except TimeoutError:
            raise BackendError(deployment.alias, None, f"no answer within {timeout_s:.2f} s", retryable=True,
                               code="timeout") from None


def _request_specific(error: BackendError) -> bool:
    """Could this failure be the request's own doing (rather than a sick deployment's)?"""
    return error.status != 429 and (error.status is not None or error.is_timeout)


def _judge(verdicts: list[tuple[CircuitBreaker, str, BackendError]]) -> None:
    """Count the request's failures against their breakers, except those it met the same way on two
    or more deployments; a breaker whose probe is not counted is released for another probe."""
    seen_on: dict[tuple[int | None, str | None], set[str]] = {}
    for _, alias, error in verdicts:
        if _request_specific(error):
            seen_on.setdefault((error.status, error.code), set()).add(alias)
    for breaker, _, error in verdicts:
        if len(seen_on.get((error.status, error.code), ())) >= 2:
            breaker.release()
        else:
            breaker.failure(retry_after_s(error.headers))
