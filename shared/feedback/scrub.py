"""PII scrubbing for training data: the guardrails' PII scanner and its typed-placeholder redaction."""

from __future__ import annotations

from shared.feedback.curation import Redactor


def pii_redactor() -> Redactor:
    from shared.guardrails.pii import PiiScanner

    scanner = PiiScanner()

    def redact(text: str) -> tuple[str, int]:
        spans = scanner.scan(text)
        return (scanner.redact(text, spans), len(spans)) if spans else (text, 0)

    return redact
