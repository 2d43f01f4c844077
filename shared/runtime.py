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
from dataclasses import dataclass

from shared.auth import KeyService
from shared.backends import ModelBackends
from shared.config import Settings, get_settings
from shared.deployments import DeploymentRegistry, load_registry
from shared.feedback.capture import FeedbackService
from shared.feedback.curation import CurationService
from shared.gateway import ChatGateway
from shared.health import HealthService
from shared.observability.telemetry import Telemetry, setup_telemetry
from shared.request_log import RequestLog
from shared.store import DocumentStore, build_store
from shared.tenants import TenantDirectory

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    store: DocumentStore
    tenants: TenantDirectory
    keys: KeyService
    deployments: DeploymentRegistry
    backends: ModelBackends
    request_log: RequestLog
    telemetry: Telemetry
    gateway: ChatGateway
    health: HealthService
    feedback: FeedbackService
    curation: CurationService

    @classmethod
    async def create(cls, settings: Settings, *, telemetry: Telemetry | None = None,
                     store: DocumentStore | None = None) -> Platform:
        deployments = load_registry(settings)
        store = store or build_store(settings)
        await store.open()
        tenants = TenantDirectory(store, ttl_s=settings.auth_cache_ttl_s)
        keys = KeyService(store, tenants, cache_ttl_s=settings.auth_cache_ttl_s)
        backends = ModelBackends(timeout_s=settings.backend_timeout_s,
                                 connect_timeout_s=settings.backend_connect_timeout_s,
                                 managed_identity_client_id=settings.azure_client_id)
        request_log = RequestLog(store, spill_path=settings.data_dir / "request_log.spill.jsonl",
                                 flush_interval_s=settings.request_log_flush_interval_s,
                                 batch_size=settings.request_log_batch_size)
        await request_log.start()
        telemetry = telemetry or setup_telemetry(settings)
        from shared.guardrails.service import GuardrailService  # numpy & co.: not at import time

        guardrails = GuardrailService.from_settings(settings)  # loads and validates every policy file
        gateway = ChatGateway(settings=settings, keys=keys, tenants=tenants, deployments=deployments,
                              backends=backends, request_log=request_log, telemetry=telemetry, guardrails=guardrails)
        health = HealthService(store, deployments, backends)
        feedback = FeedbackService(store, request_log, telemetry,
                                   lookup_retry_s=min(1.0, 2 * settings.request_log_flush_interval_s))
        curation = CurationService(store, tenants, LazyRedactor())
        return cls(settings, store, tenants, keys, deployments, backends, request_log, telemetry, gateway, health,
                   feedback, curation)

    async def close(self) -> None:
        await self.request_log.close()
        await self.backends.close()
        await self.store.close()
        self.telemetry.shutdown()


class LazyRedactor:
    """Loads the PII scanner on first use, so requests that never curate never pay for it."""

    def __init__(self) -> None:
        self._redact = None

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
