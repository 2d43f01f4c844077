"""Tenants and their client apps (e.g. tenant ``contoso`` with apps ``mobile`` and ``crm``).

One document per tenant in the ``tenants`` container::

    {"id": "contoso", "name": "Contoso", "policy": {...},
     "apps": {"mobile": {"name": "Mobile app", "policy": {...}}, "crm": {...}}}

A policy is a dict with one section per feature (``routing``, ``limits``, ``guardrails``, ``cache``,
``prompts``, ``optimisation``); an app's effective policy is the tenant's sections overridden
section by section by the app's. Each feature validates its own section.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from shared.store import ConflictError, DocumentStore, PreconditionFailedError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class TenantError(ValueError):
    """Bad tenant/app input or a missing tenant/app."""


def check_name(kind: str, value: str) -> str:
    if not _NAME.match(value or ""):
        raise TenantError(f"invalid {kind} id {value!r}: use 1-63 lowercase letters, digits, '-' or '_'")
    return value


@dataclass(frozen=True, slots=True)
class AppRecord:
    tenant_id: str
    app_id: str
    policy: dict[str, Any] = field(default_factory=dict)
    # The tenant's own and the app's own sections, for features that apply both (limits).
    tenant_policy: dict[str, Any] = field(default_factory=dict)
    own_policy: dict[str, Any] = field(default_factory=dict)


def effective_policy(tenant_doc: dict[str, Any], app_id: str) -> dict[str, Any]:
    policy = dict(tenant_doc.get("policy") or {})
    app = (tenant_doc.get("apps") or {}).get(app_id) or {}
    policy.update(app.get("policy") or {})
    return policy


class TenantDirectory:
    """Reads and edits tenants; caches effective app policies in process for ``ttl_s``."""

    def __init__(self, store: DocumentStore, *, ttl_s: float = 30.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, AppRecord | None]] = {}

    async def get_tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return await self._store.get("tenants", tenant_id, tenant_id)

    async def list_tenants(self) -> list[dict[str, Any]]:
        return await self._store.query("tenants", order_by="id")

    async def create_tenant(self, tenant_id: str, name: str | None = None,
                            policy: dict[str, Any] | None = None) -> dict[str, Any]:
        check_name("tenant", tenant_id)
        try:
            return await self._store.create(
                "tenants", {"id": tenant_id, "name": name or tenant_id, "policy": policy or {}, "apps": {}}
            )
        except ConflictError:
            raise TenantError(f"tenant {tenant_id!r} already exists") from None

    async def ensure_app(self, tenant_id: str, app_id: str, *, policy: dict[str, Any] | None = None) -> AppRecord:
        """Create the tenant and/or app if missing (idempotent); return the app."""
        check_name("tenant", tenant_id)
        check_name("app", app_id)
        for _ in range(5):
            doc = await self.get_tenant(tenant_id)
            if doc is None:
                try:
                    await self.create_tenant(tenant_id)
                except TenantError:
                    pass
                continue
            apps = dict(doc.get("apps") or {})
            if app_id in apps and policy is None:
                break
            apps[app_id] = {**apps.get(app_id, {"name": app_id}), **({"policy": policy} if policy is not None else {})}
            try:
                await self._store.replace("tenants", {**doc, "apps": apps}, if_match=doc.get("_etag"))
                break
            except PreconditionFailedError:
                continue
        self._cache.pop((tenant_id, app_id), None)
        record = await self.app(tenant_id, app_id)
        assert record is not None
        return record

    async def set_policy(self, tenant_id: str, app_id: str | None, section: str, value: Any) -> None:
        """Set one policy section on the tenant (``app_id=None``) or on one app."""
        for _ in range(5):
            doc = await self.get_tenant(tenant_id)
            if doc is None:
                raise TenantError(f"unknown tenant {tenant_id!r}")
            if app_id is None:
                doc["policy"] = {**(doc.get("policy") or {}), section: value}
            else:
                apps = dict(doc.get("apps") or {})
                if app_id not in apps:
                    raise TenantError(f"unknown app {app_id!r} in tenant {tenant_id!r}")
                app = dict(apps[app_id])
                app["policy"] = {**(app.get("policy") or {}), section: value}
                apps[app_id] = app
                doc["apps"] = apps
            try:
                await self._store.replace("tenants", doc, if_match=doc.get("_etag"))
                self._cache.clear()
                return
            except PreconditionFailedError:
                continue
        raise TenantError(f"tenant {tenant_id!r} is being edited concurrently; try again")

    async def app(self, tenant_id: str, app_id: str) -> AppRecord | None:
        key = (tenant_id, app_id)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        doc = await self.get_tenant(tenant_id)
        record = None
        if doc is not None and app_id in (doc.get("apps") or {}):
            record = AppRecord(tenant_id, app_id, effective_policy(doc, app_id), doc.get("policy") or {},
                               (doc["apps"][app_id] or {}).get("policy") or {})
        self._cache[key] = (now + self._ttl_s, record)
        return record

    def forget(self) -> None:
        self._cache.clear()
