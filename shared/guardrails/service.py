"""The guardrail pipeline the gateway calls: input checks, output checks, streaming output checks.

    service = GuardrailService.from_settings(get_settings())          # loads and validates every policy
    result = await service.check_input(tenant, app, messages, docs, app_section=app_policy.get("guardrails"))
    if result.blocking: -> 400 guardrail_violation (result.blocking.check)
    out = await service.check_output(tenant, app, answer, docs, question=..., app_section=...)
    if out.blocking: -> 422 guardrail_violation; else send out.text (PII redacted where the policy says)
    guard = service.stream_checker(tenant, app, docs, question=..., app_section=...)
    safe, verdict = await guard.feed(delta)  ...  safe, verdict = await guard.finish()

Verdicts go to ``result.records()`` (for the request log) and to telemetry (a counter per check,
action and stage; a span event per triggered verdict). Neither ever carries the matched text.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry import metrics, trace

from shared.config import GuardrailSettings
from shared.guardrails.checks import ScanContext
from shared.guardrails.context import DOCUMENT_ROLES
from shared.guardrails.detectors import TopicsCheck, TopicsOptions
from shared.guardrails.pii import redact_spans
from shared.guardrails.policy import AppGuardrails, BoundRule, GuardrailPolicy, PolicySet
from shared.guardrails.streaming import StreamGuard
from shared.guardrails.verdicts import Action, Finding, Stage, Verdict
from shared.observability import names
from shared.policies import SectionCache
from shared.tokens import message_text

_meter = metrics.get_meter(names.INSTRUMENTATION_SCOPE)
_verdict_counter = _meter.create_counter(
    names.METRIC_GUARDRAIL_VERDICTS,
    unit="{verdict}",
    description="Guardrail verdicts that triggered, by check, action and stage",
)


@dataclass
class GuardResult:
    verdicts: list[Verdict] = field(default_factory=list)
    blocking: Verdict | None = None
    policy: str = ""

    def records(self) -> list[dict[str, Any]]:
        return [v.to_record() for v in self.verdicts]


@dataclass(kw_only=True)
class InputResult(GuardResult):
    messages: list[dict[str, Any]]  # the messages to send on (PII redacted where the policy says so)


@dataclass(kw_only=True)
class OutputResult(GuardResult):
    text: str  # the answer to send on (PII redacted where the policy says so)


@dataclass
class _Target:
    name: str
    text: str
    message: int | None = None
    part: int | None = None
    is_document: bool = False


InputPhase = Literal["all", "rewrite", "verdict"]


class GuardrailService:
    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self._topic_overrides: dict[tuple[Any, ...], TopicsCheck] = {}
        # the app's section parsed once per stored policy dict, not on every request
        self._sections = SectionCache(AppGuardrails, "guardrails", parse=AppGuardrails.parse)

    @classmethod
    def from_settings(cls, settings: GuardrailSettings) -> GuardrailService:
        from shared.guardrails.azure_content_safety import azure_services_from_settings

        azure = azure_services_from_settings(settings)
        limit_blas_threads(settings.guardrails_blas_threads)
        return cls(
            PolicySet.load(
                settings.resolved_guardrails_policy_dir, default=settings.guardrails_default_policy, azure=azure
            )
        )

    def policy_for(
        self, tenant_id: str, app_id: str, app_section: object = None
    ) -> tuple[GuardrailPolicy, AppGuardrails]:
        section: AppGuardrails = self._sections.get(app_section)
        return self.policies.resolve(tenant_id, app_id, section), section

    # --- input ----------------------------------------------------------------------------
    async def check_input(
        self,
        tenant_id: str,
        app_id: str,
        messages: list[dict[str, Any]],
        context_docs: list[str] | None = None,
        *,
        app_section: object = None,
        phase: InputPhase = "all",
    ) -> InputResult:
        """Run the input rules; ``phase`` selects the redacting rules ("rewrite"), the judging ones
        ("verdict") or all of them."""
        policy, section = self.policy_for(tenant_id, app_id, app_section)
        if not section.enabled or not policy.input_rules:
            return InputResult(messages=messages, policy=policy.name)
        rules = [self._rule_for_app(rule, section) for rule in policy.input_rules]
        if phase != "all":
            rules = [rule for rule in rules if (rule.rule.action is Action.REDACT) == (phase == "rewrite")]
        outcomes = await asyncio.gather(*(self._run_input_rule(rule, messages, context_docs or []) for rule in rules))
        verdicts = [v for group in outcomes for v, _ in group]
        redacted = self._redact_messages(messages, [pair for group in outcomes for pair in group])
        blocking = next((v for v in verdicts if v.blocks), None)
        _emit(verdicts, tenant_id, app_id)
        return InputResult(messages=redacted, verdicts=verdicts, blocking=blocking, policy=policy.name)

    async def _run_input_rule(
        self, rule: BoundRule, messages: list[dict[str, Any]], context_docs: list[str]
    ) -> list[tuple[Verdict, _Target]]:
        targets = _input_targets(rule, messages, context_docs)
        scans = [rule.check.ascan(t.text, ScanContext(Stage.INPUT, context_docs, is_document=t.is_document))
                 for t in targets]
        # the usual request has one target (the new turn): awaited here, without a task of its own
        findings = [await scans[0]] if len(scans) == 1 else await asyncio.gather(*scans)
        return _decide(rule, list(zip(findings, targets, strict=True)))

    @staticmethod
    def _redact_messages(
        messages: list[dict[str, Any]], outcomes: list[tuple[Verdict, _Target]]
    ) -> list[dict[str, Any]]:
        to_redact = [(v, t) for v, t in outcomes if v.triggered and v.action is Action.REDACT and v.spans]
        if not to_redact:
            return messages
        rewritten = copy.deepcopy(messages)
        for verdict, target in to_redact:
            if target.message is None:  # a supplied document: judged, never rewritten
                continue
            message = rewritten[target.message]
            if target.part is None:
                message["content"] = redact_spans(message["content"], verdict.spans)
            else:
                part = message["content"][target.part]
                part["text"] = redact_spans(part["text"], verdict.spans)
        return rewritten

    # --- output ---------------------------------------------------------------------------
    async def check_output(
        self,
        tenant_id: str,
        app_id: str,
        text: str,
        context_docs: list[str] | None = None,
        *,
        question: str | None = None,
        app_section: object = None,
        products: list[dict[str, Any]] | None = None,
    ) -> OutputResult:
        policy, section = self.policy_for(tenant_id, app_id, app_section)
        if not section.enabled or not policy.output_rules:
            return OutputResult(text=text, policy=policy.name)
        result = await self.run_output_rules(
            policy, section, text, ScanContext(Stage.OUTPUT, context_docs or [], question, products=products or [])
        )
        _emit(result.verdicts, tenant_id, app_id)
        return result

    async def run_output_rules(
        self, policy: GuardrailPolicy, section: AppGuardrails, text: str, ctx: ScanContext, target: str = "answer"
    ) -> OutputResult:
        rules = [self._rule_for_app(rule, section) for rule in policy.output_rules]
        findings = await asyncio.gather(*(rule.check.ascan(text, ctx) for rule in rules))
        verdicts: list[Verdict] = []
        spans_to_redact = []
        for rule, finding in zip(rules, findings, strict=True):
            for verdict, _ in _decide(rule, [(finding, _Target(target, text))]):
                verdicts.append(verdict)
                if verdict.triggered and verdict.action is Action.REDACT:
                    spans_to_redact.extend(verdict.spans)
        blocking = next((v for v in verdicts if v.blocks), None)
        safe_text = redact_spans(text, spans_to_redact) if spans_to_redact else text
        return OutputResult(text=safe_text, verdicts=verdicts, blocking=blocking, policy=policy.name)

    def stream_checker(
        self,
        tenant_id: str,
        app_id: str,
        context_docs: list[str] | None = None,
        *,
        question: str | None = None,
        app_section: object = None,
        products: list[dict[str, Any]] | None = None,
    ) -> StreamGuard:
        policy, section = self.policy_for(tenant_id, app_id, app_section)
        return StreamGuard(
            self,
            policy,
            section,
            context_docs or [],
            question,
            on_verdicts=lambda verdicts: _emit(verdicts, tenant_id, app_id),
            products=products,
        )

    # --- helpers --------------------------------------------------------------------------
    def _rule_for_app(self, rule: BoundRule, section: AppGuardrails) -> BoundRule:
        """The app's declared topics replace the policy's topic lists for the topics check."""
        if rule.name != "topics" or not section.topics:
            return rule
        options = rule.check.options
        assert isinstance(options, TopicsOptions)
        allowed = tuple(section.topics.get("allowed", options.allowed) or ())
        blocked = tuple(section.topics.get("blocked", options.blocked) or ())
        key = (rule.stage, allowed, blocked, rule.rule.threshold)
        check = self._topic_overrides.get(key)
        if check is None:
            options = rule.check.options.model_copy(update={"allowed": list(allowed), "blocked": list(blocked)})
            check = TopicsCheck(TopicsOptions.model_validate(options.model_dump()))
            self._topic_overrides[key] = check
        return BoundRule(rule.rule, rule.stage, check)


def limit_blas_threads(threads: int) -> None:
    """Cap BLAS threads process-wide (0 = leave as is); the encoder's small matrices gain nothing from more."""
    if threads <= 0:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a runtime dependency, but never fatal
        return
    threadpool_limits(limits=threads, user_api="blas")


def _input_targets(rule: BoundRule, messages: list[dict[str, Any]], context_docs: list[str]) -> list[_Target]:
    check = rule.check
    targets: list[_Target] = []
    first = 0
    if check.latest_turn_only:  # the new turn: everything after the last assistant reply
        first = next((i + 1 for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), 0)
    for index, message in enumerate(messages):
        if index < first:
            continue
        role = message.get("role")
        is_document = role in DOCUMENT_ROLES
        if role != "user" and not (is_document and check.reads_context_on_input):
            continue
        content = message.get("content")
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    targets.append(
                        _Target(f"message[{index}].content[{part_index}]", part["text"], index, part_index, is_document)
                    )
        elif isinstance(content, str):
            targets.append(_Target(f"message[{index}]", content, index, None, is_document))
    if check.last_user_message_only:
        users = [t for t in targets if not t.is_document]
        targets = users[-1:] if users else []
        whole = targets[0].message if targets and targets[0].part is not None else None
        if whole is not None:  # all text parts of that message together
            targets = [_Target(f"message[{whole}]", message_text(messages[whole]))]
    if check.reads_context_on_input:
        targets.extend(_Target(f"context[{i}]", doc, is_document=True) for i, doc in enumerate(context_docs))
    return targets


def _decide(rule: BoundRule, results: list[tuple[Finding, _Target]]) -> list[tuple[Verdict, _Target]]:
    """One verdict per target that triggers; if none does, one passing verdict with the highest score."""
    threshold = rule.rule.threshold
    decided = []
    for finding, target in results:
        triggered = finding.score >= threshold and finding.score > 0
        verdict = Verdict(
            rule.name,
            rule.stage,
            finding.score,
            threshold,
            rule.rule.action,
            triggered,
            finding.spans if triggered else [],
            finding.detail,
            finding.source,
            target.name,
        )
        decided.append((verdict, target))
    fired = [pair for pair in decided if pair[0].triggered]
    if fired or not decided:
        return fired
    return [max(decided, key=lambda pair: pair[0].score)]


def _emit(verdicts: list[Verdict], tenant_id: str, app_id: str) -> None:
    span = trace.get_current_span()
    for verdict in verdicts:
        if not verdict.triggered:
            continue
        attributes = {
            names.LLMOPS_GUARDRAIL_CHECK: verdict.check,
            names.LLMOPS_GUARDRAIL_ACTION: str(verdict.action),
            names.LLMOPS_GUARDRAIL_STAGE: str(verdict.stage),
        }
        _verdict_counter.add(1, attributes)
        if span.is_recording():
            span.add_event(
                "llmops.guardrail.verdict",
                {
                    **attributes,
                    names.LLMOPS_TENANT: tenant_id,
                    names.LLMOPS_APP: app_id,
                    "llmops.guardrail.score": verdict.score,
                    "llmops.guardrail.target": verdict.target,
                },
            )
