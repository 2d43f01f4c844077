"""OpenTelemetry for the gateway: one span per request with GenAI attributes, plus metrics.

In Azure, ``configure_azure_monitor()`` (the Azure Monitor distro) exports to Application Insights
when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (or the Functions worker has configured it
already, with ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true``). Locally, spans and metrics go
to JSON-lines files under ``<data_dir>/telemetry`` (or the console). Prompt and completion text is
recorded only when ``LLMOPS_TELEMETRY_CAPTURE_CONTENT`` is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.util import ns_to_iso_str
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from shared.config import Settings
from shared.observability import names as n
from shared.observability.rotation import RotatingFile

log = logging.getLogger(__name__)

_HISTOGRAM_UNITS = {
    n.METRIC_TOKEN_USAGE: "{token}",
    n.METRIC_OPERATION_DURATION: "s",
    n.METRIC_TIME_TO_FIRST_CHUNK: "s",
    n.METRIC_REQUEST_DURATION: "s",
    n.METRIC_OVERHEAD: "s",
    n.METRIC_FEEDBACK_SCORE: "1",
    n.METRIC_MONITOR_VALUE: "1",
}
_COUNTER_UNITS = {
    n.METRIC_REQUESTS: "{request}",
    n.METRIC_COST: "USD",
    n.METRIC_CACHE_LOOKUPS: "{lookup}",
    n.METRIC_GUARDRAIL_VERDICTS: "{verdict}",
    n.METRIC_RATE_LIMITED: "{request}",
    n.METRIC_RETRAINING_RUNS: "{run}",
    n.METRIC_BUSINESS_EVENTS: "{event}",
    n.METRIC_MONITOR_ALARMS: "{alarm}",
}


class Telemetry:
    """The tracer and instruments the platform records with."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, *, capture_content: bool = False):
        self.tracer = trace.get_tracer(n.INSTRUMENTATION_SCOPE, tracer_provider=tracer_provider,
                                       schema_url=f"https://opentelemetry.io/schemas/{n.GENAI_SEMCONV_VERSION}")
        meter = metrics.get_meter(n.INSTRUMENTATION_SCOPE, meter_provider=meter_provider)
        self._meter = meter
        self.capture_content = capture_content
        self.histograms = {name: meter.create_histogram(name, unit=unit) for name, unit in _HISTOGRAM_UNITS.items()}
        self.counters = {name: meter.create_counter(name, unit=unit) for name, unit in _COUNTER_UNITS.items()}
        self._providers = (tracer_provider, meter_provider)
        self.files: list[RotatingFile] = []  # the local exporters' files, closed after the providers

    def observe_breakers(self, states: Callable[[], Mapping[str, str]]) -> None:
        """Report each deployment's circuit-breaker state (this instance's) whenever metrics are collected."""
        levels = {"closed": 0, "half_open": 1, "open": 2}

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(levels.get(state, 0), {n.LLMOPS_DEPLOYMENT: alias})
                    for alias, state in states().items()]

        self._meter.create_observable_gauge(n.METRIC_BREAKER_STATE, callbacks=[observe], unit="1")

    def histogram(self, name: str, value: float, attributes: Mapping[str, Any]) -> None:
        self.histograms[name].record(value, attributes)

    def count(self, name: str, value: float = 1, attributes: Mapping[str, Any] | None = None) -> None:
        self.counters[name].add(value, attributes or {})

    def start_chat_span(self, request_model: str, start_time_ns: int) -> trace.Span:
        return self.tracer.start_span(n.chat_span_name(request_model), kind=SpanKind.CLIENT, start_time=start_time_ns)

    def record_request(self, span: trace.Span, record: Mapping[str, Any], *, end_time_ns: int | None = None) -> None:
        """Put a finished request-log record on its span and into the metrics, then end the span."""
        usage = record.get("usage") or {}
        deployment = record.get("deployment") or ""
        status = int(record.get("status") or 0)
        attributes = {
            n.GEN_AI_OPERATION_NAME: n.OPERATION_CHAT,
            n.GEN_AI_PROVIDER_NAME: n.PROVIDER_AZURE_OPENAI,
            n.GEN_AI_REQUEST_MODEL: record.get("requested_model") or "",
            n.GEN_AI_RESPONSE_MODEL: record.get("response_model") or "",
            n.GEN_AI_RESPONSE_ID: record.get("response_id") or "",
            n.GEN_AI_REQUEST_STREAM: bool(record.get("streamed")),
            n.GEN_AI_USAGE_INPUT_TOKENS: int(usage.get("prompt_tokens") or 0),
            n.GEN_AI_USAGE_OUTPUT_TOKENS: int(usage.get("completion_tokens") or 0),
            n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: int(usage.get("cached_tokens") or 0),
            n.SERVER_ADDRESS: record.get("server_address") or "",
            n.HTTP_RESPONSE_STATUS_CODE: status,
            n.LLMOPS_REQUEST_ID: record["id"],
            n.LLMOPS_TENANT: record.get("tenant_id") or "",
            n.LLMOPS_APP: record.get("app_id") or "",
            n.LLMOPS_DEPLOYMENT: deployment,
            n.LLMOPS_TIER: record.get("tier") or "",
            n.LLMOPS_CACHE_STATUS: record.get("cache") or "miss",
            n.LLMOPS_COST_USD: float(record.get("cost_usd") or 0.0),
            n.LLMOPS_OVERHEAD_MS: float(record.get("overhead_ms") or 0.0),
            n.LLMOPS_STATUS: record.get("outcome") or "",
            n.LLMOPS_STREAMED: bool(record.get("streamed")),
        }
        requested = (("max_tokens", n.GEN_AI_REQUEST_MAX_TOKENS), ("temperature", n.GEN_AI_REQUEST_TEMPERATURE),
                     ("top_p", n.GEN_AI_REQUEST_TOP_P))
        for key, attribute in requested:
            if record.get(key) is not None:
                attributes[attribute] = record[key]
        if record.get("finish_reasons"):
            attributes[n.GEN_AI_RESPONSE_FINISH_REASONS] = list(record["finish_reasons"])
        if record.get("ttft_ms") is not None:
            attributes[n.LLMOPS_TTFT_MS] = float(record["ttft_ms"])
        if usage.get("reasoning_tokens"):
            attributes[n.LLMOPS_REASONING_TOKENS] = int(usage["reasoning_tokens"])
        route = record.get("route") or {}
        if route.get("reason"):
            attributes[n.LLMOPS_ROUTE_REASON] = str(route["reason"])
        if route.get("score") is not None:
            attributes[n.LLMOPS_ROUTE_SCORE] = float(route["score"])
        prompt = record.get("prompt")
        if prompt:
            attributes[n.LLMOPS_PROMPT] = f"{prompt.get('name')}@{prompt.get('version')}"
        if record.get("error_code") or status >= 400:
            attributes[n.ERROR_TYPE] = str(record.get("error_code") or status)
            span.set_status(Status(StatusCode.ERROR, str(record.get("error_code") or status)))
        if self.capture_content and record.get("content"):
            attributes[n.GEN_AI_INPUT_MESSAGES] = str(record["content"].get("input", ""))
            attributes[n.GEN_AI_OUTPUT_MESSAGES] = str(record["content"].get("output", ""))
        span.set_attributes(attributes)
        span.end(end_time=end_time_ns)
        self._record_metrics(record, deployment, status, usage)

    def _record_metrics(self, record: Mapping[str, Any], deployment: str, status: int,
                        usage: Mapping[str, Any]) -> None:
        base = {n.GEN_AI_OPERATION_NAME: n.OPERATION_CHAT, n.GEN_AI_PROVIDER_NAME: n.PROVIDER_AZURE_OPENAI,
                n.GEN_AI_REQUEST_MODEL: record.get("requested_model") or "",
                n.GEN_AI_RESPONSE_MODEL: record.get("response_model") or ""}
        dims = {n.LLMOPS_DEPLOYMENT: deployment, n.LLMOPS_TIER: record.get("tier") or "",
                n.LLMOPS_CACHE_STATUS: record.get("cache") or "miss", n.HTTP_RESPONSE_STATUS_CODE: status,
                n.LLMOPS_STATUS: record.get("outcome") or ""}
        self.count(n.METRIC_REQUESTS, 1, dims)
        latency_s = float(record.get("latency_ms") or 0.0) / 1000
        self.histogram(n.METRIC_REQUEST_DURATION, latency_s, {n.LLMOPS_DEPLOYMENT: deployment})
        overhead_s = float(record.get("overhead_ms") or 0.0) / 1000
        self.histogram(n.METRIC_OVERHEAD, overhead_s, {n.LLMOPS_DEPLOYMENT: deployment})
        if record.get("cost_usd"):
            self.count(n.METRIC_COST, float(record["cost_usd"]), {n.LLMOPS_DEPLOYMENT: deployment})
        if record.get("cache"):
            self.count(n.METRIC_CACHE_LOOKUPS, 1, {n.LLMOPS_CACHE_STATUS: record["cache"]})
        if deployment and record.get("backend_latency_ms") is not None:
            error = {n.ERROR_TYPE: str(record["error_code"])} if record.get("error_code") else {}
            self.histogram(n.METRIC_OPERATION_DURATION, float(record["backend_latency_ms"]) / 1000, base | error)
            for token_type, key in (("input", "prompt_tokens"), ("output", "completion_tokens")):
                if usage.get(key):
                    self.histogram(n.METRIC_TOKEN_USAGE, int(usage[key]), base | {n.GEN_AI_TOKEN_TYPE: token_type})
        if record.get("ttft_ms") is not None:
            self.histogram(n.METRIC_TIME_TO_FIRST_CHUNK, float(record["ttft_ms"]) / 1000, base)
        for verdict in record.get("guardrails") or ():
            if isinstance(verdict, Mapping) and verdict.get("check"):
                self.count(n.METRIC_GUARDRAIL_VERDICTS, 1, {
                    n.LLMOPS_GUARDRAIL_CHECK: verdict["check"], n.LLMOPS_GUARDRAIL_ACTION: verdict.get("action", ""),
                    n.LLMOPS_GUARDRAIL_STAGE: verdict.get("stage", "")})
        if record.get("limit_kind"):
            self.count(n.METRIC_RATE_LIMITED, 1, {n.LLMOPS_LIMIT_KIND: record["limit_kind"]})

    def shutdown(self) -> None:
        for provider in self._providers:
            if provider is not None and hasattr(provider, "shutdown"):
                try:
                    provider.shutdown()
                except Exception:  # exporters may already be closed at interpreter exit
                    log.debug("telemetry provider shutdown failed", exc_info=True)
        for file in self.files:
            file.close()


def _context(context: SpanContext | None) -> dict[str, str] | None:
    if context is None:
        return None
    return {"trace_id": f"0x{trace.format_trace_id(context.trace_id)}",
            "span_id": f"0x{trace.format_span_id(context.span_id)}", "trace_state": repr(context.trace_state)}


class SpanLines:
    """A span as one compact JSON line, in ``ReadableSpan.to_json``'s shape; the resource is formatted
    once (``to_json`` serialises and re-parses it for every span: ~8% of a bare request's CPU locally)."""

    def __init__(self) -> None:
        self._resources: dict[int, tuple[Resource, Any]] = {}

    def __call__(self, span: ReadableSpan) -> str:
        resource = self._resources.get(id(span.resource))
        if resource is None or resource[0] is not span.resource:
            resource = self._resources[id(span.resource)] = (span.resource, orjson.loads(span.resource.to_json()))
        status: dict[str, str] = {"status_code": span.status.status_code.name}
        if span.status.description:
            status["description"] = span.status.description
        line = {
            "name": span.name, "context": _context(span.context), "kind": str(span.kind),
            "parent_id": f"0x{trace.format_span_id(span.parent.span_id)}" if span.parent else None,
            "start_time": ns_to_iso_str(span.start_time) if span.start_time else None,
            "end_time": ns_to_iso_str(span.end_time) if span.end_time else None,
            "status": status, "attributes": dict(span.attributes or {}),
            "events": [{"name": e.name, "timestamp": ns_to_iso_str(e.timestamp), "attributes": dict(e.attributes or {})}
                       for e in span.events],
            "links": [{"context": _context(link.context), "attributes": dict(link.attributes or {})}
                      for link in span.links],
            "resource": resource[1],
        }
        return orjson.dumps(line, default=str).decode() + "\n"


def _file(path: Path, settings: Settings) -> Any:
    """A local telemetry file that rotates by size and age (shared/observability/rotation.py)."""
    return RotatingFile(path, max_bytes=settings.telemetry_max_bytes, max_age_s=settings.telemetry_max_age_s,
                        backups=settings.telemetry_backups)


def _ingestion_credential(settings: Settings) -> dict[str, Any]:
    """Entra ID ingestion when Application Insights has local auth off (``Authorization=AAD``)."""
    if "authorization=aad" not in (settings.applicationinsights_authentication_string or "").lower():
        return {}
    from azure.identity import ManagedIdentityCredential

    return {"credential": ManagedIdentityCredential(client_id=settings.azure_client_id)}


def setup_telemetry(settings: Settings) -> Telemetry:
    """Build the process's telemetry from the settings (Azure Monitor, local files, console or none)."""
    resource = Resource.create({"service.name": settings.service_name})
    if settings.applicationinsights_connection_string:
        if not isinstance(trace.get_tracer_provider(), TracerProvider):  # the Functions worker may have done it
            from azure.monitor.opentelemetry import configure_azure_monitor

            configure_azure_monitor(connection_string=settings.applicationinsights_connection_string,
                                    resource=resource, sampling_ratio=settings.telemetry_sampling_ratio,
                                    **_ingestion_credential(settings))
        return Telemetry(capture_content=settings.telemetry_capture_content)
    tracer_provider = TracerProvider(resource=resource)
    meter_provider: MeterProvider
    mode = settings.telemetry_local_exporter
    if mode == "none":
        meter_provider = MeterProvider(resource=resource)
    else:
        span_out = _file(settings.telemetry_dir / "spans.jsonl", settings) if mode == "file" else None
        metric_out = _file(settings.telemetry_dir / "metrics.jsonl", settings) if mode == "file" else None
        span_exporter = ConsoleSpanExporter(out=span_out, formatter=SpanLines()) if span_out else ConsoleSpanExporter()
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        metric_exporter = (ConsoleMetricExporter(out=metric_out, formatter=lambda m: m.to_json(indent=None) + "\n")
                           if metric_out else ConsoleMetricExporter())
        meter_provider = MeterProvider(resource=resource, metric_readers=[
            PeriodicExportingMetricReader(metric_exporter, export_interval_millis=15_000)])
    telemetry = Telemetry(tracer_provider, meter_provider, capture_content=settings.telemetry_capture_content)
    telemetry.files = [f for f in (span_out, metric_out) if f is not None] if mode != "none" else []
    return telemetry
