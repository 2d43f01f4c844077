"""Local telemetry files rotate by size and age; request-log records carry the retention TTL."""

from __future__ import annotations

import asyncio
import json
import os

from shared.config import Settings
from shared.observability.rotation import RotatingFile
from shared.observability.telemetry import setup_telemetry
from shared.request_log import RequestLog
from shared.store.sqlite import SqliteDocumentStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_file_rotates_before_it_passes_its_size_and_keeps_whole_lines(tmp_path) -> None:
    out = RotatingFile(tmp_path / "metrics.jsonl", max_bytes=200, max_age_s=3600, backups=2)
    for index in range(40):
        out.write(json.dumps({"i": index, "pad": "x" * 20}) + "\n")
    out.flush()
    files = out.files()
    assert [p.name for p in files] == ["metrics.jsonl", "metrics.jsonl.1", "metrics.jsonl.2"]
    assert all(p.stat().st_size <= 200 for p in files)
    lines = [json.loads(line) for p in reversed(files) for line in p.read_text().splitlines()]
    assert [doc["i"] for doc in lines] == list(range(40 - len(lines), 40))  # the newest kept, in order, whole
    out.close()


def test_a_file_rotates_when_it_gets_old(tmp_path) -> None:
    clock = Clock()
    out = RotatingFile(tmp_path / "spans.jsonl", max_bytes=1 << 20, max_age_s=60, backups=1, clock=clock)
    out.write("first\n")
    clock.now += 59
    out.write("second\n")
    assert len(out.files()) == 1
    clock.now += 2
    out.write("third\n")
    assert (tmp_path / "spans.jsonl").read_text() == "third\n"
    assert (tmp_path / "spans.jsonl.1").read_text() == "first\nsecond\n"
    out.close()


def test_a_stale_file_from_an_earlier_run_rotates_on_its_first_write(tmp_path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text("old\n")
    os.utime(path, (1000.0, 1000.0))
    out = RotatingFile(path, max_bytes=1 << 20, max_age_s=60, backups=0)
    out.write("new\n")
    out.flush()
    assert path.read_text() == "new\n" and out.files() == [path]
    out.close()


def test_the_local_exporters_write_through_rotating_files(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, telemetry_local_exporter="file", telemetry_max_bytes=2048,
                        telemetry_backups=1)
    telemetry = setup_telemetry(settings)
    for index in range(30):
        span = telemetry.start_chat_span("gpt-4o-mini", 0)
        telemetry.record_request(span, {"id": f"r{index}", "status": 200, "deployment": "gpt-4o-mini"})
    telemetry.shutdown()
    spans = sorted(p.name for p in settings.telemetry_dir.iterdir() if p.name.startswith("spans"))
    assert spans == ["spans.jsonl", "spans.jsonl.1"]
    assert all(p.stat().st_size <= 2048 for p in settings.telemetry_dir.iterdir())


async def test_request_log_records_carry_the_retention_ttl(tmp_path) -> None:
    store = SqliteDocumentStore(tmp_path / "s.sqlite3")
    log = RequestLog(store, journal_dir=tmp_path / "journal", flush_interval_s=0.02, ttl_s=90 * 86400)
    await log.start()
    log.record({"id": "kept", "tenant_id": "contoso", "status": 200})
    short = RequestLog(store, journal_dir=tmp_path / "journal2", flush_interval_s=0.02, ttl_s=1)
    short.record({"id": "expires", "tenant_id": "contoso", "status": 200})
    await log.close()
    await short.close()
    stored = await store.get("request_log", "kept", "contoso")
    assert stored is not None and stored["ttl"] == 90 * 86400
    await asyncio.sleep(1.2)
    assert await store.get("request_log", "expires", "contoso") is None  # past its retention
    assert Settings().request_log_ttl_days == 90
    await store.close()


def test_breaker_states_go_to_the_metrics_file_and_back_to_the_dashboard(tmp_path) -> None:
    from llmops.dashboard.app import breakers_from_telemetry
    from shared.routing.breaker import BreakerBoard

    board = BreakerBoard(threshold=1, open_s=60)
    board.get("gpt-4o-mini").success()
    board.get("gpt-4o").failure()
    settings = Settings(data_dir=tmp_path, telemetry_local_exporter="file")
    telemetry = setup_telemetry(settings)
    telemetry.observe_breakers(board.states)
    telemetry.shutdown()  # collects and exports the gauges once more
    assert breakers_from_telemetry(settings.telemetry_dir) == {"gpt-4o-mini": "closed", "gpt-4o": "open"}
    assert breakers_from_telemetry(tmp_path / "nowhere") == {}


def test_host_gpus_are_read_from_nvidia_smi(tmp_path, monkeypatch) -> None:
    from llmops.dashboard.app import host_gpus

    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho '0, 37, 40960, 143771'\necho '1, 0, 0, 143771'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    gpus = host_gpus(5.0)
    assert [(g["gpu"], g["util"], round(g["memory"], 1)) for g in gpus] == [(0, 37.0, 28.5), (1, 0.0, 0.0)]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert host_gpus(5.0) == []
