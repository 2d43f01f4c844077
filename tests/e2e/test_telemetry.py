"""One span per request with the GenAI semantic-convention attributes, metrics, and no content by default."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.observability import names as n
from shared.observability.telemetry import Telemetry
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration


def test_span_and_metrics_per_request(tmp_path) -> None:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    telemetry = Telemetry(tracer_provider, MeterProvider(metric_readers=[reader]))
    with running_stack(tmp_path, telemetry=telemetry) as stack:
        client = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)
        secret = "my card number is 4111 1111 1111 1111"
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": secret}],
                                       max_tokens=20, temperature=0.5)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        stack.flush_log()
    finished = spans.get_finished_spans()
    ok = next(s for s in finished if s.name == "chat gpt-4o")
    attributes = dict(ok.attributes)
    assert ok.kind == SpanKind.CLIENT
    assert attributes[n.GEN_AI_OPERATION_NAME] == "chat"
    assert attributes[n.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert attributes[n.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert attributes[n.GEN_AI_RESPONSE_MODEL] == "gpt-4o-sim"
    assert attributes[n.GEN_AI_USAGE_INPUT_TOKENS] > 0 and attributes[n.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert attributes[n.GEN_AI_REQUEST_MAX_TOKENS] == 20 and attributes[n.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert attributes[n.LLMOPS_TENANT] == "contoso" and attributes[n.LLMOPS_DEPLOYMENT] == "gpt-4o"
    assert attributes[n.LLMOPS_COST_USD] > 0
    assert all(secret not in str(value) for value in attributes.values())  # no content by default
    failed = next(s for s in finished if s.name == "chat nope")
    assert failed.attributes[n.ERROR_TYPE] == "model_not_found"

    data = reader.get_metrics_data()
    metric_names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {n.METRIC_REQUESTS, n.METRIC_TOKEN_USAGE, n.METRIC_OPERATION_DURATION, n.METRIC_COST,
            n.METRIC_OVERHEAD, n.METRIC_REQUEST_DURATION} <= metric_names
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    assert n.LLMOPS_TENANT not in point.attributes  # no tenant ids in metric dimensions
