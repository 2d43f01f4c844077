"""Output guardrails on a stream: text is checked sentence by sentence as it arrives.

``feed(delta)`` buffers the delta and, once one or more sentences are complete, runs the output
rules on them and returns the text that is safe to emit (PII redacted where the policy says) or
the blocking verdict. Text is held back only until its sentence ends (or ``max_pending_chars``
pile up without a boundary). After a block every further call returns the same verdict and no
text; ``sent_text`` is what the client received, for the request log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from shared.guardrails.checks import ScanContext
from shared.guardrails.text import complete_sentence_end
from shared.guardrails.verdicts import Span, Stage, Verdict

if TYPE_CHECKING:
    from shared.guardrails.policy import AppGuardrails, GuardrailPolicy


class CheckedOutput(Protocol):
    verdicts: list[Verdict]
    blocking: Verdict | None
    text: str  # the text to send on (redacted where the policy says)


class OutputRules(Protocol):
    """What the stream guard needs from ``GuardrailService``: its output rules run on a piece of text."""

    async def run_output_rules(self, policy: GuardrailPolicy, section: AppGuardrails, text: str, ctx: ScanContext,
                               target: str = "answer") -> CheckedOutput: ...


class StreamGuard:
    def __init__(
        self,
        service: OutputRules,
        policy: GuardrailPolicy,
        section: AppGuardrails,
        context_docs: list[str],
        question: str | None,
        *,
        on_verdicts: Callable[[list[Verdict]], Any] | None = None,
        max_pending_chars: int = 1500,
        products: list[dict[str, Any]] | None = None,
    ) -> None:
        self._products = products or []
        self._service = service
        self._policy = policy
        self._section = section
        self._context_docs = context_docs
        self._question = question
        self._on_verdicts = on_verdicts
        self._max_pending = max_pending_chars
        self._active = section.enabled and bool(policy.output_rules)
        self._pending = ""
        self._checked = ""  # original text already checked (what later sentences may refer back to)
        self.sent_text = ""  # what the client received (after redaction)
        self.blocking: Verdict | None = None
        self._triggered: list[Verdict] = []
        self._best: dict[str, Verdict] = {}
        self._chunks = 0

    @property
    def policy(self) -> str:
        return self._policy.name

    async def feed(self, delta: str) -> tuple[str, Verdict | None]:
        if self.blocking is not None:
            return "", self.blocking
        if not self._active:
            self.sent_text += delta
            return delta, None
        self._pending += delta
        end = complete_sentence_end(self._pending)
        if end == 0 and len(self._pending) > self._max_pending:
            end = self._pending.rfind(" ", 0, self._max_pending) + 1 or len(self._pending)
        if end == 0:
            return "", None
        chunk, self._pending = self._pending[:end], self._pending[end:]
        return await self._check(chunk)

    async def finish(self) -> tuple[str, Verdict | None]:
        """Check whatever is still buffered at the end of the stream."""
        if self.blocking is not None:
            return "", self.blocking
        chunk, self._pending = self._pending, ""
        if not chunk:
            return "", None
        if not self._active:
            self.sent_text += chunk
            return chunk, None
        return await self._check(chunk)

    async def _check(self, chunk: str) -> tuple[str, Verdict | None]:
        offset = len(self._checked)
        ctx = ScanContext(Stage.OUTPUT, self._context_docs, self._question, preceding=self._checked,
                          products=self._products)
        result = await self._service.run_output_rules(
            self._policy, self._section, chunk, ctx, target=f"stream[{self._chunks}]"
        )
        self._chunks += 1
        self._checked += chunk
        for verdict in result.verdicts:
            verdict.spans = [Span(s.type, s.start + offset, s.end + offset) for s in verdict.spans]
            verdict.detail = {**verdict.detail, "offset": offset}
            if verdict.triggered:
                self._triggered.append(verdict)
            elif verdict.check not in self._best or verdict.score > self._best[verdict.check].score:
                self._best[verdict.check] = verdict
        if self._on_verdicts:
            self._on_verdicts([v for v in result.verdicts if v.triggered])
        if result.blocking is not None:
            self.blocking = result.blocking
            return "", self.blocking
        self.sent_text += result.text
        return result.text, None

    @property
    def verdicts(self) -> list[Verdict]:
        """Every triggered verdict, plus the highest-scoring pass of each check that never triggered."""
        fired = {v.check for v in self._triggered}
        return self._triggered + [v for check, v in self._best.items() if check not in fired]

    def records(self) -> list[dict[str, Any]]:
        return [v.to_record() for v in self.verdicts]

    def log_record(self) -> dict[str, Any]:
        """What the request log keeps about the stream: verdicts and how much was sent (not the text)."""
        return {
            "policy": self._policy.name,
            "verdicts": self.records(),
            "sent_chars": len(self.sent_text),
            "blocked": self.blocking.check if self.blocking else None,
        }
