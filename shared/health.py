"""Liveness and readiness: can we reach the store, and which model backends answer?

Readiness checks run concurrently with a short timeout each and are cached for a few seconds, so
a load balancer polling ``/api/health`` cannot turn into load on Azure OpenAI. A backend is probed
with the SDK's ``models.list()`` (a cheap authenticated call that spends no tokens).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.backends import ModelBackends
from shared.deployments import Deployment, DeploymentRegistry
from shared.store import DocumentStore

PROBE_TIMEOUT_S = 3.0
CACHE_S = 5.0


class HealthService:
    def __init__(self, store: DocumentStore, deployments: DeploymentRegistry, backends: ModelBackends) -> None:
        self._store = store
        self._deployments = deployments
        self._backends = backends
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def _timed(self, probe) -> dict[str, Any]:
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
