"""The whole platform on loopback for end-to-end tests: the simulator and the gateway (the real
function objects from ``function_app``, mounted exactly as ``llmops dev`` mounts them), each served by
uvicorn on a free port in a background thread, on SQLite in a temporary directory."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2

from llmops.devhost import SIMULATOR_KEY, event_runtime, gateway_app, local_deployments
from llmops.events import LocalEventRuntime
from llmops.serving import make_server, wait_started
from llmops.simulator import DEFAULT_DEPLOYMENTS, build_simulator
from shared import runtime
from shared.config import Settings
from shared.runtime import Platform, set_platform
from tests.support.services import free_port

T = TypeVar("T")


@dataclass
class Stack:
    gateway_url: str
    simulator_url: str
    key: str
    platform: Platform
    loop: asyncio.AbstractEventLoop
    data_dir: Path
    events: LocalEventRuntime

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the stack's event loop (where the platform's clients live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def control(self, path: str, payload: dict | None = None) -> dict:
        url = f"{self.simulator_url}/control/{path}"
        response = httpx2.post(url, json=payload or {}) if payload is not None else httpx2.get(url)
        response.raise_for_status()
        return response.json()

    def new_key(self, tenant: str = "contoso", app: str = "mobile") -> str:
        async def issue() -> str:
            await self.platform.tenants.ensure_app(tenant, app)
            return (await self.platform.keys.create_key(tenant, app)).key

        return self.call(issue())

    def reset_breakers(self) -> None:
        """Close every circuit breaker of the gateway (they are per instance and outlive a test)."""
        self.platform.gateway.failover.breakers.reset()

    def flush_log(self) -> None:
        self.call(self.platform.request_log.flush())

    def log_record(self, request_id: str) -> dict | None:
        self.flush_log()
        rows = self.call(self.platform.store.query("request_log", {"id": request_id}))
        return rows[0] if rows else None


def stack_settings(data_dir: Path, simulator_url: str, extra_deployments: list[dict] | None = None,
                   **overrides: Any) -> Settings:
    """``extra_deployments`` are added to ``make run``'s list, on the simulator with its key."""
    served = {"endpoint": simulator_url, "auth": "key", "api_key": SIMULATOR_KEY}
    deployments = local_deployments(simulator_url) + [{**served, **extra} for extra in extra_deployments or []]
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "store": "sqlite",
        "deployments_json": json.dumps(deployments),
        "default_deployment": "gpt-4o-mini",
        "telemetry_local_exporter": "none",
        "backend_timeout_s": 2.0,
        "attempt_timeout_s": 1.0,
        "request_deadline_s": 2.5,
        "retry_backoff_base_s": 0.01,
        "auth_cache_ttl_s": 0.2,
        "request_log_flush_interval_s": 0.05,
        "serving_local_base_url": f"{simulator_url}/v1",
        "serving_local_api_key": SIMULATOR_KEY,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running_stack(data_dir: Path, *, telemetry=None, extra_deployments: list[dict] | None = None,
                  **overrides: Any) -> Iterator[Stack]:
    os.environ.setdefault("LLMOPS_TELEMETRY_LOCAL_EXPORTER", "none")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}
    sim_port, gw_port = free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{sim_port}"

    async def main() -> None:
        settings = stack_settings(data_dir, simulator_url, extra_deployments, **overrides)
        platform = await Platform.create(settings, telemetry=telemetry)
        previous = runtime._platform  # a module's own stack hands the package stack its platform back
        set_platform(platform)
        served = (*DEFAULT_DEPLOYMENTS, *(extra["deployment"] for extra in extra_deployments or []))
        simulator = make_server(build_simulator(served, latency="zero", api_key=SIMULATOR_KEY, seed=7),
                                "127.0.0.1", sim_port)
        gateway = make_server(gateway_app(), "127.0.0.1", gw_port)
        tasks = [asyncio.create_task(simulator.serve()), asyncio.create_task(gateway.serve())]
        await wait_started(simulator)
        await wait_started(gateway)
        await platform.tenants.ensure_app("contoso", "mobile")
        await platform.tenants.ensure_app("contoso", "crm")
        events = event_runtime(platform)
        platform.event_sink = events.publish_event  # Azure ML's events, published locally as llmops dev does
        events.timer_interval_s = 3600
        events.start()
        holder.update(platform=platform, servers=(simulator, gateway), events=events,
                      key=(await platform.keys.create_key("contoso", "mobile")).key)
        ready.set()
        await asyncio.gather(*tasks)
        await events.stop()
        await platform.close()
        set_platform(previous)

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the test stack did not start")
    try:
        yield Stack(f"http://127.0.0.1:{gw_port}", simulator_url, holder["key"], holder["platform"], loop, data_dir,
                    holder["events"])
    finally:
        for server in holder["servers"]:
            server.should_exit = True
        thread.join(15)
        if not thread.is_alive():
            loop.close()
