"""The check interface every guardrail implements, and the registry of check names.

A check is built once per policy rule from the rule's validated options. ``scan`` is the local,
offline implementation (synchronous, CPU only); ``ascan`` is what the pipeline awaits: it runs
``scan`` inline (a model-based check's scan moves to a worker thread when its transformer encoder
must run, and so does any scan of a long text), or calls Azure AI
Content Safety when the check has an adapter and one is configured (falling back to the local
detector if Azure fails, so a Content Safety outage never fails a request).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from shared.embeddings.memo import EncoderDeferred, memo_only
from shared.guardrails.verdicts import Action, Finding, Stage

logger = logging.getLogger(__name__)
# Texts longer than this are scanned in a worker thread: the local detectors are linear, ~1 µs a
# character, so a long prompt would otherwise hold the event loop (every tenant's requests) for its scan.
OFF_LOOP_CHARS = 2048
# Texts past this are scanned one at a time on a lane of their own: a huge prompt's pattern scans hold
# the interpreter lock for seconds in all, and three such scans side by side (PII, injection, toxicity)
# would leave every small request on the worker waiting three times as long for each step it takes.
LARGE_TEXT_CHARS = 65_536
_LARGE_TEXT_LANE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardrails-large-text")


class CheckOptions(BaseModel):
    """Base of each check's options (unknown keys are an error at policy load)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class ScanContext:
    stage: Stage
    context_docs: list[str] = field(default_factory=list)
    question: str | None = None
    is_document: bool = False  # a supplied document or tool result rather than the user's own words
    # Text the stream has already emitted (output checks that need the whole answer so far).
    preceding: str = ""
    # Catalog records retrieved for the request (grounding sources): the product-claim check's catalog.
    products: list[dict[str, Any]] = field(default_factory=list)


class Check:
    name: ClassVar[str]
    stages: ClassVar[frozenset[Stage]] = frozenset({Stage.INPUT, Stage.OUTPUT})
    actions: ClassVar[frozenset[Action]] = frozenset({Action.BLOCK, Action.FLAG})
    Options: ClassVar[type[CheckOptions]] = CheckOptions
    # Uses the transformer encoder: its cheap stages run inline, and the scan moves to a worker thread
    # only when the encoder would have to run (milliseconds of CPU that would hold the event loop).
    heavy: ClassVar[bool] = False
    azure_service: ClassVar[str | None] = None  # "content_safety" | "language": the Azure service with an adapter
    # Which parts of a request an input rule reads: user messages, and supplied documents (indirect attacks).
    reads_context_on_input: bool = False
    last_user_message_only: ClassVar[bool] = False
    # Judge only the new turn (the user messages after the last assistant reply): earlier turns were
    # checked when they were new, and re-judging the whole history on every turn multiplies both the
    # cost and the chance of a false block. A rule's ``history: true`` option judges every turn.
    latest_turn_only: bool = False

    def __init__(self, options: CheckOptions, *, base_dir: Any = None, azure: Any = None) -> None:
        self.options = options
        self.azure = azure  # the client of ``azure_service`` when it is configured, else None

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        raise NotImplementedError

    async def scan_azure(self, text: str, ctx: ScanContext) -> Finding | None:
        """Override where Azure AI Content Safety offers this check; None = no adapter."""
        return None

    async def ascan(self, text: str, ctx: ScanContext) -> Finding:
        if self.azure is not None:
            fallback: str | None = None
            try:
                finding = await self.scan_azure(text, ctx)
            except Exception as exc:
                logger.warning("Azure Content Safety failed for %s, using the local detector: %s", self.name, exc)
                finding = None
                fallback = type(exc).__name__
            if finding is not None:
                return finding
            if fallback:
                local = await self._scan_local(text, ctx)
                local.detail["azure_fallback"] = fallback
                return local
        return await self._scan_local(text, ctx)

    async def _scan_local(self, text: str, ctx: ScanContext) -> Finding:
        if len(text) > LARGE_TEXT_CHARS:
            context = contextvars.copy_context()  # as asyncio.to_thread does (spans, request ids)
            return await asyncio.get_running_loop().run_in_executor(_LARGE_TEXT_LANE, context.run, self.scan, text,
                                                                    ctx)
        if len(text) > OFF_LOOP_CHARS:  # a large text takes the local detectors > 1 ms
            return await asyncio.to_thread(self.scan, text, ctx)
        if self.heavy:
            # a handoff to a thread costs more CPU (~0.2 ms) than a sentence's cheap stage, so that runs
            # here; a scan the encoder must join starts again in a thread (the cheap stage is redone)
            try:
                with memo_only():
                    return self.scan(text, ctx)
            except EncoderDeferred:
                return await asyncio.to_thread(self.scan, text, ctx)
        return self.scan(text, ctx)


_REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    _REGISTRY[cls.name] = cls
    return cls


def registered_checks() -> dict[str, type[Check]]:
    """The checks registered so far, by name (``shared.guardrails.catalog`` loads the built-in ones)."""
    return dict(_REGISTRY)
