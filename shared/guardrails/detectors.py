"""The built-in checks: each wraps a local detector and, where Azure offers one, its adapter.

| check | stages | local detector | Azure AI Content Safety |
|---|---|---|---|
| pii | input, output | checksummed patterns + cues (``pii.py``) | AI Language PII recognition |
| injection | input | rules + MiniLM head (``injection.py``) | Prompt Shields ``text:shieldPrompt`` |
| toxicity | input, output | MiniLM head + lexicon (``toxicity.py``) | ``text:analyze`` |
| groundedness | output | support scoring (``groundedness.py``) | ``text:detectGroundedness`` |
| product_claims | output | catalog contradictions (``claims.py``) | - |
| topics | input, output | MiniLM similarity to declared topics (``topics.py``) | - |
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from shared.guardrails.checks import Check, CheckOptions, ScanContext, register
from shared.guardrails.claims import ProductCatalog, product_from_dict
from shared.guardrails.groundedness import GroundednessScorer
from shared.guardrails.injection import InjectionDetector
from shared.guardrails.pii import ALL_TYPES, PATTERN_TYPES, PiiScanner
from shared.guardrails.topics import TopicDetector
from shared.guardrails.toxicity import ToxicityDetector
from shared.guardrails.verdicts import Action, Finding, Span, Stage

OUTPUT_ONLY = frozenset({Stage.OUTPUT})


class PiiOptions(CheckOptions):
    types: list[str] = Field(default_factory=lambda: list(PATTERN_TYPES))


@register
class PiiCheck(Check):
    name = "pii"
    actions = frozenset({Action.BLOCK, Action.REDACT, Action.FLAG})
    Options = PiiOptions
    options: PiiOptions
    azure_service = "language"

    def __init__(self, options: PiiOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        unknown = set(options.types) - set(ALL_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {', '.join(ALL_TYPES)}")
        self.scanner = PiiScanner(options.types)

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        return _pii_finding(self.scanner.scan(text))

    async def scan_azure(self, text: str, ctx: ScanContext) -> Finding | None:
        wanted = set(self.options.types)
        spans = [Span(kind, start, end) for kind, start, end in await self.azure.recognize_pii(text) if kind in wanted]
        finding = _pii_finding(spans)
        finding.source = "azure"
        return finding


def _pii_finding(spans: list[Span]) -> Finding:
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.type] = counts.get(span.type, 0) + 1
    return Finding(1.0 if spans else 0.0, spans, {"types": counts} if counts else {})


class InjectionOptions(CheckOptions):
    scan_context: bool = True  # also scan supplied documents and tool results (indirect injection)
    max_windows: int = Field(default=16, ge=1, le=256)
    history: bool = False  # also judge the user turns before the last assistant reply


@register
class InjectionCheck(Check):
    name = "injection"
    azure_service = "content_safety"
    stages = frozenset({Stage.INPUT})
    Options = InjectionOptions
    options: InjectionOptions
    heavy = True

    def __init__(self, options: InjectionOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.detector = InjectionDetector(max_windows=options.max_windows)
        self.detector.require_models()
        self.reads_context_on_input = options.scan_context
        self.latest_turn_only = not options.history

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        score, detail = self.detector.score_document(text) if ctx.is_document else self.detector.score(text)
        return Finding(score, detail=detail)

    async def scan_azure(self, text: str, ctx: ScanContext) -> Finding | None:
        if ctx.is_document:
            result = await self.azure.shield_prompt(user_prompt="", documents=[text])
            attack = bool(result.get("documentsAnalysis", [{}])[0].get("attackDetected"))
        else:
            result = await self.azure.shield_prompt(user_prompt=text, documents=[])
            attack = bool(result.get("userPromptAnalysis", {}).get("attackDetected"))
        return Finding(1.0 if attack else 0.0, detail={"attack_detected": attack}, source="azure")


class ToxicityOptions(CheckOptions):
    history: bool = False  # on input: also judge the user turns before the last assistant reply


@register
class ToxicityCheck(Check):
    name = "toxicity"
    azure_service = "content_safety"
    Options = ToxicityOptions
    options: ToxicityOptions
    heavy = True

    def __init__(self, options: ToxicityOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.detector = ToxicityDetector()
        self.detector.require_models()
        self.latest_turn_only = not options.history

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        # A user's own turn of one window goes to the transformer head directly: leave-one-source-out,
        # the cheap stage deciding such texts cost 0.03 AUROC (README, detection); the vector is
        # usually the response cache's already. Documents and streamed answer sentences keep the cascade.
        own_turn = ctx.stage is Stage.INPUT and not ctx.is_document
        score, detail = self.detector.score(text, full_for_one_window=own_turn)
        return Finding(score, detail=detail)

    async def scan_azure(self, text: str, ctx: ScanContext) -> Finding | None:
        result = await self.azure.analyze_text(text)
        severities = {c["category"]: int(c.get("severity") or 0) for c in result.get("categoriesAnalysis", [])}
        worst = max(severities.values(), default=0)
        return Finding(min(1.0, worst / 6.0), detail={"severity": severities}, source="azure")


class GroundednessOptions(CheckOptions):
    min_context_chars: int = Field(default=20, ge=0)


@register
class GroundednessCheck(Check):
    name = "groundedness"
    azure_service = "content_safety"
    stages = OUTPUT_ONLY
    Options = GroundednessOptions
    options: GroundednessOptions

    def __init__(self, options: GroundednessOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.scorer = GroundednessScorer()
        self.span_threshold = 0.5

    def _context(self, ctx: ScanContext) -> str | None:
        context = "\n\n".join(ctx.context_docs)
        return context if len(context.strip()) >= self.options.min_context_chars else None

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        context = self._context(ctx)
        if context is None:
            return Finding(0.0, detail={"skipped": "no context"})
        # citation markers ("[2]") point at the sources, they claim nothing: blanked, offsets kept
        text = _CITATION_MARKER.sub(lambda m: " " * len(m.group()), text)
        score, sentences = self.scorer.score(text, context, ctx.question)
        spans = [Span("UNGROUNDED", s.start, s.end) for s in sentences if s.score >= self.span_threshold]
        detail = {
            "sentences": len(sentences),
            "unsupported_names": sum(s.unsupported_entities for s in sentences),
            "unsupported_numbers": sum(s.unsupported_numbers for s in sentences),
        }
        return Finding(score, spans, detail)

    async def ascan(self, text: str, ctx: ScanContext) -> Finding:
        if self._context(ctx) is None:
            return Finding(0.0, detail={"skipped": "no context"})
        return await super().ascan(text, ctx)

    async def scan_azure(self, text: str, ctx: ScanContext) -> Finding | None:
        result = await self.azure.detect_groundedness(text, ctx.context_docs, query=ctx.question)
        spans = []
        for item in result.get("ungroundedDetails", []):
            start = int(item.get("offset", {}).get("codePoint", 0))
            spans.append(Span("UNGROUNDED", start, start + int(item.get("length", {}).get("codePoint", 0))))
        score = float(result.get("ungroundedPercentage") or (1.0 if result.get("ungroundedDetected") else 0.0))
        return Finding(score, spans, {"ungrounded_detected": bool(result.get("ungroundedDetected"))}, source="azure")


_CITATION_MARKER = re.compile(r"\[\d{1,3}\]")


class ProductClaimsOptions(CheckOptions):
    # JSON or CSV path, relative to policies/ unless absolute; optional when requests are grounded in a
    # registered catalog source (the retrieved products are checked against then, and win over the file's)
    catalog: str | None = None


@register
class ProductClaimsCheck(Check):
    name = "product_claims"
    stages = OUTPUT_ONLY
    Options = ProductClaimsOptions
    options: ProductClaimsOptions

    def __init__(self, options: ProductClaimsOptions, *, base_dir: Path | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.catalog: ProductCatalog | None = None
        if options.catalog is not None:
            path = Path(options.catalog)
            if not path.is_absolute() and base_dir is not None:
                path = Path(base_dir) / path
            self.catalog = ProductCatalog.load(path)
        self._grounded: dict[tuple[str, ...], ProductCatalog] = {}

    def catalog_for(self, products: list[dict[str, Any]]) -> ProductCatalog | None:
        """The configured catalog, with the request's retrieved products in place of the same ids."""
        if not products:
            return self.catalog
        key = tuple(sorted(json.dumps(p, sort_keys=True) for p in products))
        catalog = self._grounded.get(key)
        if catalog is None:
            retrieved = [product_from_dict(p) for p in products]
            ids = {p.id for p in retrieved}
            base = [p for p in self.catalog.products if p.id not in ids] if self.catalog is not None else []
            catalog = ProductCatalog([*retrieved, *base])
            if len(self._grounded) >= 256:
                self._grounded.clear()
            self._grounded[key] = catalog
        return catalog

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        catalog = self.catalog_for(ctx.products)
        if catalog is None:
            return Finding(0.0, detail={"skipped": "no catalog"})
        spans, problems = catalog.check(text, ctx.preceding)
        detail = {"contradictions": problems[:10]} if problems else {}
        return Finding(1.0 if problems else 0.0, spans, detail)


class TopicsOptions(CheckOptions):
    allowed: list[str] = Field(default_factory=list)
    blocked: list[str] = Field(default_factory=list)
    min_similarity: float = Field(default=0.25, ge=-1, le=1)
    blocked_similarity: float = Field(default=0.35, ge=-1, le=1)


@register
class TopicsCheck(Check):
    name = "topics"
    Options = TopicsOptions
    options: TopicsOptions
    heavy = True
    last_user_message_only = True

    def __init__(self, options: TopicsOptions, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.detector = TopicDetector(
            options.allowed,
            options.blocked,
            min_similarity=options.min_similarity,
            blocked_similarity=options.blocked_similarity,
        )

    def scan(self, text: str, ctx: ScanContext) -> Finding:
        score, detail = self.detector.score(text)
        return Finding(score, detail=detail)


ALL_CHECKS = (PiiCheck, InjectionCheck, ToxicityCheck, GroundednessCheck, ProductClaimsCheck, TopicsCheck)
