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

    # --- feedback loop ------------------------------------------------------------------
    # NCRONTAB (6 fields) for the retraining sweep timer; the Functions host reads it via %LLMOPS_...%.
    retrain_sweep_schedule: str = "0 0 3 * * *"
    retrain_sweep_min_examples: int = Field(default=20, ge=1)

    # --- guardrails (issue 4) -------------------------------------------------------------
    # Policy YAML files (and bindings.yaml); relative paths are taken from the repository root.
    guardrails_policy_dir: Path = Path("policies/guardrails")
    guardrails_default_policy: str = "default"
    # Azure AI Content Safety: when set, injection/toxicity/groundedness checks call it (Entra ID auth).
    content_safety_endpoint: str | None = None
    content_safety_key: str | None = None  # local experiments only; Azure uses the managed identity
    content_safety_timeout_s: float = Field(default=3.0, gt=0)
    # BLAS threads for the local detectors' encoder (process-wide): with requests running concurrently,
    # multi-threaded BLAS on small matrices only thrashes (measured: 18 ms vs 250 ms per prompt under load).
    # 0 leaves numpy's default.
    guardrails_blas_threads: int = Field(default=1, ge=0)

    @field_validator(
        "cosmos_endpoint", "deployments_json", "default_deployment", "content_safety_endpoint", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_sqlite_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "llmops.sqlite3"

    @property
    def resolved_guardrails_policy_dir(self) -> Path:
        if self.guardrails_policy_dir.is_absolute():
            return self.guardrails_policy_dir
        return Path(__file__).resolve().parents[1] / self.guardrails_policy_dir

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
