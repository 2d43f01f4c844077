"""Opening the platform's store-backed services for a CLI command (no model backends needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from shared.auth import KeyService
from shared.config import get_settings
from shared.store import DocumentStore, build_store
from shared.tenants import TenantDirectory

T = TypeVar("T")


@dataclass
class CliServices:
    store: DocumentStore
    tenants: TenantDirectory
    keys: KeyService


def run_with_services(action: Callable[[CliServices], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = get_settings()
        store = build_store(settings)
        await store.open()
        try:
            tenants = TenantDirectory(store, ttl_s=0)
            return await action(CliServices(store, tenants, KeyService(store, tenants, cache_ttl_s=0)))
        finally:
            await store.close()

    return asyncio.run(main())
