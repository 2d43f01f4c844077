"""Shared pieces of the benchmarks: start the simulator and a gateway process, issue a key, drive load
with ``hey`` and summarise its per-request CSV."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import os
import random
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


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server that forks workers is measured whole)."""
    out, queue = [], [pid]
    while queue:
        current = queue.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its descendants (from ``/proc``)."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of one process in MiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


_SUPPORT = REPO / "data" / "guardrails" / "benign_support_prompts.jsonl"


@functools.cache
def _support_prompts() -> tuple[str, ...]:
    return tuple(json.loads(line)["text"] for line in _SUPPORT.read_text().splitlines() if line.strip())


def distinct_prompt(index: int, size: int = 1024) -> str:
    """A support request of about ``size`` characters, different for every ``index``: ordinary CRM and
    mobile-app requests (``data/guardrails``) joined into one message, as a user pastes a case."""
    pool = _support_prompts()
    rng = random.Random(index)
    parts = [f"Case {index}:"]
    while sum(len(p) + 1 for p in parts) < size:
        text = rng.choice(pool).strip()
        parts.append(text if text[-1:] in ".?!" else text + ".")
    return " ".join(parts)


def save(name: str, payload: dict) -> Path:
    path = REPO / "bench" / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "load_average": [round(x, 2) for x in os.getloadavg()], **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


__all__ = ["SIMULATOR_KEY", "LoadResult", "cpu_seconds", "distinct_prompt", "free_port", "gateway_env", "hey",
           "issue_key", "process", "process_tree", "python_command", "rss_mb", "save"]
