"""The request log never drops a record: batched writes, retries, a spill file and its replay."""

from __future__ import annotations

import asyncio

from shared.request_log import RequestLog
from shared.store import StoreUnavailableError
from shared.store.sqlite import SqliteDocumentStore


class FlakyStore:
    """A store whose writes fail until ``healthy`` is set (a unit-test fake of the port)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.healthy = False

    async def upsert_many(self, container, docs):
        if not self.healthy:
            raise StoreUnavailableError("down")
        await self.inner.upsert_many(container, docs)


def records(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"r{i}", "tenant_id": "contoso", "status": 200} for i in range(start, start + n)]


async def test_records_are_batched_and_written_in_the_background(tmp_path) -> None:
    store = SqliteDocumentStore(tmp_path / "s.sqlite3")
    log = RequestLog(store, spill_path=tmp_path / "spill.jsonl", flush_interval_s=0.02, batch_size=50)
    await log.start()
    for record in records(120):
        log.record(record)
    await asyncio.sleep(0.2)
    assert log.pending == 0 and log.written == 120
    assert len(await store.query("request_log", {"tenant_id": "contoso"})) == 120
    await log.close()
    await store.close()


async def test_store_outage_keeps_records_then_spills_on_close_and_replays(tmp_path) -> None:
    real = SqliteDocumentStore(tmp_path / "s.sqlite3")
    flaky = FlakyStore(real)
    spill = tmp_path / "spill.jsonl"
    log = RequestLog(flaky, spill_path=spill, flush_interval_s=0.01, batch_size=10)
    await log.start()
    for record in records(25):
        log.record(record)
    await asyncio.sleep(0.1)
    assert log.pending == 25  # nothing lost while the store is down
    await log.close()
    assert spill.exists() and len(spill.read_bytes().splitlines()) == 25

    flaky.healthy = True
    restarted = RequestLog(flaky, spill_path=spill, flush_interval_s=0.01)
    await restarted.start()  # replays the spill file first
    assert not spill.exists()
    assert len(await real.query("request_log", {"tenant_id": "contoso"})) == 25
    await restarted.close()
    await real.close()


async def test_buffer_over_the_cap_goes_to_disk(tmp_path) -> None:
    flaky = FlakyStore(None)
    spill = tmp_path / "spill.jsonl"
    log = RequestLog(flaky, spill_path=spill, flush_interval_s=10, batch_size=1000, max_buffer=5)
    for record in records(6):
        log.record(record)
    assert log.pending == 0 and len(spill.read_bytes().splitlines()) == 6
    await log.close()
