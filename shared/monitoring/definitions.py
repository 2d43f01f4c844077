"""The monitors, defined once: the timer runs them (``shared.monitoring.monitors``), the Pulumi program
makes one alert rule per monitor (``infra.monitor_alerts``), and the workbook and the local dashboard
draw one panel per monitor (``shared.observability.panels``).

Each monitor compares a window of the request log and feedback with a reference window before it
and reports ``ok``, ``alarm`` or ``no_data`` (too little traffic on either side: never an alarm).
Thresholds are defaults; an app overrides them in its policy's ``monitors`` section
(``shared.monitoring.policy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Level = Literal["infrastructure", "model", "business"]
OK, ALARM, NO_DATA = "ok", "alarm", "no_data"


@dataclass(frozen=True)
class MonitorDefinition:
    key: str
    title: str
    level: Level
    statistic: str  # what ``value`` is, with its unit
    thresholds: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))


def _define(key: str, title: str, level: Level, statistic: str, **thresholds: float) -> MonitorDefinition:
    return MonitorDefinition(key, title, level, statistic, MappingProxyType(thresholds))


# min_samples: requests (or feedback) each window needs; z: the test statistic an alarm needs;
# min_delta / min_drop: the smallest change of a rate or score that matters; rise: relative increase.
MONITORS: tuple[MonitorDefinition, ...] = (
    _define("topic_drift", "Topic drift of prompts and answers", "model",
            "PSI over the reference's topic clusters (prompts and answers, the larger)",
            psi=0.25, z=3.7, centroid=0.1, clusters=8, min_samples=30, max_texts=400),
    _define("refusal_rate", "Refusal rate change", "model", "share of answers that refuse or are blocked",
            min_delta=0.05, z=3.0, min_samples=30),
    _define("feedback_score", "Feedback score trend", "business", "mean feedback score (0..1)",
            min_drop=0.1, z=3.0, min_samples=10),
    _define("cost_per_request", "Cost per request", "business", "mean cost of a successful request (USD)",
            rise=0.5, z=3.0, min_samples=30),
    _define("tokens_per_request", "Tokens per request", "model", "mean total tokens of a successful request",
            rise=0.5, z=3.0, min_samples=30),
    _define("overhead_p95", "Gateway overhead p95", "infrastructure", "p95 of the gateway's own time (ms)",
            rise=0.5, min_ms=5.0, min_samples=30),
    _define("ttft_p95", "Time to first token p95", "infrastructure", "p95 of streams' time to first chunk (ms)",
            rise=0.5, min_ms=20.0, min_samples=30),
    _define("error_rate", "Error rate", "infrastructure", "share of requests answered 5xx",
            min_delta=0.02, z=3.0, min_samples=30),
    _define("rate_limited_rate", "429 rate", "infrastructure", "share of requests answered 429",
            min_delta=0.02, z=3.0, min_samples=30),
)
BY_KEY: dict[str, MonitorDefinition] = {m.key: m for m in MONITORS}
