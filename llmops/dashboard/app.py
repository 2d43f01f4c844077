"""The dashboard's data and web app: ``load_payload`` reads the local stores (request log, feedback,
business events, training runs, monitor results) and the telemetry directory; ``dashboard_app`` serves
the live page, its ``data.json``, Chart.js and one page per request (its story); ``write_report``
writes the self-contained file ``llmops report`` shares."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from llmops.cli.trace import find_story
from llmops.dashboard.page import CHART_JS, render_page, render_story_page
from llmops.dashboard.series import Sources, figures
from shared.config import Settings
from shared.observability.names import LLMOPS_DEPLOYMENT, METRIC_BREAKER_STATE
from shared.observability.story import azure_links, request_story
from shared.store import DocumentStore, Filter

MAX_REQUESTS = 20_000


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


async def load_sources(store: DocumentStore, since_s: float, now: float | None = None) -> Sources:
    until = time.time() if now is None else now
    since = until - since_s
    recent = [Filter("ts", ">=", since)]
    requests = await store.query("request_log", recent, order_by="ts", descending=True, limit=MAX_REQUESTS)
    return Sources(since, until, requests=requests,
                   feedback=await store.query("feedback", [Filter("created_at", ">=", _iso(since))]),
                   events=await store.query("business_events", recent),
                   monitors=await store.query("monitor_results", recent),
                   training_runs=await store.query("training_runs", [Filter("submitted_at", ">=", since)]))


def breakers_from_telemetry(directory: Path, tail_bytes: int = 256 * 1024) -> dict[str, str]:
    """The last circuit-breaker states the local metrics file holds (another process's, e.g. ``llmops dev``)."""
    path = directory / "metrics.jsonl"
    if not path.is_file():
        return {}
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - tail_bytes))
        lines = handle.read().splitlines()
    names = {0: "closed", 1: "half_open", 2: "open"}
    states: dict[str, str] = {}
    for line in lines:
        try:
            export = json.loads(line)
        except ValueError:  # the first line of the tail may be cut
            continue
        for resource in export.get("resource_metrics", ()):
            for scope in resource.get("scope_metrics", ()):
                for metric in scope.get("metrics", ()):
                    if metric.get("name") == METRIC_BREAKER_STATE:
                        for point in metric.get("data", {}).get("data_points", ()):
                            alias = point.get("attributes", {}).get(LLMOPS_DEPLOYMENT)
                            if alias:
                                states[alias] = names.get(int(point.get("value", 0)), "closed")
    return states


def poison_entries(data_dir: Path, since: float) -> list[dict[str, Any]]:
    """Messages the local event runtime moved to ``<data_dir>/queues/<queue>-poison.jsonl``."""
    entries = []
    for path in sorted((data_dir / "queues").glob("*-poison.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                at = datetime.fromisoformat(json.loads(line)["at"]).timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            if at >= since:
                entries.append({"queue": path.name.removesuffix(".jsonl"), "ts": at})
    return entries


def host_gpus(now: float) -> list[dict[str, Any]]:
    """Utilisation and memory of this host's NVIDIA GPUs (``nvidia-smi``); none without a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        done = subprocess.run([smi, "--query-gpu=index,utilization.gpu,memory.used,memory.total",
                               "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5,
                              check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in done.stdout.splitlines():
        try:
            index, util, used, total = (float(v) for v in line.split(","))
        except ValueError:
            continue
        gpus.append({"ts": now, "gpu": int(index), "util": util, "memory": 100.0 * used / total if total else 0.0})
    return gpus


def telemetry_files(directory: Path) -> list[dict[str, Any]]:
    if not directory.is_dir():
        return []
    return [{"file": p.name, "bytes": p.stat().st_size} for p in sorted(directory.iterdir()) if p.is_file()]


def _range(seconds: float) -> str:
    return f"last {seconds / 3600:g} h" if seconds >= 3600 else f"last {seconds / 60:g} min"


Breakers = Callable[[], Mapping[str, str]]


async def load_payload(store: DocumentStore, settings: Settings, since_s: float,
                       breakers: Breakers | None = None) -> dict[str, Any]:
    sources = await load_sources(store, since_s)
    sources.poison = poison_entries(settings.data_dir, sources.since)
    sources.gpus = host_gpus(sources.until)
    sources.breakers = dict(breakers() if breakers else breakers_from_telemetry(settings.telemetry_dir))
    return {"generated_at": time.strftime("%H:%M:%S"), "range": _range(since_s), "figures": figures(sources),
            "telemetry": telemetry_files(settings.telemetry_dir)}


def dashboard_app(store: DocumentStore, settings: Settings, *, since_s: float = 6 * 3600,
                  refresh_ms: int = 5000, breakers: Breakers | None = None) -> Starlette:
    """The live dashboard over an open store (the caller opens and closes it); ``breakers``: the gateway's
    own breaker states when it runs in this process, else they are read from the local metrics file."""

    async def page(request: Request) -> Response:
        return HTMLResponse(render_page(await load_payload(store, settings, since_s, breakers), live=True,
                                        refresh_ms=refresh_ms))

    async def data(request: Request) -> Response:
        payload = await load_payload(store, settings, since_s, breakers)
        return JSONResponse(payload, headers={"cache-control": "no-store"})

    async def chart_js(request: Request) -> Response:
        return FileResponse(CHART_JS, media_type="text/javascript")

    async def story(request: Request) -> Response:
        request_id = request.path_params["request_id"]
        found = await find_story(store, request_id)
        if found is None:
            return HTMLResponse(f"<p>No request {html.escape(request_id)!r} in the request log.</p>", status_code=404)
        record, feedback, events = found
        links = azure_links(record["id"], record.get("trace_id"), workspace_resource_id=settings.monitor_workspace_id,
                            workbook_url=settings.monitor_workbook_url)
        return HTMLResponse(render_story_page(request_id, request_story(record, feedback=feedback, events=events),
                                              links))

    return Starlette(routes=[Route("/", page), Route("/data.json", data), Route("/static/chart.umd.min.js", chart_js),
                             Route("/requests/{request_id}", story)])


async def write_report(store: DocumentStore, settings: Settings, output: Path, since_s: float) -> int:
    """One self-contained HTML file; returns how many panels hold data."""
    payload = await load_payload(store, settings, since_s)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_page(payload, live=False), encoding="utf-8")
    return sum(1 for f in payload["figures"] if f["data"].get("rows") or any(
        v is not None for d in f["data"].get("datasets", []) for v in d["data"]))
