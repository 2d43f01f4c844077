"""The local span file's lines: the same JSON as the SDK's ``ReadableSpan.to_json``, one line each."""

from __future__ import annotations

import json

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from shared.observability.telemetry import SpanLines


def test_a_line_holds_what_to_json_holds() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "llmops-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("parent") as parent:
        with tracer.start_as_current_span("chat gpt-4o-mini", links=[Link(parent.get_span_context(), {"k": 1})],
                                          attributes={"gen_ai.usage.input_tokens": 12, "llmops.tags": ("a", "b")}
                                          ) as span:
            span.add_event("guardrail", {"check": "pii", "score": 0.5})
            span.set_status(Status(StatusCode.ERROR, "blocked"))
    lines = SpanLines()
    for finished in exporter.get_finished_spans():
        line = lines(finished)
        assert line.endswith("\n") and "\n" not in line[:-1]
        assert json.loads(line) == json.loads(finished.to_json(indent=None))
    provider.shutdown()
