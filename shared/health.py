"""Liveness and readiness: can we reach the store, and which model backends answer?

Readiness checks run concurrently with a short timeout each and are cached for a few seconds, so
a load balancer polling ``/api/health`` cannot turn into load on Azure OpenAI. A backend is probed
with the SDK's ``models.list()`` (a cheap authenticated call that spends no tokens).

The report also says what this instance's traffic has learnt (never cached): each deployment whose
circuit breaker is not closed, and each pool (tier) with deployments out of it; any of them makes
the status ``degraded``, a pool with none left ``unavailable``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from shared.backends import ModelBackends
from shared.deployments import Deployment, DeploymentRegistry
from shared.routing.breaker import CLOSED, BreakerBoard
from shared.store import DocumentStore

PROBE_TIMEOUT_S = 3.0
CACHE_S = 5.0


class HealthService:
    def __init__(self, store: DocumentStore, deployments: DeploymentRegistry, backends: ModelBackends,
                 breakers: BreakerBoard | None = None) -> None:
        self._store = store
        self._deployments = deployments
        self._backends = backends
        self._breakers = breakers
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def _timed(self, probe: Awaitable[object]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(probe, PROBE_TIMEOUT_S)
            return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
        except TimeoutError:
            return {"ok": False, "error": f"no answer within {PROBE_TIMEOUT_S:.0f}s"}
        except Exception as exc:
            return {"ok": False, "error": str(exc)[:200]}

    async def _probe_backend(self, deployment: Deployment) -> None:
        await self._backends.probe(deployment)

    async def readiness(self) -> dict[str, Any]:
        report = await self._probed()
        breakers = {alias: state for alias, state in (self._breakers.states() if self._breakers else {}).items()
                    if state != CLOSED}
        if not breakers:
            return report
        pools: dict[str, dict[str, Any]] = {}
        for deployment in self._deployments.chat_deployments():
            pool = pools.setdefault(deployment.tier, {"deployments": 0, "out": []})
            pool["deployments"] += 1
            if deployment.alias in breakers:
                pool["out"].append(deployment.alias)
        degraded = {tier: pool for tier, pool in pools.items() if pool["out"]}
        status = report["status"]
        if any(len(pool["out"]) == pool["deployments"] for pool in degraded.values()):
            status = "unavailable"
        elif status == "ok":
            status = "degraded"
        return {**report, "status": status, "breakers": breakers, "degraded_pools": degraded}

    async def _probed(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._cached and self._cached[0] > now:
            return self._cached[1]
        chat = self._deployments.chat_deployments()
        # one probe per endpoint: deployments on the same account share its health
        endpoints: dict[str, Deployment] = {}
        for deployment in chat:
            endpoints.setdefault(deployment.endpoint, deployment)
        store_result, *endpoint_results = await asyncio.gather(
            self._timed(self._store.ping()), *(self._timed(self._probe_backend(d)) for d in endpoints.values()))
        by_endpoint = dict(zip(endpoints, endpoint_results, strict=True))
        backends = {d.alias: {**by_endpoint[d.endpoint], "tier": d.tier} for d in chat}
        healthy_backends = sum(1 for b in backends.values() if b["ok"])
        if not store_result["ok"] or (chat and healthy_backends == 0) or not chat:
            status = "unavailable"
        elif healthy_backends < len(backends):
            status = "degraded"
        else:
            status = "ok"
        report = {"status": status, "store": store_result, "backends": backends}
        self._cached = (now + CACHE_S, report)
        return report
