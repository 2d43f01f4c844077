"""Why 3: ``kill -9`` under load must lose no acknowledged request record (the billing and audit record).

An ``llmops serve`` worker answers a steady stream of chat requests and is killed with SIGKILL in the
middle of it, with a long flush interval so that many answered records are only in its journal. A
second worker on the same data folder replays that journal at start; every request that got a 200
must then be in the request log, exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx2
import pytest

from shared.store.sqlite import SqliteDocumentStore
from tests.support.services import free_port
from tests.support.workers import provision, serve, simulator, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MESSAGES = [{"role": "user", "content": "Say something short."}]
BODY = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 8}
LOAD_S = 3.0
UNSTORED_AT_KILL = 20


async def logged_ids(path: Path) -> list[str]:
    store = SqliteDocumentStore(path)
    await store.open()
    try:
        return [r["id"] for r in await store.query("request_log", {"tenant_id": "durable"})]
    finally:
        await store.close()


async def load_then_kill(url: str, key: str, proc, db: Path) -> list[str]:
    """Requests from 16 clients; SIGKILL mid-stream, at a moment when answered records wait in the journal.

    After LOAD_S seconds the killer polls the store and kills as soon as at least UNSTORED_AT_KILL answered
    records are not yet stored (a periodic flush can land just before a fixed-time kill and store them all,
    which would leave nothing to replay). The ids that got a 200.
    """
    acknowledged: list[str] = []
    killed = asyncio.Event()
    give_up_at = time.monotonic() + LOAD_S + 20

    async def client_loop(client: httpx2.AsyncClient) -> None:
        while not killed.is_set() and time.monotonic() < give_up_at:
            try:
                response = await client.post(f"{url}/api/v1/chat/completions",
                                             headers={"authorization": f"Bearer {key}"}, json=BODY)
            except httpx2.HTTPError:
                return  # the worker is gone
            if response.status_code == 200:
                acknowledged.append(response.headers["x-request-id"])

    async def killer() -> None:
        await asyncio.sleep(LOAD_S)
        while time.monotonic() < give_up_at:
            if len(acknowledged) - len(await logged_ids(db)) >= UNSTORED_AT_KILL:
                break
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        killed.set()

    async with httpx2.AsyncClient(timeout=10) as client:
        await asyncio.gather(killer(), *(client_loop(client) for _ in range(16)))
    return acknowledged


def test_kill_9_under_load_loses_no_acknowledged_record(tmp_path) -> None:
    port, db = free_port(), tmp_path / "llmops.sqlite3"
    key = asyncio.run(provision(db, "durable"))
    with simulator() as sim_port:
        env = worker_env(tmp_path, sim_port, request_log_flush_interval_s="2", request_log_batch_size="5000")
        with serve(port, env) as proc:
            acknowledged = asyncio.run(load_then_kill(f"http://127.0.0.1:{port}", key, proc, db))
            assert proc.wait(10) == -signal.SIGKILL
        assert len(acknowledged) > 50, "the load never got going"
        before = set(asyncio.run(logged_ids(db)))
        assert len(before) < len(acknowledged), "the kill came after every record was stored: no test"
        with serve(port, env):  # a new worker on the same folder replays the dead one's journal at start
            pass
    stored = asyncio.run(logged_ids(db))
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged records lost"
    assert len(stored) == len(set(stored))
