"""Each monitor on synthetic windows where the answer is known: no drift, a topic shift, a refusal
spike, a cost jump, ...; the false-alarm rate on stationary traffic; empty windows report no data."""

from __future__ import annotations

import functools

import pytest

from llmops.synthetic_traffic import Shift, TrafficModel, generate, window
from shared.monitoring.definitions import ALARM, BY_KEY, MONITORS, NO_DATA, OK
from shared.monitoring.monitors import RUNS, Window, is_refusal, run_all

HOUR = 3600.0
T0 = 1_800_000_000.0  # reference [T0, T0 + 6h), current [T0 + 6h, T0 + 7h)
SPLIT, END = T0 + 6 * HOUR, T0 + 7 * HOUR


def windows(seed: int = 1, shift: dict | None = None, model: TrafficModel | None = None) -> tuple[Window, Window]:
    shifts = (Shift(SPLIT, shift),) if shift else ()
    records, feedback = generate(T0, END, model=model, shifts=shifts, seed=seed, vectors=True)
    return window(records, feedback, SPLIT, END), window(records, feedback, T0, SPLIT)


def result(key: str, current: Window, reference: Window, **overrides: float):
    return RUNS[key](current, reference, {**BY_KEY[key].thresholds, **overrides})


@pytest.mark.parametrize(("key", "shift"), [
    ("topic_drift", {"topics": {"billing": 0.2, "shipping": 0.2, "setup": 0.1, "travel": 0.5}}),
    ("refusal_rate", {"refusal_rate": 0.25}),
    ("feedback_score", {"feedback_score": 0.4}),
    ("cost_per_request", {"cost_per_1k_tokens": 0.0018}),
    ("tokens_per_request", {"completion_tokens": 400.0}),
    ("overhead_p95", {"overhead_ms": 15.0}),
    ("ttft_p95", {"ttft_ms": 600.0}),
    ("error_rate", {"error_rate": 0.15}),
    ("rate_limited_rate", {"rate_limited": 0.15}),
])
def test_a_shift_alarms_its_monitor_and_names_examples(key: str, shift: dict) -> None:
    model = TrafficModel(feedback_share=0.8)  # enough feedback in one hour for the score's test
    current, reference = windows(seed=3, shift=shift, model=model)
    shifted = result(key, current, reference)
    assert shifted.status == ALARM, shifted
    assert shifted.moved and shifted.examples and all(isinstance(e, str) for e in shifted.examples)
    current_ids = {r["id"] for r in current.requests}
    assert set(shifted.examples) <= current_ids
    stationary = result(key, *windows(seed=3, model=model))
    assert stationary.status == OK, stationary


def test_topic_shift_examples_come_from_the_new_topic() -> None:
    current, reference = windows(seed=5, shift={"topics": {"billing": 0.3, "travel": 0.7}})
    shifted = result("topic_drift", current, reference)
    topics = {r["id"]: r["topic"] for r in current.requests}
    assert shifted.status == ALARM and shifted.value is not None and shifted.value > 0.25
    assert {topics[e] for e in shifted.examples} == {"travel"}


@functools.cache
def stationary(seed: int) -> tuple[Window, Window]:
    return windows(seed=seed, model=TrafficModel(feedback_share=0.8))


@pytest.mark.parametrize("definition", MONITORS, ids=lambda d: d.key)
def test_false_alarm_rate_on_stationary_traffic_is_below_two_percent(definition) -> None:
    trials = 50 if definition.key == "topic_drift" else 100
    alarms = sum(result(definition.key, *stationary(100 + trial)).status == ALARM for trial in range(trials))
    assert alarms / trials <= 0.02, f"{definition.key}: {alarms} false alarms in {trials} stationary windows"


def test_an_empty_window_reports_no_data_never_an_alarm() -> None:
    empty = Window(SPLIT, END)
    _, reference = windows()
    for outcome in run_all(empty, reference, {}):
        assert outcome.status == NO_DATA and "too little traffic" in outcome.moved
    for outcome in run_all(reference, Window(T0, SPLIT), {}):  # no reference either
        assert outcome.status == NO_DATA


def test_thresholds_from_the_app_policy_apply() -> None:
    current, reference = windows(seed=3, shift={"refusal_rate": 0.25})
    assert result("refusal_rate", current, reference).status == ALARM
    loose = run_all(current, reference, {"refusal_rate": {"min_delta": 0.5}})
    assert next(r for r in loose if r.monitor == "refusal_rate").status == OK


def test_refusals_are_blocks_content_filters_and_refusing_answers() -> None:
    assert is_refusal({"outcome": "guardrail_blocked"})
    assert is_refusal({"finish_reasons": ["content_filter"]})
    assert is_refusal({"guardrails": [{"check": "topics", "action": "block"}]})
    assert is_refusal({"transcript": {"completion": "I'm sorry, but I can't help with that."}})
    assert not is_refusal({"transcript": {"completion": "Sure: the refund takes 3 days."}, "outcome": "ok"})
