"""Exact limits across processes: several ``llmops serve`` workers share one store and are hammered at once.

Run against SQLite (one file shared by the processes) and against the Cosmos-API server through the
real ``azure-cosmos`` SDK. Whatever the interleaving, the spend admitted in a month never exceeds the
budget by more than one request's reservation, and the tokens of a minute window never exceed the TPM
limit by more than one request (in fact by none: reservations bound the real usage).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx2
import pytest

from llmops.devhost import SIMULATOR_KEY, local_deployments
from shared.auth import KeyService
from shared.store import DocumentStore
from shared.store.cosmos import CosmosDocumentStore
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import TenantDirectory
from tests.support.services import COSMOS_EMULATOR_KEY, free_port, running_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
WORKERS = 3
REQUESTS_PER_APP = 60
MAX_TOKENS = 100
BUDGET_USD = 0.02
TPM = 2500
MESSAGES = [{"role": "user", "content": "Summarise our refund policy for a customer in two sentences."}]


def process(args: list[str], port: int, env: dict[str, str]):
    return running_process([sys.executable, "-m", "llmops", *args], port, env=env, timeout_s=90)


async def provision(store: DocumentStore) -> dict[str, str]:
    """Tenant ``hammer`` with a budget app and a TPM app; a key for each."""
    await store.open()
    try:
        tenants = TenantDirectory(store, ttl_s=0)
        keys = KeyService(store, tenants, cache_ttl_s=0)
        await tenants.ensure_app("hammer", "budget", policy={"limits": {"monthly_budget_usd": BUDGET_USD}})
        await tenants.ensure_app("hammer", "tpm", policy={"limits": {"tokens_per_minute": TPM}})
        return {app: (await keys.create_key("hammer", app)).key for app in ("budget", "tpm")}
    finally:
        await store.close()


async def logged(store: DocumentStore) -> list[dict]:
    await store.open()
    try:
        return await store.query("request_log", {"tenant_id": "hammer"})
    finally:
        await store.close()


async def hammer(urls: list[str], keys: dict[str, str]) -> list[int]:
    async with httpx2.AsyncClient(timeout=60, limits=httpx2.Limits(max_connections=200)) as client:
        async def one(i: int, app: str) -> int:
            response = await client.post(
                f"{urls[i % len(urls)]}/api/v1/chat/completions",
                headers={"authorization": f"Bearer {keys[app]}"},
                json={"model": "gpt-4o", "messages": MESSAGES, "max_tokens": MAX_TOKENS, "user": f"u{i}"})
            return response.status_code

        jobs = [one(i, app) for i in range(REQUESTS_PER_APP) for app in ("budget", "tpm")]
        return await asyncio.gather(*jobs)


def run_workers(store_env: dict[str, str], make_store, tmp_path: Path) -> None:
    sim_port = free_port()
    ports = [free_port() for _ in range(WORKERS)]
    deployments = local_deployments(f"http://127.0.0.1:{sim_port}")
    env = {"LLMOPS_DATA_DIR": str(tmp_path), "LLMOPS_DEPLOYMENTS_JSON": json.dumps(deployments),
           "LLMOPS_TELEMETRY_LOCAL_EXPORTER": "none", "LLMOPS_REQUEST_LOG_FLUSH_INTERVAL_S": "0.1",
           "LLMOPS_AUTH_CACHE_TTL_S": "60", **store_env}
    keys = asyncio.run(provision(make_store()))
    with ExitStack() as stack:
        stack.enter_context(process(["simulator", "--port", str(sim_port), "--latency", "zero",
                                     "--api-key", SIMULATOR_KEY], sim_port, {}))
        for port in ports:  # started together, awaited in turn
            stack.enter_context(process(["serve", "--port", str(port)], port, env))
        while 60 - time.time() % 60 < 12:  # keep the hammering inside one minute window
            time.sleep(0.5)
        statuses = asyncio.run(hammer([f"http://127.0.0.1:{p}" for p in ports], keys))
    # the workers have stopped: their request logs and settlements are flushed
    assert set(statuses) <= {200, 429}, statuses
    records = asyncio.run(logged(make_store()))
    assert len(records) == len(statuses)
    by_app = {app: [r for r in records if r["app_id"] == app] for app in ("budget", "tpm")}
    admitted = [r for r in by_app["budget"] if r["status"] == 200]
    refused = [r for r in by_app["budget"] if r["status"] == 429]
    one_reservation = max(r["reserved"]["cost_usd"] for r in admitted)
    spent = sum(r["cost_usd"] for r in admitted)
    assert admitted and refused and all(r["error_code"] == "budget_exceeded" for r in refused)
    assert spent <= BUDGET_USD + one_reservation, (spent, len(admitted))
    assert spent > BUDGET_USD / 2  # the budget was really used, not refused wholesale
    tpm_admitted = [r for r in by_app["tpm"] if r["status"] == 200]
    tokens = sum(r["usage"]["total_tokens"] for r in tpm_admitted)
    one_request = max(r["reserved"]["tokens"] for r in tpm_admitted)
    assert tokens <= TPM + one_request, (tokens, len(tpm_admitted))
    assert any(r["status"] == 429 and r["limit_kind"] == "tpm" for r in by_app["tpm"])


def test_limits_hold_across_processes_on_sqlite(tmp_path) -> None:
    path = tmp_path / "llmops.sqlite3"
    run_workers({"LLMOPS_STORE": "sqlite"}, lambda: SqliteDocumentStore(path), tmp_path)


def test_limits_hold_across_processes_on_cosmos(tmp_path, cosmos_endpoint: str) -> None:
    database = f"limits{uuid.uuid4().hex[:8]}"
    env = {"LLMOPS_STORE": "cosmos", "LLMOPS_COSMOS_ENDPOINT": cosmos_endpoint,
           "LLMOPS_COSMOS_KEY": COSMOS_EMULATOR_KEY, "LLMOPS_COSMOS_VERIFY_TLS": "false",
           "LLMOPS_COSMOS_CREATE_CONTAINERS": "true", "LLMOPS_COSMOS_DATABASE": database}

    def make_store() -> CosmosDocumentStore:
        return CosmosDocumentStore(cosmos_endpoint, database, key=COSMOS_EMULATOR_KEY, verify_tls=False,
                                   create_containers=True)

    run_workers(env, make_store, tmp_path)
