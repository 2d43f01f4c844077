"""Every telemetry name the platform emits: span names, attribute keys and metric instruments.

The Azure Monitor workbook and alert rules (``infra/``) are built from these constants, and the
infra tests read them from here, so renaming one here without updating the dashboards fails a test.

GenAI names follow the OpenTelemetry semantic conventions for generative AI, version pinned below
(development status). Platform-specific names live under ``llmops.``. Metric dimensions never carry
tenant or app ids (Azure Monitor custom metrics: <= 10 dimensions, 50k active series); those go on
spans and logs only.

In Application Insights, spans of kind CLIENT land in ``AppDependencies`` (``Name``, ``DurationMs``,
``Success``, ``ResultCode``, attributes in ``Properties``) and metrics in ``AppMetrics`` (``Name``,
``Sum``, ``ItemCount``, dimensions in ``Properties``).
"""

from __future__ import annotations

GENAI_SEMCONV_VERSION = "1.37.0"
INSTRUMENTATION_SCOPE = "llmops.gateway"

# --- spans --------------------------------------------------------------------------------
OPERATION_CHAT = "chat"
OPERATION_EMBEDDINGS = "embeddings"
PROVIDER_AZURE_OPENAI = "azure.ai.openai"


def chat_span_name(request_model: str) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}`` per the GenAI conventions."""
    return f"{OPERATION_CHAT} {request_model}"


# GenAI semantic-convention attributes
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"  # only with content capture switched on
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"  # only with content capture switched on
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"

# platform attributes (spans carry all of them; metrics only the low-cardinality ones)
LLMOPS_REQUEST_ID = "llmops.request_id"
LLMOPS_TENANT = "llmops.tenant"
LLMOPS_APP = "llmops.app"
LLMOPS_DEPLOYMENT = "llmops.deployment"
LLMOPS_TIER = "llmops.tier"
LLMOPS_ROUTE_REASON = "llmops.route.reason"
LLMOPS_ROUTE_SCORE = "llmops.route.score"
LLMOPS_CACHE_STATUS = "llmops.cache.status"
LLMOPS_PROMPT = "llmops.prompt"
LLMOPS_COST_USD = "llmops.cost_usd"
LLMOPS_OVERHEAD_MS = "llmops.overhead_ms"
LLMOPS_TTFT_MS = "llmops.ttft_ms"  # streamed requests: time to the first chunk the client received
LLMOPS_REASONING_TOKENS = "llmops.usage.reasoning_tokens"  # part of the output tokens (reasoning models)
LLMOPS_STATUS = "llmops.status"  # ok | client_error | rate_limited | upstream_error | guardrail_blocked | ...
LLMOPS_STREAMED = "llmops.streamed"
LLMOPS_GUARDRAIL_CHECK = "llmops.guardrail.check"
LLMOPS_GUARDRAIL_ACTION = "llmops.guardrail.action"
LLMOPS_GUARDRAIL_STAGE = "llmops.guardrail.stage"  # input | output
LLMOPS_LIMIT_KIND = "llmops.limit.kind"  # rpm | tpm | budget
LLMOPS_FEEDBACK_RATING = "llmops.feedback.rating"
LLMOPS_FEEDBACK_VALUE = "llmops.feedback.value"  # the rating on a 0..1 scale, on feedback log records
LLMOPS_RETRAINING_STATUS = "llmops.retraining.status"
LLMOPS_BUSINESS_EVENT = "llmops.business.event"  # task_completed | escalated_to_human | conversion | ...
LLMOPS_MONITOR = "llmops.monitor"  # a drift monitor's name (shared/monitoring/definitions.py)
LLMOPS_MONITOR_STATUS = "llmops.monitor.status"  # ok | alarm | no_data

# --- metrics ------------------------------------------------------------------------------
# GenAI client metrics (histograms)
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"  # {token}, with gen_ai.token.type input|output
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"  # s
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"  # s

# platform metrics
METRIC_REQUESTS = "llmops.gateway.requests"  # counter {request}: deployment, tier, cache status, status
METRIC_REQUEST_DURATION = "llmops.gateway.request.duration"  # histogram s: end to end, per deployment
METRIC_OVERHEAD = "llmops.gateway.overhead"  # histogram s: time spent in the gateway itself
METRIC_COST = "llmops.gateway.cost"  # counter USD, per deployment
METRIC_CACHE_LOOKUPS = "llmops.cache.lookups"  # counter: llmops.cache.status
METRIC_GUARDRAIL_VERDICTS = "llmops.guardrail.verdicts"  # counter: check, action, stage
METRIC_RATE_LIMITED = "llmops.ratelimit.rejections"  # counter: llmops.limit.kind
METRIC_FEEDBACK_SCORE = "llmops.feedback.score"  # histogram 0..1, per deployment and cache status
METRIC_RETRAINING_RUNS = "llmops.retraining.runs"  # counter: llmops.retraining.status
METRIC_BREAKER_STATE = "llmops.routing.breaker.state"  # gauge per deployment: 0 closed, 1 half open, 2 open
METRIC_BUSINESS_EVENTS = "llmops.business.events"  # counter: llmops.business.event, deployment
METRIC_MONITOR_VALUE = "llmops.monitor.value"  # histogram: a monitor's statistic per run (monitor, status)
METRIC_MONITOR_ALARMS = "llmops.monitor.alarms"  # counter: monitor runs that alarmed (llmops.monitor)

ALL_METRICS: tuple[str, ...] = (
    METRIC_TOKEN_USAGE,
    METRIC_OPERATION_DURATION,
    METRIC_TIME_TO_FIRST_CHUNK,
    METRIC_REQUESTS,
    METRIC_REQUEST_DURATION,
    METRIC_OVERHEAD,
    METRIC_COST,
    METRIC_CACHE_LOOKUPS,
    METRIC_GUARDRAIL_VERDICTS,
    METRIC_RATE_LIMITED,
    METRIC_FEEDBACK_SCORE,
    METRIC_RETRAINING_RUNS,
    METRIC_BREAKER_STATE,
    METRIC_BUSINESS_EVENTS,
    METRIC_MONITOR_VALUE,
    METRIC_MONITOR_ALARMS,
)
