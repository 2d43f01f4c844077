"""The request-log schema: one ``RequestRecord`` per gateway request, success or failure.

This is the one place that says what a request-log document holds. The pipeline and the feature
adapters (routing, limits, guardrails, cache, prompts) fill it in as the request goes; the recorder
(``shared.gateway.recorder``) completes it once the request is over and hands it to the request log
(``shared.request_log``), the limiter's settlement and telemetry. Readers (feedback capture,
curation, canary judging, ``llmops costs``) read the stored documents by these names.

The records are plain dicts on the wire and in the store (``TypedDict``): typing costs nothing per
request, and a stored document from an older version is still a valid record (every key is optional
to readers; the recorder always sets the ones under "always present").
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int
    # reasoning models: the part of completion_tokens spent thinking (billed as output, never shown)
    reasoning_tokens: NotRequired[int]


class RouteRecord(TypedDict, total=False):
    mode: str  # auto | explicit | pinned | policy
    tier: str
    reason: str
    plan: list[str]  # deployment aliases in try order
    score: float
    canary_of: str  # set when a canary candidate took the request ahead of this alias


class Attempt(TypedDict, total=False):
    deployment: str
    latency_ms: float
    status: int | None
    error: str


class BackendFailure(TypedDict):
    deployment: str
    status: int | None
    code: str | None


class Reserved(TypedDict):
    tokens: int
    cost_usd: float


class Transcript(TypedDict):
    messages: list[dict[str, Any]]
    completion: str


class GuardrailStreamRecord(TypedDict):
    sent_chars: int
    blocked: str | None


class RequestRecord(TypedDict, total=False):
    # -- always present (set by the recorder) ---------------------------------------------
    id: str  # the x-request-id
    tenant_id: str  # "_unauthenticated" when the request never authenticated
    app_id: str | None
    key_id: str | None
    operation: str  # the endpoint kind: chat (embeddings, responses...)
    ts: float  # received, epoch seconds
    created_at: str  # received, ISO 8601 UTC
    requested_model: str | None
    deployment: str | None  # the alias that answered (or last failed)
    tier: str | None
    server_address: str | None
    status: int  # the HTTP status the client got (499: the client went away mid-stream)
    outcome: str  # ok | auth_error | rate_limited | client_error | upstream_error | internal_error | ...
    streamed: bool
    latency_ms: float
    overhead_ms: float  # latency minus the time spent waiting for model backends
    cost_usd: float
    trace_id: str  # the span's trace id (32 hex): Application Insights' OperationId
    ttl: int  # retention in seconds (LLMOPS_REQUEST_LOG_TTL_DAYS): Cosmos DB's per-item TTL
    # -- the request's parameters -----------------------------------------------------------
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    max_tokens_set_by: str  # "limits": the gateway bounded an unbounded request
    # -- the answer ---------------------------------------------------------------------------
    usage: Usage
    usage_estimated: bool  # counted locally: the backend sent no usage (or the stream broke)
    response_model: str | None
    response_id: str | None
    finish_reasons: list[str]
    backend_latency_ms: float
    ttft_ms: float  # streams: time to the first chunk
    stream_end: str  # complete | upstream_interrupted | guardrail_blocked | client_disconnected
    transcript: Transcript  # only when the app's feedback policy retains transcripts
    content: dict[str, str]  # input/output text for telemetry, only when content capture is on
    # -- errors -------------------------------------------------------------------------------
    error_code: str
    error_message: str
    backend_error: BackendFailure
    # -- routing, failover, rollouts --------------------------------------------------------
    route: RouteRecord
    attempts: list[Attempt]
    rollout_id: str
    # -- limits -------------------------------------------------------------------------------
    reserved: Reserved
    limit_kind: str  # rpm | tpm | budget: the meter that refused
    # -- prompt registry and optimisation ----------------------------------------------------
    prompt: dict[str, Any]  # name, version, label, variant (shared.prompts.resolver)
    optimisation: dict[str, Any]  # the optimiser's report (shared.optimisation)
    # -- orchestration (shared.gateway.orchestration / responses) ------------------------------
    conversation: dict[str, Any]  # id, stored_messages, sent_messages
    grounding: dict[str, Any]  # sources, top_k, passages (chunk_id, source, score)
    response_stored: str  # the Responses API response id kept in memory
    # -- guardrails ---------------------------------------------------------------------------
    guardrails: list[dict[str, Any]]  # one verdict record per check and stage (never the matched text)
    guardrails_policy: str
    guardrails_policy_error: str
    guardrails_stream: GuardrailStreamRecord
    # -- response cache -------------------------------------------------------------------
    cache: str  # hit-exact | hit-semantic | miss | bypass | off | not-cacheable
    cache_hit: dict[str, Any]  # status, entry, saved_tokens, similarity, cosine (shared.cache.service.CacheHit)
