"""Gateway worker processes for tests that need a real process (a kill, an isolated event loop):
``llmops serve`` and the simulator, on SQLite in a data folder, with a tenant's key provisioned."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llmops.devhost import SIMULATOR_KEY, local_deployments
from shared.auth import KeyService
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import TenantDirectory
from tests.support.services import free_port, running_process


def worker_env(data_dir: Path, simulator_port: int, **settings: str) -> dict[str, str]:
    """The environment of an ``llmops serve`` worker on ``data_dir``; ``settings``: LLMOPS_* overrides."""
    return {"LLMOPS_DATA_DIR": str(data_dir), "LLMOPS_STORE": "sqlite",
            "LLMOPS_DEPLOYMENTS_JSON": json.dumps(local_deployments(f"http://127.0.0.1:{simulator_port}")),
            "LLMOPS_TELEMETRY_LOCAL_EXPORTER": "none",
            **{f"LLMOPS_{name.upper()}": value for name, value in settings.items()}}


def serve(port: int, env: dict[str, str]):
    return running_process([sys.executable, "-m", "llmops", "serve", "--port", str(port)], port, env=env,
                           timeout_s=90)


@contextmanager
def simulator() -> Iterator[int]:
    """The model simulator (zero latency) in its own process; yields its port."""
    port = free_port()
    command = [sys.executable, "-m", "llmops", "simulator", "--port", str(port), "--latency", "zero",
               "--api-key", SIMULATOR_KEY]
    with running_process(command, port):
        yield port


async def provision(db: Path, tenant: str, app: str = "app") -> str:
    """An app of ``tenant`` and a key for it, in the SQLite store at ``db``."""
    store = SqliteDocumentStore(db)
    await store.open()
    try:
        tenants = TenantDirectory(store, ttl_s=0)
        await tenants.ensure_app(tenant, app)
        return (await KeyService(store, tenants, cache_ttl_s=0).create_key(tenant, app)).key
    finally:
        await store.close()
