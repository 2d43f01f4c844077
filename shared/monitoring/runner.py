"""Runs every monitor for every app on a schedule (the ``drift_monitors`` timer function in Azure, the
local event runtime's timer in ``llmops dev``): reads the current and reference windows from the
request log and feedback, embeds prompts and answers for topic drift, and for each result stores a
``monitor_results`` document (the event: what moved, example request ids), records the
``llmops.monitor.value`` metric and counts alarms in ``llmops.monitor.alarms``.

Prompts and answers are in the request log only for apps whose feedback policy retains transcripts;
for the others topic drift reports ``no_data``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.embeddings.port import Embedder
from shared.monitoring.definitions import ALARM
from shared.monitoring.monitors import Window, run_all
from shared.monitoring.policy import MonitorPolicy, MonitorPolicyError, monitor_policy
from shared.observability import names as n
from shared.observability.telemetry import Telemetry
from shared.store import DocumentStore, Filter
from shared.tenants import effective_policy

log = logging.getLogger(__name__)
CONTAINER = "monitor_results"


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(iso: str | None) -> float:
    if not iso:
        return 0.0
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def texts_of(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """(last user message, answer) of a record that kept its transcript."""
    transcript = record.get("transcript") or {}
    users = [m for m in transcript.get("messages") or [] if isinstance(m, Mapping) and m.get("role") == "user"]
    completion = transcript.get("completion")
    if not users or not completion:
        return None
    content = users[-1].get("content")
    text = content if isinstance(content, str) else " ".join(
        str(part.get("text", "")) for part in content or [] if isinstance(part, Mapping))
    return text[:2000], str(completion)[:2000]


async def embed_window(window: Window, embedder: Embedder, max_texts: int) -> None:
    pairs = [(str(r["id"]), texts) for r in window.requests if (texts := texts_of(r)) is not None][-max_texts:]
    if not pairs:
        return
    window.vector_ids = [request_id for request_id, _ in pairs]
    window.prompt_vectors = await embedder.embed([prompt for _, (prompt, _) in pairs])
    window.answer_vectors = await embedder.embed([answer for _, (_, answer) in pairs])


class MonitorRunner:
    def __init__(self, store: DocumentStore, telemetry: Telemetry | None,
                 embedder: Callable[[], Embedder | None], *, window_s: float, reference_s: float) -> None:
        self._store = store
        self._telemetry = telemetry
        self._embedder = embedder
        self.window_s = window_s
        self.reference_s = reference_s

    async def windows(self, tenant_id: str, app_id: str, now: float) -> tuple[Window, Window]:
        split, start = now - self.window_s, now - self.window_s - self.reference_s
        current, reference = Window(split, now), Window(start, split)
        records = await self._store.query("request_log", [
            Filter("tenant_id", "=", tenant_id), Filter("app_id", "=", app_id), Filter("ts", ">=", start),
            Filter("ts", "<", now)], order_by="ts")
        for record in records:
            (current if float(record["ts"]) >= split else reference).requests.append(record)
        feedback = await self._store.query("feedback", [
            Filter("tenant_id", "=", tenant_id), Filter("created_at", ">=", _iso(start))])
        for doc in feedback:
            if (doc.get("request_app_id") or doc.get("app_id")) != app_id:
                continue
            at = _epoch(doc.get("created_at"))
            if start <= at < now:
                (current if at >= split else reference).feedback.append(doc)
        return current, reference

    async def run_app(self, tenant_id: str, app_id: str, policy: MonitorPolicy, now: float) -> list[dict[str, Any]]:
        current, reference = await self.windows(tenant_id, app_id, now)
        embedder = self._embedder() if "topic_drift" not in policy.off else None
        if embedder is not None:
            limit = int(policy.thresholds.get("topic_drift", {}).get("max_texts", 400))
            await embed_window(current, embedder, limit)
            await embed_window(reference, embedder, limit)
        docs = []
        for result in run_all(current, reference, policy.thresholds):
            if result.monitor in policy.off:
                continue
            doc = {**result.to_doc(), "id": f"{result.monitor}.{tenant_id}.{app_id}.{int(now)}",
                   "tenant_id": tenant_id, "app_id": app_id, "window_start": current.start, "window_end": now,
                   "reference_start": reference.start, "ts": now, "created_at": _iso(now)}
            await self._store.upsert(CONTAINER, doc)
            self.emit(doc)
            docs.append(doc)
        return docs

    def emit(self, doc: Mapping[str, Any]) -> None:
        dims = {n.LLMOPS_MONITOR: doc["monitor"], n.LLMOPS_MONITOR_STATUS: doc["status"]}
        if self._telemetry is not None:  # a no_data run is plotted at 0 under its own status: seen, never an alarm
            self._telemetry.histogram(n.METRIC_MONITOR_VALUE, float(doc.get("value") or 0.0), dims)
        if doc["status"] == ALARM:
            if self._telemetry is not None:
                self._telemetry.count(n.METRIC_MONITOR_ALARMS, 1, {n.LLMOPS_MONITOR: doc["monitor"]})
            log.warning("monitor %s alarmed for %s/%s: %s; examples %s", doc["monitor"], doc["tenant_id"],
                        doc["app_id"], doc["moved"], ", ".join(doc["examples"]),
                        extra={n.LLMOPS_MONITOR: doc["monitor"], n.LLMOPS_TENANT: doc["tenant_id"],
                               n.LLMOPS_APP: doc["app_id"]})

    async def run(self, tenants: Sequence[Mapping[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
        """Every app of every tenant; an app with a broken monitors policy runs on the defaults."""
        now = time.time() if now is None else now
        docs: list[dict[str, Any]] = []
        for tenant in tenants:
            for app_id in sorted(tenant.get("apps") or {}):
                try:
                    policy = monitor_policy(effective_policy(dict(tenant), app_id))
                except MonitorPolicyError as exc:
                    log.warning("%s/%s: %s; using the default thresholds", tenant["id"], app_id, exc)
                    policy = MonitorPolicy()
                docs.extend(await self.run_app(str(tenant["id"]), app_id, policy, now))
        return docs
