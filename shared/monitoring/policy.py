"""The ``monitors`` section of an app policy: per-monitor threshold overrides and monitors switched off.

    {"monitors": {"refusal_rate": {"min_delta": 0.1}, "cost_per_request": {"rise": 1.0}, "off": ["ttft_p95"]}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.monitoring.definitions import BY_KEY


class MonitorPolicyError(ValueError):
    pass


@dataclass(frozen=True)
class MonitorPolicy:
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    off: frozenset[str] = frozenset()


def monitor_policy(app_policy: Mapping[str, Any]) -> MonitorPolicy:
    section = app_policy.get("monitors") or {}
    if not isinstance(section, Mapping):
        raise MonitorPolicyError("invalid monitors policy: expected a mapping")
    off = section.get("off") or []
    if not isinstance(off, list) or any(key not in BY_KEY for key in off):
        raise MonitorPolicyError(f"invalid monitors policy: 'off' lists monitors of {', '.join(BY_KEY)}")
    thresholds: dict[str, dict[str, float]] = {}
    for key, values in section.items():
        if key == "off":
            continue
        definition = BY_KEY.get(key)
        if definition is None:
            raise MonitorPolicyError(f"invalid monitors policy: unknown monitor {key!r}")
        if not isinstance(values, Mapping):
            raise MonitorPolicyError(f"invalid monitors policy: {key}: expected a mapping of thresholds")
        for name, value in values.items():
            if name not in definition.thresholds:
                raise MonitorPolicyError(f"invalid monitors policy: {key}.{name}: known thresholds are "
                                         f"{', '.join(definition.thresholds)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise MonitorPolicyError(f"invalid monitors policy: {key}.{name}: expected a number >= 0")
        thresholds[key] = {name: float(value) for name, value in values.items()}
    return MonitorPolicy(thresholds, frozenset(off))
