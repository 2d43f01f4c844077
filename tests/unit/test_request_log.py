"""The request log never drops a record: the journal, batched writes, retries, replay, dead letters."""

from __future__ import annotations

import asyncio

import orjson

from shared.request_journal import DEAD_LETTER
from shared.request_log import RequestLog
from shared.store import StoreError, StoreUnavailableError
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


class PickyStore:
    """A store that refuses one record for itself (as Cosmos refuses a document over 2 MB)."""

    def __init__(self, inner, bad_id: str) -> None:
        self.inner = inner
        self.bad_id = bad_id

    async def upsert_many(self, container, docs):
        if any(d["id"] == self.bad_id for d in docs):
            raise StoreError("Request size is too large")
        await self.inner.upsert_many(container, docs)


def records(n: int, start: int = 0, tenant: str = "contoso") -> list[dict]:
    return [{"id": f"r{i}", "tenant_id": tenant, "status": 200} for i in range(start, start + n)]


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def journal_lines(folder) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in folder.glob("journal-*.jsonl"))


async def test_records_are_journaled_batched_and_written_in_the_background(tmp_path) -> None:
    store = SqliteDocumentStore(tmp_path / "s.sqlite3")
    log = RequestLog(store, journal_dir=tmp_path / "j", flush_interval_s=0.02, batch_size=50)
    await log.start()
    for record in records(120):
        log.record(record)
    assert journal_lines(tmp_path / "j") == 120  # on disk before record() returned
    await asyncio.sleep(0.3)
    assert log.pending == 0 and log.written == 120
    assert len(await store.query("request_log", {"tenant_id": "contoso"})) == 120
    await log.close()
    assert journal_lines(tmp_path / "j") == 0  # every segment stored, so deleted
    await store.close()


async def test_store_outage_keeps_records_in_the_journal_and_the_next_start_replays_them(tmp_path) -> None:
    real = SqliteDocumentStore(tmp_path / "s.sqlite3")
    flaky = FlakyStore(real)
    log = RequestLog(flaky, journal_dir=tmp_path / "j", flush_interval_s=0.01, batch_size=10)
    await log.start()
    for record in records(25):
        log.record(record)
    await asyncio.sleep(0.1)
    assert log.pending == 25  # nothing lost while the store is down
    await log.close()
    assert journal_lines(tmp_path / "j") == 25

    flaky.healthy = True
    restarted = RequestLog(flaky, journal_dir=tmp_path / "j", flush_interval_s=0.01)
    await restarted.start()  # replays the journal first
    assert restarted.replayed == 25 and journal_lines(tmp_path / "j") == 0
    assert len(await real.query("request_log", {"tenant_id": "contoso"})) == 25
    await restarted.close()
    await real.close()


async def test_a_live_process_journal_is_not_replayed_by_another(tmp_path) -> None:
    real = SqliteDocumentStore(tmp_path / "s.sqlite3")
    flaky = FlakyStore(real)
    owner = RequestLog(flaky, journal_dir=tmp_path / "j", flush_interval_s=10)
    for record in records(3):
        owner.record(record)
    flaky.healthy = True
    other = RequestLog(real, journal_dir=tmp_path / "j", flush_interval_s=10)
    await other.drain()  # the owner holds its segment's lock
    assert other.replayed == 0 and journal_lines(tmp_path / "j") == 3
    await owner.close()
    assert other.replayed == 0 and len(await real.query("request_log", {"tenant_id": "contoso"})) == 3
    await other.close()
    await real.close()


async def test_buffer_over_the_cap_is_dropped_to_the_journal_and_drained_later(tmp_path) -> None:
    real = SqliteDocumentStore(tmp_path / "s.sqlite3")
    flaky = FlakyStore(real)
    log = RequestLog(flaky, journal_dir=tmp_path / "j", flush_interval_s=10, batch_size=1000, max_buffer=5)
    for record in records(6):
        log.record(record)
    assert log.pending == 0 and journal_lines(tmp_path / "j") == 6
    flaky.healthy = True
    await log.drain()
    assert log.replayed == 6 and journal_lines(tmp_path / "j") == 0
    await log.close()
    await real.close()


async def test_a_record_too_deep_to_serialise_is_quarantined_and_blocks_nothing(tmp_path) -> None:
    """Why 1: a transcript nested >= 251 deep stopped request logging for every tenant."""
    store = SqliteDocumentStore(tmp_path / "s.sqlite3")
    log = RequestLog(store, journal_dir=tmp_path / "j", flush_interval_s=0.02, batch_size=50)
    await log.start()
    log.record(records(1, tenant="fabrikam")[0])
    poison = {"id": "poison", "tenant_id": "fabrikam", "status": 200,
              "transcript": {"messages": [{"role": "user", "content": nested(251)}], "completion": "ok"}}
    log.record(poison)  # type: ignore[arg-type]
    for record in records(50, start=1):
        log.record(record)
    await asyncio.sleep(0.3)
    assert log.dead_lettered == 1 and log.pending == 0 and log.written == 51
    assert len(await store.query("request_log", {"tenant_id": "contoso"})) == 50
    letters = [orjson.loads(line) for line in (tmp_path / "j" / DEAD_LETTER).read_bytes().splitlines()]
    assert [(d["id"], d["tenant_id"]) for d in letters] == [("poison", "fabrikam")]
    assert "serialised" in letters[0]["error"]
    await log.close()  # the shutdown is clean too
    await store.close()


async def test_a_record_the_store_refuses_is_quarantined_and_the_rest_of_its_batch_written(tmp_path) -> None:
    real = SqliteDocumentStore(tmp_path / "s.sqlite3")
    log = RequestLog(PickyStore(real, "r3"), journal_dir=tmp_path / "j", flush_interval_s=10, batch_size=10)
    for record in records(8):
        log.record(record)
    await log.flush()
    assert log.dead_lettered == 1 and log.pending == 0 and log.written == 7
    assert "too large" in orjson.loads((tmp_path / "j" / DEAD_LETTER).read_bytes())["error"]
    await log.close()
    assert journal_lines(tmp_path / "j") == 0
    await real.close()
