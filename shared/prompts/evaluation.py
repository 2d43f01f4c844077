"""The evaluation checkpoint before promotion.

``evaluate`` runs a candidate version and the version a label points at now over a golden set
(JSON lines: ``variables``, optional ``input``, ``reference`` and/or ``assertions``) through a
chat model, and compares them: reference quality (ROUGE-L, token F1, exact match), assertion pass
rate, guardrail pass rate (output schema and the guardrail checker), latency and cost per call.
The result is stored in ``prompt_evals``; ``promotion_gate`` reads it back before a label moves.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.config import PromptSettings
from shared.prompts.metrics import Assertion, exact_match, rouge_l, schema_problem, token_f1
from shared.prompts.registry import PromptRegistry, PromptVersion
from shared.prompts.render import PromptVariablesError, render
from shared.retraining.contract.metrics import percentile
from shared.store import DocumentStore

EVALS = "prompt_evals"


class Completion(NamedTuple):
    text: str
    usage: dict[str, Any]
    latency_s: float


class ChatModel(Protocol):
    """What evaluation needs from a model: one chat completion, not streamed."""

    async def complete(
        self, model_alias: str, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Completion: ...


# Output guardrails beyond the prompt's own output schema: (answer, the prompt's guardrails section or
# None for the default policy) -> the problems that would block or redact it.
GuardrailCheck = Callable[[str, Any], Awaitable[list[str]]]


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    input: str | None = None  # an extra user turn after the rendered prompt
    reference: str | None = None
    assertions: list[Assertion] = Field(default_factory=list)


class DatasetError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Dataset:
    path: str
    sha256: str
    cases: list[EvalCase]


def load_dataset(path: Path) -> Dataset:
    try:
        raw = path.read_bytes()
        lines = raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cases.append(EvalCase.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DatasetError(f"{path}:{number}: {where + ': ' if where else ''}{first['msg']}") from None
    if not cases:
        raise DatasetError(f"{path}: no cases")
    return Dataset(str(path), hashlib.sha256(raw).hexdigest(), cases)


@dataclass(frozen=True, slots=True)
class Pricing:
    input_per_1m: float = 0.0
    output_per_1m: float = 0.0

    def cost(self, usage: dict[str, Any]) -> float:
        return (
            float(usage.get("prompt_tokens") or 0) * self.input_per_1m
            + float(usage.get("completion_tokens") or 0) * self.output_per_1m
        ) / 1e6


@dataclass(frozen=True, slots=True)
class Tolerances:
    """How much worse than the baseline a candidate may be (see ``Settings.prompt_eval_*``)."""

    max_quality_drop: float = 0.02
    max_assertion_drop: float = 0.0
    max_guardrail_drop: float = 0.0
    max_latency_increase: float = 0.25
    max_cost_increase: float = 0.10
    # Latency differences below this many seconds are noise, whatever the ratio (a 4 ms vs 7 ms call).
    min_latency_difference_s: float = 0.05

    @classmethod
    def from_settings(cls, settings: PromptSettings) -> Tolerances:
        return cls(
            settings.prompt_eval_max_quality_drop,
            settings.prompt_eval_max_assertion_drop,
            settings.prompt_eval_max_guardrail_drop,
            settings.prompt_eval_max_latency_increase,
            settings.prompt_eval_max_cost_increase,
        )


@dataclass(frozen=True, slots=True)
class RunMetrics:
    version: str
    cases: int
    errors: int
    quality: float | None  # mean ROUGE-L F1 over cases with a reference
    token_f1: float | None
    exact_match: float | None
    assertion_pass_rate: float | None  # cases whose assertions all hold / cases with assertions
    guardrail_pass_rate: float
    latency_mean_s: float
    latency_p95_s: float
    cost_per_call_usd: float
    failures: list[str]


def _reference_mean(scored: Sequence[tuple[float, ...]], index: int, expected: int) -> float | None:
    """Mean over the cases that have a reference; a case whose call failed counts as zero."""
    return sum(s[index] for s in scored) / expected if expected else None


async def run_version(
    version: PromptVersion,
    cases: Sequence[EvalCase],
    model: ChatModel,
    *,
    model_alias: str,
    pricing: Pricing,
    guardrail_check: GuardrailCheck | None = None,
    concurrency: int = 4,
) -> RunMetrics:
    gate = asyncio.Semaphore(concurrency)
    spec = version.spec

    async def one(index: int, case: EvalCase) -> dict[str, Any]:
        label = case.id or f"case {index + 1}"
        try:
            rendered = render(spec, case.variables)
        except PromptVariablesError as exc:
            return {"error": f"{label}: {exc}"}
        messages = [*rendered.messages, *([{"role": "user", "content": case.input}] if case.input else [])]
        params = {k: v for k, v in rendered.params.items() if k != "model"}
        async with gate:
            try:
                text, usage, latency = await model.complete(rendered.params.get("model", model_alias), messages, params)
            except Exception as exc:  # a failed call is a failed case, not a crash
                return {"error": f"{label}: model call failed: {type(exc).__name__}: {exc}"}
        problems = []
        if spec.output_schema is not None and (problem := schema_problem(text, spec.output_schema)):
            problems.append(problem)
        if guardrail_check is not None:  # the prompt's policy section, or the default policy
            problems.extend(await guardrail_check(text, spec.guardrails))
        return {
            "reference": (
                rouge_l(text, case.reference),
                token_f1(text, case.reference),
                exact_match(text, case.reference),
            )
            if case.reference is not None
            else None,
            "assertions": all(a.check(text) for a in case.assertions) if case.assertions else None,
            "guardrails": not problems,
            "latency": latency,
            "cost": pricing.cost(usage),
            "failure": f"{label}: {'; '.join(problems)}" if problems else None,
        }

    results = await asyncio.gather(*(one(i, c) for i, c in enumerate(cases)))
    done = [r for r in results if "error" not in r]
    errors = [r["error"] for r in results if "error" in r]
    scored = [r["reference"] for r in done if r["reference"] is not None]
    with_assertions = [r["assertions"] for r in results if r.get("assertions") is not None]
    asserted_cases = sum(1 for c in cases if c.assertions)
    referenced = sum(1 for c in cases if c.reference is not None)
    latencies = sorted(r["latency"] for r in done) or [0.0]
    return RunMetrics(
        version=version.version,
        cases=len(cases),
        errors=len(errors),
        quality=_reference_mean(scored, 0, referenced),
        token_f1=_reference_mean(scored, 1, referenced),
        exact_match=_reference_mean(scored, 2, referenced),
        assertion_pass_rate=(sum(with_assertions) / asserted_cases) if asserted_cases else None,
        guardrail_pass_rate=sum(1 for r in done if r["guardrails"]) / len(cases),
        latency_mean_s=statistics.fmean(latencies),
        latency_p95_s=percentile(latencies, 95),
        cost_per_call_usd=statistics.fmean([r["cost"] for r in done]) if done else 0.0,
        failures=errors + [r["failure"] for r in done if r["failure"]],
    )


def regressions(candidate: dict[str, Any], baseline: dict[str, Any] | None, tol: Tolerances) -> list[str]:
    """Where the candidate is worse than the baseline beyond the tolerances (metrics as dicts)."""
    found = []
    if candidate["errors"]:
        found.append(f"{candidate['errors']} of {candidate['cases']} cases failed to run")
    if baseline is None:
        return found

    def drop(key: str, limit: float, what: str) -> None:
        new, old = candidate.get(key), baseline.get(key)
        if new is not None and old is not None and old - new > limit + 1e-12:
            found.append(f"{what} fell from {old:.3f} to {new:.3f} (tolerance {limit:.3f})")

    def rise(key: str, limit: float, what: str, floor: float = 0.0) -> None:
        new, old = candidate.get(key) or 0.0, baseline.get(key) or 0.0
        if old > 0 and (new - old) / old > limit + 1e-12 and new - old > floor:
            found.append(f"{what} rose from {old:.6g} to {new:.6g} (+{(new - old) / old:.0%}, tolerance {limit:.0%})")

    drop("quality", tol.max_quality_drop, "quality (ROUGE-L)")
    drop("assertion_pass_rate", tol.max_assertion_drop, "assertion pass rate")
    drop("guardrail_pass_rate", tol.max_guardrail_drop, "guardrail pass rate")
    rise("latency_mean_s", tol.max_latency_increase, "mean latency", tol.min_latency_difference_s)
    rise("cost_per_call_usd", tol.max_cost_increase, "cost per call")
    return found


async def evaluate(
    registry: PromptRegistry,
    candidate: PromptVersion,
    *,
    label: str,
    dataset: Dataset,
    model: ChatModel,
    model_alias: str,
    pricing: Pricing,
    tolerances: Tolerances,
    actor: str,
    guardrail_check: GuardrailCheck | None = None,
) -> dict[str, Any]:
    """Run the candidate and the label's current version side by side; store and return the record."""
    cases = dataset.cases
    current = await current_version(registry, candidate.name, label)
    baseline = await registry.get_version(candidate.name, current) if current else None
    started = time.time()

    async def run(version: PromptVersion) -> dict[str, Any]:
        return asdict(await run_version(version, cases, model, model_alias=model_alias, pricing=pricing,
                                        guardrail_check=guardrail_check))

    cand_metrics = await run(candidate)
    base_metrics = await run(baseline) if baseline is not None else None
    found = regressions(cand_metrics, base_metrics, tolerances)
    record = {
        "id": uuid.uuid4().hex,
        "name": candidate.name,
        "version": candidate.version,
        "label": label,
        "baseline_version": baseline.version if baseline else None,
        "dataset": dataset.path,
        "dataset_sha256": dataset.sha256,
        "model": model_alias,
        "candidate": cand_metrics,
        "baseline": base_metrics,
        "regressions": found,
        "passed": not found,
        "tolerances": asdict(tolerances),
        "at": started,
        "by": actor,
    }
    return await registry.store.create(EVALS, record)


async def current_version(registry: PromptRegistry, name: str, label: str) -> str | None:
    """The version a label mainly points at (the heaviest target of a split), or None."""
    targets = (await registry.labels(name)).get(label) or []
    return max(targets, key=lambda t: t.weight).version if targets else None


@dataclass(frozen=True, slots=True)
class GateDecision:
    allowed: bool
    reason: str
    evaluation_id: str | None


async def promotion_gate(
    registry: PromptRegistry, store: DocumentStore, name: str, version: str, label: str, tol: Tolerances
) -> GateDecision:
    """May ``version`` take ``label``? Only with an evaluation against what the label holds now,
    within the tolerances as configured now."""
    current = await current_version(registry, name, label)
    if current == version:
        return GateDecision(True, f"{label} already points at {version}", None)
    runs = await store.query(EVALS, {"name": name, "version": version, "label": label}, order_by="at", descending=True)
    if not runs:
        return GateDecision(
            False, f"no evaluation of {name}@{version} for label {label!r}: run `llmops prompts eval`", None
        )
    latest = runs[0]
    if latest.get("baseline_version") != current:
        return GateDecision(
            False,
            f"the latest evaluation compared with {latest.get('baseline_version')} but {label!r} now points at "
            f"{current}: evaluate again",
            latest["id"],
        )
    found = regressions(latest["candidate"], latest.get("baseline"), tol)
    if found:
        return GateDecision(False, "evaluation is worse beyond tolerances: " + "; ".join(found), latest["id"])
    return GateDecision(True, f"evaluation {latest['id']} passed", latest["id"])


def format_metrics(metrics: dict[str, Any]) -> str:
    def f(value: Any, spec: str = ".3f") -> str:
        return "-" if value is None else format(value, spec)

    return (
        f"quality {f(metrics['quality'])}  f1 {f(metrics['token_f1'])}  exact {f(metrics['exact_match'])}  "
        f"assertions {f(metrics['assertion_pass_rate'])}  guardrails {f(metrics['guardrail_pass_rate'])}  "
        f"latency {f(metrics['latency_mean_s'])}s (p95 {f(metrics['latency_p95_s'])}s)  "
        f"cost/call ${f(metrics['cost_per_call_usd'], '.6f')}  errors {metrics['errors']}/{metrics['cases']}"
    )


def dumps(record: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in record.items() if not k.startswith("_")}, indent=2, sort_keys=True)


def output_guardrails(service: Any) -> GuardrailCheck:
    """A ``GuardrailCheck`` over the platform's ``GuardrailService``: an answer fails when a check
    would block it or redact it (a flag alone passes)."""

    async def check(text: str, section: Any) -> list[str]:
        result = await service.check_output("_prompt_eval", "_prompt_eval", text, app_section=section)
        return [
            f"guardrail {v.check} would {v.action} (score {v.score:.2f})"
            for v in result.verdicts
            if v.triggered and str(v.action) in ("block", "redact")
        ]

    return check
