"""The local dashboard's figures: for each panel of ``shared.observability.panels.PANELS``, the same
figure its KQL computes in Azure, computed from the local request log, feedback, business events,
training runs and monitor results (``Sources``).

Every function returns chart data in one shape: ``{"labels": [...], "datasets": [{"label", "data"}]}``
for charts and ``{"columns": [...], "rows": [[...]]}`` for tables.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.business.events import COMPLETION_TYPES
from shared.monitoring.definitions import MONITORS
from shared.observability.panels import PANELS, monitor_panel_key

Row = Mapping[str, Any]
Chart = dict[str, Any]
BUCKETS = 24
_NICE_S = (60, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400)


@dataclass
class Sources:
    since: float
    until: float
    requests: list[Row] = field(default_factory=list)
    feedback: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    monitors: list[Row] = field(default_factory=list)
    training_runs: list[Row] = field(default_factory=list)
    breakers: dict[str, str] = field(default_factory=dict)  # this host's circuit breakers, by deployment
    poison: list[Row] = field(default_factory=list)  # poison-queue entries of the local event runtime
    gpus: list[Row] = field(default_factory=list)  # this host's GPUs now (nvidia-smi): ts, gpu, util, memory

    @property
    def bucket_s(self) -> int:
        span = max(60.0, self.until - self.since)
        return next((b for b in _NICE_S if span / b <= BUCKETS), _NICE_S[-1])


def _label(epoch: float, bucket_s: int) -> str:
    return time.strftime("%m-%d %H:%M" if bucket_s >= 3600 else "%H:%M", time.localtime(epoch))


def timeseries(src: Sources, rows: Iterable[Row], series_of: Callable[[Row], str | None],
               value_of: Callable[[Row], float | None] = lambda _: 1.0,
               reduce: Callable[[list[float]], float] = sum, ts_of: Callable[[Row], float] = lambda r: float(r["ts"]),
               ) -> Chart:
    """Rows bucketed by time and split into series; buckets span ``src.since`` .. ``src.until``."""
    bucket = src.bucket_s
    first = int(src.since // bucket) * bucket
    starts = list(range(first, int(src.until) + 1, bucket))
    values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        name, value = series_of(row), value_of(row)
        if name is None or value is None:
            continue
        values[name][(int(ts_of(row)) - first) // bucket].append(float(value))
    datasets = [{"label": name, "data": [round(reduce(by[i]), 6) if by.get(i) else None for i in range(len(starts))]}
                for name, by in sorted(values.items())]
    return {"labels": [_label(s, bucket) for s in starts], "datasets": datasets}


def _pct(q: float) -> Callable[[list[float]], float]:
    return lambda values: float(np.percentile(values, q))


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _chat(src: Sources) -> list[Row]:
    return [r for r in src.requests if r.get("operation", "chat") == "chat"]


def _split(src: Sources, field_name: str) -> Chart:
    rows = [r for r in _chat(src) if r.get(field_name) is not None]
    p50 = timeseries(src, rows, lambda _: "p50", lambda r: r[field_name], _pct(50))
    p95 = timeseries(src, rows, lambda _: "p95", lambda r: r[field_name], _pct(95))
    return {"labels": p50["labels"], "datasets": p50["datasets"] + p95["datasets"]}


def _table(columns: list[str], rows: Iterable[list[Any]]) -> Chart:
    return {"columns": columns, "rows": [[round(v, 6) if isinstance(v, float) else v for v in row] for row in rows]}


def _usage(row: Row, key: str) -> int:
    return int((row.get("usage") or {}).get(key) or 0)


def requests_by_status(src: Sources) -> Chart:
    return timeseries(src, src.requests, lambda r: str(r.get("outcome") or "unknown"))


def latency(src: Sources) -> Chart:
    return _split(src, "latency_ms")


def overhead(src: Sources) -> Chart:
    return _split(src, "overhead_ms")


def time_to_first_token(src: Sources) -> Chart:
    rows = [r for r in src.requests if r.get("ttft_ms") is not None]
    mean = timeseries(src, rows, lambda _: "mean_ms", lambda r: r["ttft_ms"], _mean)
    peak = timeseries(src, rows, lambda _: "max_ms", lambda r: r["ttft_ms"], max)
    return {"labels": mean["labels"], "datasets": mean["datasets"] + peak["datasets"]}


def tokens_per_second(src: Sources) -> Chart:
    rows = [r for r in _chat(src) if float(r.get("latency_ms") or 0) > 0 and r.get("usage")]
    return timeseries(src, rows, lambda _: "tokens_per_second",
                      lambda r: 1000.0 * _usage(r, "completion_tokens") / float(r["latency_ms"]), _mean)


def latency_by_deployment(src: Sources) -> Chart:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in _chat(src):
        groups[str(row.get("deployment") or "-")].append(row)
    rows = [[name, len(rs), _pct(50)([float(r.get("latency_ms") or 0) for r in rs]),
             _pct(95)([float(r.get("latency_ms") or 0) for r in rs]),
             _pct(95)([float(r.get("overhead_ms") or 0) for r in rs])] for name, rs in groups.items()]
    return _table(["deployment", "requests", "p50", "p95", "overhead_p95"], sorted(rows, key=lambda r: -r[1]))


def errors_and_429s(src: Sources) -> Chart:
    def series(row: Row) -> str | None:
        code = int(row.get("status") or 0)
        if row.get("limit_kind"):
            return f"429 limit: {row['limit_kind']}"
        if code == 429:
            return "429 returned"
        return f"{code} {row.get('outcome')}" if code >= 400 or row.get("outcome") not in (None, "ok") else None

    return timeseries(src, src.requests, series)


def poison_messages(src: Sources) -> Chart:
    return timeseries(src, src.poison, lambda p: str(p["queue"]), ts_of=lambda p: float(p["ts"]))


def serving_gpu(src: Sources) -> Chart:
    util = timeseries(src, src.gpus, lambda g: f"GpuUtilizationPercentage {g['gpu']}", lambda g: g["util"], max)
    memory = timeseries(src, src.gpus, lambda g: f"GpuMemoryUtilizationPercentage {g['gpu']}",
                        lambda g: g["memory"], max)
    return {"labels": util["labels"], "datasets": util["datasets"] + memory["datasets"]}


def breaker_state(src: Sources) -> Chart:
    levels = {"closed": 0, "half_open": 1, "open": 2}
    return _table(["deployment", "instance", "state", "at"],
                  [[alias, "local", levels.get(state, 0), state] for alias, state in sorted(src.breakers.items())])


def _pie(counts: Mapping[str, float], label: str) -> Chart:
    names = sorted(counts, key=lambda k: -counts[k])
    return {"labels": names, "datasets": [{"label": label, "data": [round(counts[k], 6) for k in names]}]}


def routing_split(src: Sources) -> Chart:
    counts: dict[str, float] = defaultdict(float)
    for row in src.requests:
        if row.get("deployment"):
            counts[f"{row.get('tier') or '-'} / {row['deployment']}"] += 1
    return _pie(counts, "requests")


def tokens_by_deployment(src: Sources) -> Chart:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in _chat(src):
        totals = sums[str(row.get("deployment") or "-")]
        totals[0] += _usage(row, "prompt_tokens")
        totals[1] += _usage(row, "cached_tokens")
        totals[2] += _usage(row, "completion_tokens")
    rows = sorted(([name, *values] for name, values in sums.items()), key=lambda r: -(r[1] + r[3]))
    return _table(["deployment", "input", "cached_input", "output"], rows)


def output_length(src: Sources) -> Chart:
    counts: dict[int, int] = defaultdict(int)
    for row in _chat(src):
        if row.get("usage"):
            counts[_usage(row, "completion_tokens") // 50 * 50] += 1
    buckets = sorted(counts)
    return {"labels": [f"{b}-{b + 49}" for b in buckets], "datasets": [{"label": "answers",
                                                                       "data": [counts[b] for b in buckets]}]}


def cache_hit_rate(src: Sources) -> Chart:
    rows = [r for r in src.requests if r.get("cache") and r["cache"] not in ("off", "bypass", "not-cacheable")]
    return timeseries(src, rows, lambda _: "hit_rate_percent",
                      lambda r: 100.0 if str(r["cache"]).startswith("hit") else 0.0, _mean)


def cache_precision(src: Sources) -> Chart:
    rows = [f for f in src.feedback if str(f.get("cache") or "").startswith("hit") and f.get("score") is not None]
    return timeseries(src, rows, lambda f: str(f["cache"]), lambda f: float(f["score"]), _mean, ts_of=_doc_ts)


def guardrail_violations(src: Sources) -> Chart:
    verdicts = [{"ts": r["ts"], **v} for r in src.requests for v in r.get("guardrails") or ()
                if isinstance(v, Mapping) and v.get("action") in ("block", "redact", "flag")]
    return timeseries(src, verdicts, lambda v: f"{v.get('stage')}: {v.get('check')}")


def topic_adherence(src: Sources) -> Chart:
    verdicts = [{"ts": r["ts"], **v} for r in src.requests for v in r.get("guardrails") or ()
                if isinstance(v, Mapping) and v.get("check") == "topics"]
    return timeseries(src, verdicts, lambda _: "adherence_percent",
                      lambda v: 100.0 if v.get("action") == "pass" else 0.0, _mean)


def cost_by_deployment(src: Sources) -> Chart:
    rows = [r for r in src.requests if r.get("cost_usd")]
    return timeseries(src, rows, lambda r: str(r.get("deployment") or "-"), lambda r: float(r["cost_usd"]))


def _doc_ts(row: Row) -> float:
    """Documents with ``ts``, or only an ISO 8601 UTC ``created_at`` (feedback)."""
    if row.get("ts"):
        return float(row["ts"])
    return float(calendar.timegm(time.strptime(str(row["created_at"])[:19], "%Y-%m-%dT%H:%M:%S")))


def feedback_score(src: Sources) -> Chart:
    rows = [f for f in src.feedback if f.get("score") is not None]
    return timeseries(src, rows, lambda f: str(f.get("deployment") or "-"), lambda f: float(f["score"]), _mean,
                      ts_of=_doc_ts)


def business_events(src: Sources) -> Chart:
    return timeseries(src, src.events, lambda e: str(e["type"]), ts_of=_doc_ts)


def task_completion(src: Sources) -> Chart:
    per_app: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for row in src.requests:
        if row.get("app_id"):
            per_app[str(row["app_id"])][0] += 1
    for event in src.events:
        totals = per_app[str(event.get("app_id") or "-")]
        if event["type"] in COMPLETION_TYPES:
            totals[1] += 1
            totals[3] += float(event.get("cost_usd") or 0.0)
        elif event["type"] == "escalated_to_human":
            totals[2] += 1
    rows = [[app, int(t[0]), int(t[1]), int(t[2]), t[3] / t[1] if t[1] else 0.0] for app, t in per_app.items()]
    return _table(["app", "requests", "completed", "escalated", "cost_per_completed_task"],
                  sorted(rows, key=lambda r: -r[2]))


def satisfaction(src: Sources) -> Chart:
    scores: dict[str, list[float]] = defaultdict(list)
    for doc in src.feedback:
        if doc.get("score") is not None:
            scores[str(doc.get("request_app_id") or doc.get("app_id") or "-")].append(float(doc["score"]))
    rows = [[app, len(s), _mean(s), sum(1 for v in s if v < 0.5)] for app, s in scores.items()]
    return _table(["app", "feedback", "satisfaction", "unhappy"], sorted(rows, key=lambda r: -r[1]))


def retraining_runs(src: Sources) -> Chart:
    return timeseries(src, src.training_runs, lambda r: str(r.get("status") or "unknown"),
                      ts_of=lambda r: float(r.get("submitted_at") or r.get("_ts") or 0))


def request_story(src: Sources) -> Chart:
    recent = sorted(src.requests, key=lambda r: -float(r["ts"]))[:25]
    return _table(["request", "received", "app", "deployment", "status", "cache", "latency_ms", "cost_usd"], [
        [r["id"], str(r.get("created_at") or ""), r.get("app_id") or "-", r.get("deployment") or "-",
         int(r.get("status") or 0), r.get("cache") or "-", float(r.get("latency_ms") or 0.0),
         float(r.get("cost_usd") or 0.0)] for r in recent])


def _monitor(key: str) -> Callable[[Sources], Chart]:
    def chart(src: Sources) -> Chart:
        rows = [r for r in src.monitors if r.get("monitor") == key]  # no_data runs at 0, as the metric has them
        return timeseries(src, rows, lambda r: f"{r.get('app_id')}: {r['status']}",
                          lambda r: float(r.get("value") or 0.0), max)

    return chart


SERIES: dict[str, Callable[[Sources], Chart]] = {
    "requests-by-status": requests_by_status,
    "latency-p50-p95": latency,
    "gateway-overhead": overhead,
    "time-to-first-token": time_to_first_token,
    "tokens-per-second": tokens_per_second,
    "latency-by-deployment": latency_by_deployment,
    "cache-precision": cache_precision,
    "errors-and-429s": errors_and_429s,
    "breaker-state": breaker_state,
    "poison-messages": poison_messages,
    "serving-gpu": serving_gpu,
    "routing-split": routing_split,
    "tokens-by-deployment": tokens_by_deployment,
    "output-length": output_length,
    "cache-hit-rate": cache_hit_rate,
    "guardrail-violations-by-check": guardrail_violations,
    "topic-adherence": topic_adherence,
    "cost-by-deployment": cost_by_deployment,
    "feedback-score": feedback_score,
    "business-events": business_events,
    "task-completion-by-app": task_completion,
    "satisfaction-by-app": satisfaction,
    "retraining-runs": retraining_runs,
    "request-story": request_story,
    **{monitor_panel_key(m.key): _monitor(m.key) for m in MONITORS},
}
assert set(SERIES) == {p.key for p in PANELS}, "every panel has a local figure, and only panels do"


def figures(src: Sources) -> list[dict[str, Any]]:
    """Every panel, in the definition's order, with its data."""
    return [{"key": p.key, "title": p.title, "level": p.level, "chart": p.chart, "data": SERIES[p.key](src)}
            for p in PANELS]
