"""Evaluation checkpoint with a fake chat model (the protocol), and the promotion gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.prompts.evaluation import (
    Completion,
    DatasetError,
    Pricing,
    Tolerances,
    evaluate,
    load_dataset,
    promotion_gate,
    regressions,
    run_version,
)
from shared.prompts.files import parse_prompt_text
from shared.prompts.metrics import exact_match, rouge_l, token_f1
from shared.prompts.registry import PromptRegistry
from tests.unit.prompts.conftest import prompt_file


class ScriptedModel:
    """Answers by the system prompt: ``answers[system][question]``; records calls."""

    def __init__(self, answers: dict[str, dict[str, str]], latency: float = 0.1, fail_on: str | None = None) -> None:
        self.answers, self.latency, self.fail_on = answers, latency, fail_on
        self.calls: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []

    async def complete(self, model_alias: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        self.calls.append((model_alias, messages, params))
        question = messages[1]["content"]
        if question == self.fail_on:
            raise RuntimeError("backend down")
        text = self.answers[messages[0]["content"]].get(question, "I do not know.")
        return Completion(text, {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}, self.latency)


GOOD_SYSTEM = "You answer FAQs for Contoso."
TERSE_SYSTEM = "Terse Contoso."
ANSWERS = {
    GOOD_SYSTEM: {
        "refund?": "You can get a refund within 30 days from your order page.",
        "parcel?": "Track your parcel with the link in your e-mail.",
    },
    TERSE_SYSTEM: {"refund?": "No.", "parcel?": "Somewhere."},
}


def write_dataset(tmp_path: Path) -> Path:
    rows = [
        {
            "id": "r",
            "variables": {"question": "refund?"},
            "reference": "Refunds within 30 days from the order page.",
            "assertions": [{"type": "contains", "value": "30 days"}],
        },
        {
            "id": "p",
            "variables": {"question": "parcel?"},
            "reference": "Track the parcel with the e-mail link.",
            "assertions": [{"type": "max_chars", "value": 200}, {"type": "not_contains", "value": "sorry"}],
        },
    ]
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_text_metrics() -> None:
    assert exact_match("The cat.", "cat") == 1.0
    assert token_f1("x y z", "y z w") == pytest.approx(2 / 3)
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(2 / 3)  # "the" dropped
    assert rouge_l("", "x") == 0.0 and rouge_l("", "") == 1.0


def test_dataset_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"variables": {}}\n\n{"assertions": [{"type": "shout"}]}\n')
    with pytest.raises(DatasetError, match=r"bad.jsonl:3: assertions\.0"):
        load_dataset(path)
    path.write_text("{not json\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:1"):
        load_dataset(path)
    path.write_text("\n")
    with pytest.raises(DatasetError, match="no cases"):
        load_dataset(path)


async def test_run_version_metrics(registry: PromptRegistry, tmp_path: Path) -> None:
    [pushed] = await registry.push([prompt_file()], actor="ana")
    version = await registry.get_version("faq", pushed.version)
    model = ScriptedModel(ANSWERS)
    metrics = await run_version(
        version,
        load_dataset(write_dataset(tmp_path)).cases,
        model,
        model_alias="small",
        pricing=Pricing(input_per_1m=1.0, output_per_1m=2.0),
    )
    assert metrics.cases == 2 and metrics.errors == 0
    assert metrics.assertion_pass_rate == 1.0 and metrics.guardrail_pass_rate == 1.0
    assert 0.3 < metrics.quality < 1.0
    assert metrics.cost_per_call_usd == pytest.approx((100 * 1.0 + 20 * 2.0) / 1e6)
    assert metrics.latency_mean_s == pytest.approx(0.1)
    alias, _messages, params = model.calls[0]
    assert alias == "small" and params == {"temperature": 0.0, "max_tokens": 64}


async def test_failed_calls_and_schema_violations_count_against_the_version(tmp_path: Path, registry) -> None:
    spec = parse_prompt_text(
        "name: triage\ntemplate:\n  - {role: system, content: Classify.}\n  - {role: user, content: '{{ t }}'}\n"
        "variables: {t: string}\noutput_schema: {type: object, required: [category]}\n",
        "triage.yaml",
    )
    [pushed] = await registry.push([spec], actor="ana")
    version = await registry.get_version("triage", pushed.version)
    answers = {"Classify.": {"a": '{"category": "billing"}', "b": "not json", "c": '{"urgent": true}'}}
    cases = [{"variables": {"t": t}, "assertions": [{"type": "json"}]} for t in ("a", "b", "c", "boom")]
    path = tmp_path / "triage.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases))
    metrics = await run_version(
        version, load_dataset(path).cases, ScriptedModel(answers, fail_on="boom"), model_alias="m", pricing=Pricing()
    )
    assert metrics.errors == 1 and metrics.assertion_pass_rate == 0.5
    assert metrics.guardrail_pass_rate == 0.25
    assert any("model call failed" in f for f in metrics.failures)
    assert any("schema" in f for f in metrics.failures) and any("not JSON" in f for f in metrics.failures)


def test_regressions_respect_tolerances() -> None:
    base = {
        "errors": 0,
        "cases": 10,
        "quality": 0.80,
        "assertion_pass_rate": 1.0,
        "guardrail_pass_rate": 1.0,
        "latency_mean_s": 1.0,
        "cost_per_call_usd": 0.001,
    }
    tol = Tolerances(max_quality_drop=0.02, max_latency_increase=0.25, max_cost_increase=0.10)
    assert regressions({**base, "quality": 0.79}, base, tol) == []
    found = regressions(
        {**base, "quality": 0.70, "latency_mean_s": 1.5, "cost_per_call_usd": 0.002, "assertion_pass_rate": 0.9},
        base,
        tol,
    )
    assert len(found) == 4 and any("quality" in f for f in found) and any("cost" in f for f in found)
    assert regressions({**base, "errors": 2}, None, tol) == ["2 of 10 cases failed to run"]
    # a few milliseconds more is noise, whatever the ratio
    assert regressions({**base, "latency_mean_s": 0.007}, {**base, "latency_mean_s": 0.004}, tol) == []


async def test_evaluate_then_gate(registry: PromptRegistry, tmp_path: Path) -> None:
    dataset = load_dataset(write_dataset(tmp_path))
    [good] = await registry.push([prompt_file()], actor="ana")
    [terse] = await registry.push([prompt_file(system="Terse {{ company }}.")], actor="ana")
    store, tol = registry.store, Tolerances()
    model = ScriptedModel(ANSWERS)
    kwargs = {
        "label": "production",
        "dataset": dataset,
        "model": model,
        "model_alias": "m",
        "pricing": Pricing(0.15, 0.6),
        "tolerances": tol,
        "actor": "ana",
    }

    gate = await promotion_gate(registry, store, "faq", good.version, "production", tol)
    assert not gate.allowed and "no evaluation" in gate.reason

    first = await evaluate(registry, await registry.get_version("faq", good.version), **kwargs)
    assert first["passed"] and first["baseline_version"] is None and first["dataset_sha256"] == dataset.sha256
    gate = await promotion_gate(registry, store, "faq", good.version, "production", tol)
    assert gate.allowed and gate.evaluation_id == first["id"]
    await registry.move_label("faq", "production", good.version, actor="ana", evaluation_id=gate.evaluation_id)

    worse = await evaluate(registry, await registry.get_version("faq", terse.version), **kwargs)
    assert not worse["passed"] and worse["baseline_version"] == good.version
    assert any("quality" in r for r in worse["regressions"])
    assert any("assertion pass rate" in r for r in worse["regressions"])
    gate = await promotion_gate(registry, store, "faq", terse.version, "production", tol)
    assert not gate.allowed and "worse beyond tolerances" in gate.reason
    # looser tolerances configured later let the same stored evaluation pass
    loose = Tolerances(max_quality_drop=1.0, max_assertion_drop=1.0)
    assert (await promotion_gate(registry, store, "faq", terse.version, "production", loose)).allowed
    # an evaluation against an older baseline is stale once the label moved
    await registry.move_label("faq", "production", terse.version, actor="ana", forced=True)
    await registry.rollback("faq", "production", actor="ana")
    [third] = await registry.push([prompt_file(system="Third {{ company }}.")], actor="ana")
    await registry.move_label("faq", "staging", third.version, actor="ana")
    gate = await promotion_gate(registry, store, "faq", good.version, "production", tol)
    assert gate.allowed and "already points" in gate.reason
