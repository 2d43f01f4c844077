"""Guardrails inside the chat gateway: the glue between ``ChatGateway`` and ``GuardrailService``.

- input (before the model is called): PII redaction of the user's messages, prompt-injection checks
  on them and on the documents supplied with the request (``context`` extension field, ``<context>``
  sections of system messages, tool results), toxicity and topic checks. A blocking verdict is a 400
  with code ``guardrail_violation`` (``param`` names the check);
- output (non-streamed): the answer is checked against the same documents; a block is a 422 with
  code ``guardrail_violation``; redactions rewrite the answer before it is returned;
- output (streamed): ``StreamFilter`` holds text back until its sentence is complete, checks it and
  forwards what is safe; a block ends the stream with an error event (same error body).

Every verdict goes to ``ctx.record["guardrails"]`` (check, stage, score, action, spans, never the
matched text) and to telemetry; ``x-llmops-guardrails`` names the checks that triggered.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.api.errors import ApiError
from shared.api.sse import error_event
from shared.guardrails.context import ContextError, context_documents, last_user_text
from shared.guardrails.policy import AppGuardrails, PolicyError
from shared.guardrails.service import GuardrailService, InputPhase
from shared.guardrails.streaming import StreamGuard
from shared.guardrails.verdicts import Stage, Verdict

if TYPE_CHECKING:
    from shared.gateway.context import ChatContext

log = logging.getLogger(__name__)
ERROR_CODE = "guardrail_violation"


def violation(verdict: Verdict) -> ApiError:
    status = 400 if verdict.stage is Stage.INPUT else 422
    return ApiError(status, verdict.error_message(), param=verdict.check, code=ERROR_CODE)


class RequestGuardrails:
    """The guardrail state of one request (its documents, question and policy section)."""

    def __init__(self, service: GuardrailService, ctx: ChatContext) -> None:
        self.service = service
        self.ctx = ctx
        principal = ctx.principal
        self.tenant_id = principal.tenant_id if principal else "_unauthenticated"
        self.app_id = principal.app_id if principal else "_unknown"
        self.section: object = (ctx.app_policy or {}).get("guardrails")
        try:
            self.documents = context_documents(ctx.body.get("context"), ctx.messages)
        except ContextError as exc:
            raise ApiError.bad_request(str(exc), param="context", code="invalid_context") from exc
        self.question = last_user_text(ctx.messages)
        # catalog records among the grounding passages (shared/gateway/orchestration): the product-claim truth
        self.products = [p.product for p in getattr(ctx, "passages", None) or () if getattr(p, "product", None)]
        try:
            _, self.app_guardrails = self.service.policy_for(self.tenant_id, self.app_id, self.section)
        except PolicyError as exc:  # a broken app configuration: fall back to the default policy, loudly
            log.warning("guardrails: %s; using the default policy", exc)
            ctx.record["guardrails_policy_error"] = str(exc)[:300]
            self.section = None
            self.app_guardrails = AppGuardrails()

    def _record(self, verdicts: list[Verdict], policy: str) -> None:
        records = self.ctx.record.setdefault("guardrails", [])
        records.extend(v.to_record() for v in verdicts)
        self.ctx.record["guardrails_policy"] = policy
        fired = sorted({v.check for v in verdicts if v.triggered})
        if fired:
            previous = self.ctx.response_headers.get("x-llmops-guardrails")
            names = sorted(set(fired) | set(previous.split(",") if previous else []))
            self.ctx.response_headers["x-llmops-guardrails"] = ",".join(names)

    @property
    def concurrent(self) -> bool:
        """Whether judging input checks may run while the model works (see AppGuardrails)."""
        return self.app_guardrails.concurrent_input_checks

    async def check_input(self, phase: InputPhase = "all") -> None:
        result = await self.service.check_input(self.tenant_id, self.app_id, self.ctx.messages, self.documents,
                                                app_section=self.section, phase=phase)
        self._record(result.verdicts, result.policy)
        if result.blocking is not None:
            raise violation(result.blocking)
        self.ctx.messages = result.messages

    async def check_output(self, body: dict[str, Any]) -> None:
        """Check the first choice's text; rewrite it when a redaction applies, raise on a block."""
        for choice in body.get("choices") or []:
            message = choice.get("message") or {}
            text = message.get("content")
            if not isinstance(text, str) or not text:
                continue
            result = await self.service.check_output(self.tenant_id, self.app_id, text, self.documents,
                                                     question=self.question, app_section=self.section,
                                                     products=self.products)
            self._record(result.verdicts, result.policy)
            if result.blocking is not None:
                raise violation(result.blocking)
            if result.text != text:
                message["content"] = result.text

    def stream_filter(self) -> StreamFilter:
        guard = self.service.stream_checker(self.tenant_id, self.app_id, self.documents, question=self.question,
                                            app_section=self.section, products=self.products)
        return StreamFilter(self, guard)


class StreamFilter:
    """Rewrites streamed chunks so that only checked text reaches the client (single-choice streams)."""

    def __init__(self, request: RequestGuardrails, guard: StreamGuard) -> None:
        self.request = request
        self.guard = guard
        self.error: bytes | None = None

    @property
    def sent_text(self) -> str:
        """The text that reached the client (checked)."""
        return self.guard.sent_text

    async def chunk(self, chunk: dict[str, Any], text: str) -> dict[str, Any] | None:
        """The chunk to forward (its text replaced by the checked text), or None to hold it back.

        After a block, ``self.error`` holds the error event that ends the stream.
        """
        finishing = any(choice.get("finish_reason") for choice in chunk.get("choices") or ())
        safe, verdict = await self.guard.feed(text) if text else ("", None)
        if verdict is None and finishing:
            tail, verdict = await self.guard.finish()
            safe += tail
        if verdict is not None:
            self.error = error_event(violation(verdict))
            return None
        choices = chunk.get("choices") or []
        if not choices:
            return chunk
        delta = choices[0].setdefault("delta", {})
        if "content" in delta or safe:
            delta["content"] = safe
        carries_more = finishing or any(key != "content" for key in delta)  # role, tool calls, refusal
        return chunk if safe or carries_more else None

    async def flush(self, template: dict[str, Any]) -> dict[str, Any] | None:
        """Text still held back when the stream ended without a finish chunk."""
        if self.error is not None:
            return None
        tail, verdict = await self.guard.finish()
        if verdict is not None:
            self.error = error_event(violation(verdict))
            return None
        if not tail:
            return None
        return {**{k: v for k, v in template.items() if k != "usage"},
                "choices": [{"index": 0, "delta": {"content": tail}, "finish_reason": None}]}

    def record(self) -> None:
        self.request._record(self.guard.verdicts, self.guard.policy)
        self.request.ctx.record["guardrails_stream"] = {
            "sent_chars": len(self.guard.sent_text),
            "blocked": self.guard.blocking.check if self.guard.blocking else None,
        }
