"""The platform's services, wired once per process from the settings.

``Platform.create(settings)`` builds the adapters the settings ask for (SQLite or Cosmos DB,
Azure Monitor or local telemetry) and the services on top. The HTTP and event functions call
``await get_platform()``: the first call in a process builds it inside the running event loop
(async clients must belong to that loop); later calls return the same object. The local host and
the tests may install their own with ``set_platform``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from shared.auth import Authenticator, KeyService
from shared.backends import ModelBackends
from shared.config import Settings, get_settings
from shared.deployments import DeploymentRegistry, load_registry
from shared.feedback.capture import FeedbackService
from shared.feedback.curation import CurationService
from shared.gateway import Gateway
from shared.health import HealthService
from shared.limits import UsageLimits
from shared.observability.telemetry import Telemetry, setup_telemetry
from shared.request_log import RequestLog
from shared.rollouts import CanaryJudge, RolloutPolicy, RolloutRouter, RolloutStore
from shared.routing import FailoverCaller
from shared.store import DocumentStore, build_store
from shared.tenants import TenantDirectory
from shared.tokens import warm_up_in_background

if TYPE_CHECKING:
    from shared.business.events import BusinessEventService
    from shared.embeddings.port import Embedder
    from shared.gateway.orchestration import OrchestrationSteps
    from shared.grounding.service import GroundingService
    from shared.grounding.uploads import BlobUploads
    from shared.monitoring.runner import MonitorRunner
    from shared.retraining.contract.runs import TrainingRunner
    from shared.retraining.coordinator import RetrainingCoordinator

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    store: DocumentStore
    tenants: TenantDirectory
    keys: KeyService
    auth: Authenticator
    deployments: DeploymentRegistry
    backends: ModelBackends
    request_log: RequestLog
    telemetry: Telemetry
    gateway: Gateway
    health: HealthService
    feedback: FeedbackService
    curation: CurationService
    rollouts: RolloutStore
    # Set by the local host: publishes Azure ML's events into the local event runtime.
    event_sink: Any = None
    _retraining: RetrainingCoordinator | None = None
    _grounding: GroundingService | None = None
    _uploads: BlobUploads | None = None
    _business: BusinessEventService | None = None
    _monitors: MonitorRunner | None = None
    _monitor_embedder: Embedder | None = None

    def business_events(self) -> BusinessEventService:
        """``POST /api/v1/events`` (shared/business): looks requests up like feedback does."""
        if self._business is None:
            from shared.business.events import BusinessEventService

            self._business = BusinessEventService(self.store, self.feedback, self.telemetry)
        return self._business

    def monitors(self) -> MonitorRunner:
        """The drift monitors (shared/monitoring); topic drift shares the cache's embedder when there is one."""
        if self._monitors is None:
            from shared.monitoring.runner import MonitorRunner

            self._monitors = MonitorRunner(self.store, self.telemetry, self.monitor_embedder,
                                           window_s=self.settings.monitor_window_s,
                                           reference_s=self.settings.monitor_reference_s)
        return self._monitors

    def monitor_embedder(self) -> Embedder:
        cached = getattr(getattr(self.gateway.cache, "cache", None), "embedder", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        if self._monitor_embedder is None:
            from shared.embeddings.port import build_embedder

            self._monitor_embedder = build_embedder(self.settings)
        return self._monitor_embedder

    def retraining(self) -> RetrainingCoordinator:
        """Built on first use: the training and serving adapters import heavy SDKs (azure-ai-ml)."""
        if self._retraining is None:
            self._retraining = build_retraining(self)
        self._retraining.event_sink = self.event_sink
        return self._retraining

    def grounding(self) -> GroundingService:
        """Grounding sources (shared/grounding), built on first use; shares the cache's embedder."""
        if self._grounding is None:
            from shared.grounding.service import build_grounding

            embedder = getattr(getattr(self.gateway.cache, "cache", None), "embedder", None)
            self._grounding = build_grounding(self.settings, self.store, embedder)
        return self._grounding

    def grounding_uploads(self) -> BlobUploads:
        """What the blob-upload event function calls (shared/grounding/uploads.py)."""
        if self._uploads is None:
            from shared.grounding.uploads import AzureBlobReader, BlobUploads

            self._uploads = BlobUploads(self.grounding(), AzureBlobReader(self.settings.storage_connection_string),
                                        container=self.settings.grounding_blob_container,
                                        max_bytes=self.settings.grounding_max_file_bytes)
        return self._uploads

    @classmethod
    async def create(cls, settings: Settings, *, telemetry: Telemetry | None = None,
                     store: DocumentStore | None = None) -> Platform:
        deployments = load_registry(settings)
        platform_ref: list[Platform] = []  # grounding is built on first use, from the platform
        store = store or build_store(settings)
        await store.open()
        tenants = TenantDirectory(store, ttl_s=settings.auth_cache_ttl_s)
        keys = KeyService(store, tenants, cache_ttl_s=settings.auth_cache_ttl_s)
        backends = ModelBackends(timeout_s=settings.backend_timeout_s,
                                 connect_timeout_s=settings.backend_connect_timeout_s,
                                 managed_identity_client_id=settings.azure_client_id)
        request_log = RequestLog(store, journal_dir=settings.request_journal_dir,
                                 flush_interval_s=settings.request_log_flush_interval_s,
                                 batch_size=settings.request_log_batch_size, fsync=settings.request_log_fsync,
                                 drain_interval_s=settings.request_log_drain_interval_s,
                                 ttl_s=settings.request_log_ttl_days * 86400)
        await request_log.start()
        telemetry = telemetry or setup_telemetry(settings)
        limits = UsageLimits(store, default_output_tokens=settings.limits_default_output_tokens)
        warm_up_in_background()  # the tokenizer file loads while the host finishes starting
        from shared.guardrails.gateway import RequestGuardrails
        from shared.guardrails.service import GuardrailService  # numpy & co.: not at import time

        guardrails = GuardrailService.from_settings(settings)  # loads and validates every policy file
        from shared.prompts.registry import PromptRegistry
        from shared.prompts.resolver import PromptResolver

        prompts = PromptResolver(PromptRegistry(store), ttl_s=settings.prompt_cache_ttl_s)
        from shared.entra_auth import build_entra_validator

        auth = Authenticator(keys, tenants, build_entra_validator(settings))
        rollouts = RolloutStore(store)
        gateway = Gateway(settings=settings, auth=auth, deployments=deployments, backends=backends,
                          request_log=request_log, telemetry=telemetry, failover=FailoverCaller.from_settings(settings),
                          limits=limits, rollouts=RolloutRouter(rollouts),
                          guardrails=partial(RequestGuardrails, guardrails), prompts=prompts,
                          cache=build_gateway_cache(settings, store),
                          orchestration=build_orchestration(settings, store, lambda: platform_ref[0].grounding()))
        telemetry.observe_breakers(gateway.failover.breakers.states)
        health = HealthService(store, deployments, backends, gateway.failover.breakers)
        redactor = LazyRedactor()  # one PII scanner for feedback capture and curation, loaded on first use
        feedback = FeedbackService(store, request_log, telemetry, redactor=redactor,
                                   lookup_retry_s=min(1.0, 2 * settings.request_log_flush_interval_s))
        curation = CurationService(store, tenants, redactor)
        platform = cls(settings, store, tenants, keys, auth, deployments, backends, request_log, telemetry, gateway,
                       health, feedback, curation, rollouts)
        platform_ref.append(platform)
        return platform

    async def close(self) -> None:
        if self._monitor_embedder is not None:
            await self._monitor_embedder.close()
        if self._uploads is not None:
            await self._uploads.reader.close()
        if self._grounding is not None:
            await self._grounding.close()
        if self.gateway.cache is not None:
            await self.gateway.cache.close()
        if self.gateway.limits is not None:
            await self.gateway.limits.limiter.drain()
        await self.request_log.close()
        await self.backends.close()
        await self.store.close()
        self.telemetry.shutdown()


def build_orchestration(settings: Settings, store: DocumentStore, grounding: Callable[[], GroundingService]
                        ) -> OrchestrationSteps:
    """Conversation memory and grounding steps (shared/gateway/orchestration.py)."""
    from shared.conversations.memory import ConversationStore
    from shared.gateway.orchestration import OrchestrationSteps

    memory = ConversationStore(store, ttl_s=settings.conversation_ttl_s,
                               max_messages=settings.conversation_max_stored_messages,
                               max_bytes=settings.conversation_max_stored_bytes)
    return OrchestrationSteps(grounding, memory, default_budget=settings.conversation_history_token_budget)


def build_gateway_cache(settings: Settings, store: DocumentStore) -> Any:
    """The response cache (exact + semantic), or None when ``LLMOPS_CACHE_ENABLED`` is off."""
    if not settings.cache_enabled:
        return None
    from shared.cache.factory import build_response_cache
    from shared.cache.gateway import GatewayCache

    return GatewayCache(build_response_cache(settings, store))


def build_training_runner(settings: Settings) -> TrainingRunner:
    """The training runner the settings ask for: Azure ML, or the same component scripts run locally.

    The runners live beside the pipeline they run (``pipelines/runners``); they and the SDKs they use
    (azure-ai-ml) are imported only when retraining is first needed, never at start-up."""
    if settings.training_runner == "azureml":
        from pipelines.runners.azureml import AzureMLTrainingRunner

        return AzureMLTrainingRunner.from_settings(settings)
    from pipelines.runners.local import LocalTrainingRunner

    return LocalTrainingRunner.from_settings(settings)


def build_retraining(platform: Platform) -> RetrainingCoordinator:
    from shared.retraining.coordinator import CanaryConfig, RetrainingCoordinator
    from shared.retraining.runner import RetrainingService
    from shared.retraining.runs import TrainingRunStore
    from shared.retraining.serving import build_serving_deployer

    settings = platform.settings
    policy = RolloutPolicy(share=settings.canary_share, min_requests=settings.canary_min_requests,
                           min_duration_s=settings.canary_min_duration_s, min_feedback=settings.canary_min_feedback)
    canary = CanaryConfig(target_alias=settings.canary_target_deployment or platform.deployments.default().alias,
                          share=settings.canary_share, input_per_1m=settings.canary_input_per_1m,
                          output_per_1m=settings.canary_output_per_1m)
    local = settings.training_runner == "local"
    return RetrainingCoordinator(
        platform.store, RetrainingService(build_training_runner(settings), TrainingRunStore(platform.store)),
        lambda: build_serving_deployer(settings), platform.rollouts,
        CanaryJudge(platform.store, platform.rollouts, policy), canary,
        snapshot_dir=settings.data_dir / "snapshots" if local else None,
        production_model=settings.training_production_model, telemetry=platform.telemetry,
        local_api_key=settings.serving_local_api_key)


class LazyRedactor:
    """Loads the PII scanner on first use, so requests that never curate never pay for it."""

    def __init__(self) -> None:
        self._redact: Callable[[str], tuple[str, int]] | None = None

    def __call__(self, text: str) -> tuple[str, int]:
        if self._redact is None:
            from shared.feedback.scrub import pii_redactor

            self._redact = pii_redactor()
        return self._redact(text)


_platform: Platform | None = None
_lock: asyncio.Lock | None = None


async def get_platform() -> Platform:
    global _platform, _lock
    if _platform is not None:
        return _platform
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _platform is None:
            _platform = await Platform.create(get_settings())
    return _platform


def set_platform(platform: Platform | None) -> None:
    global _platform
    _platform = platform
