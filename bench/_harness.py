"""Shared pieces of the benchmarks: start the simulator and a gateway process, issue a key, drive load
with ``hey`` and summarise its per-request CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llmops.devhost import SIMULATOR_KEY, local_deployments  # noqa: E402
from shared.retraining.contract.metrics import percentile  # noqa: E402
from tests.support.services import free_port, running_process  # noqa: E402


@dataclass
class LoadResult:
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def row(self) -> str:
        return (f"{self.rps:>9.0f} {self.p50_ms:>8.2f} {self.p95_ms:>8.2f} {self.p99_ms:>8.2f} "
                f"{self.errors:>6d}/{self.requests}")


def hey(url: str, *, requests: int, concurrency: int, body: bytes, headers: dict[str, str]) -> LoadResult:
    if shutil.which("hey") is None:
        raise SystemExit("this benchmark drives load with `hey`: apt-get install hey")
    body_file = Path(f"/tmp/llmops-bench-body-{os.getpid()}.json")
    body_file.write_bytes(body)
    command = ["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST", "-T", "application/json",
               "-D", str(body_file), "-o", "csv"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    latencies = [float(r["response-time"]) * 1000 for r in rows]
    starts = [float(r["offset"]) for r in rows]
    ends = [s + lat / 1000 for s, lat in zip(starts, latencies, strict=True)]
    errors = sum(1 for r in rows if r["status-code"] != "200")
    duration = max(ends) - min(starts)
    return LoadResult(len(rows), errors, len(rows) / duration, percentile(latencies, 50),
                      percentile(latencies, 95), percentile(latencies, 99))


def python_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "llmops", *args]


def process(command: list[str], port: int, env: dict[str, str] | None = None):
    return running_process(command, port, env=env, cwd=REPO)


def gateway_env(data_dir: Path, simulator_url: str, **extra: str) -> dict[str, str]:
    return {
        "LLMOPS_DATA_DIR": str(data_dir),
        "LLMOPS_STORE": "sqlite",
        "LLMOPS_DEPLOYMENTS_JSON": json.dumps(local_deployments(simulator_url)),
        "LLMOPS_DEFAULT_DEPLOYMENT": "gpt-4o-mini",
        "LLMOPS_TELEMETRY_LOCAL_EXPORTER": "file",
        **extra,
    }


def issue_key(data_dir: Path, tenant: str = "bench", app: str = "load", policy: dict | None = None) -> str:
    from shared.auth import KeyService
    from shared.store.sqlite import SqliteDocumentStore
    from shared.tenants import TenantDirectory

    async def main() -> str:
        store = SqliteDocumentStore(data_dir / "llmops.sqlite3")
        await store.open()
        tenants = TenantDirectory(store)
        await tenants.ensure_app(tenant, app, policy=policy)
        key = (await KeyService(store, tenants).create_key(tenant, app)).key
        await store.close()
        return key

    return asyncio.run(main())


def save(name: str, payload: dict) -> Path:
    path = REPO / "bench" / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


__all__ = ["SIMULATOR_KEY", "LoadResult", "free_port", "gateway_env", "hey", "issue_key", "process",
           "python_command", "save"]
