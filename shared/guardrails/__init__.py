"""Guardrails on input and output: PII, prompt injection, toxicity, groundedness, product claims, topics.

Entry points (import the modules themselves; this package imports nothing, so ``shared.guardrails.pii``
stays light for callers that only redact):

- ``service.GuardrailService``: the pipeline (policies from ``policies/guardrails/*.yaml``);
- ``gateway.RequestGuardrails``: how ``ChatGateway`` runs it for one request (400/422, stream filter);
- ``pii.PiiScanner`` and the other detectors, usable on their own (``llmops guard scan``).
"""
