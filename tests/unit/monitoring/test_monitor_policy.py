"""An app's ``monitors`` policy section: threshold overrides, monitors off, clear errors."""

from __future__ import annotations

import pytest

from shared.monitoring.policy import MonitorPolicyError, monitor_policy


def test_overrides_and_off() -> None:
    policy = monitor_policy({"monitors": {"refusal_rate": {"min_delta": 0.1, "z": 4}, "off": ["ttft_p95"]}})
    assert policy.thresholds == {"refusal_rate": {"min_delta": 0.1, "z": 4.0}} and policy.off == {"ttft_p95"}
    assert monitor_policy({}).thresholds == {} and monitor_policy({}).off == frozenset()


@pytest.mark.parametrize(("section", "message"), [
    ({"nope": {}}, "unknown monitor 'nope'"),
    ({"refusal_rate": {"psi": 1}}, "refusal_rate.psi"),
    ({"refusal_rate": {"z": "high"}}, "expected a number"),
    ({"refusal_rate": {"z": True}}, "expected a number"),
    ({"refusal_rate": 3}, "expected a mapping"),
    ({"off": ["nope"]}, "'off' lists monitors"),
    ("everything", "expected a mapping"),
])
def test_bad_sections_say_what_is_wrong(section, message: str) -> None:
    with pytest.raises(MonitorPolicyError, match=message):
        monitor_policy({"monitors": section})
