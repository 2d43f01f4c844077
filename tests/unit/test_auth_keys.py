"""API keys: shown once, stored hashed, accepted from both header styles, revoked and rotated."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.auth import KeyService, hash_key, presented_key
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import TenantDirectory, TenantError


@pytest.fixture
async def services(tmp_path):
    store = SqliteDocumentStore(tmp_path / "s.sqlite3")
    await store.open()
    tenants = TenantDirectory(store, ttl_s=0)
    await tenants.ensure_app("contoso", "mobile")
    await tenants.ensure_app("contoso", "crm")
    yield store, tenants, KeyService(store, tenants, cache_ttl_s=0)
    await store.close()


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_key_is_stored_only_as_a_hash(services) -> None:
    store, _, keys = services
    issued = await keys.create_key("contoso", "mobile", name="ios")
    rows = await store.query("api_keys", {})
    assert len(rows) == 1 and rows[0]["id"] == hash_key(issued.key)
    assert issued.key not in str(rows[0])
    principal = await keys.authenticate(bearer(issued.key))
    assert (principal.tenant_id, principal.app_id, principal.key_id) == ("contoso", "mobile", issued.key_id)
    assert await keys.authenticate({"api-key": issued.key}) == principal


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer"}, {"authorization": "Basic x"},
                                     {"authorization": "Bearer llmops-nope"}, {"api-key": "   "}])
async def test_missing_or_unknown_keys_are_rejected(services, headers) -> None:
    assert await services[2].authenticate(headers) is None


def test_presented_key_prefers_bearer() -> None:
    assert presented_key({"authorization": "bearer abc", "api-key": "def"}) == "abc"
    assert presented_key({"api-key": " def "}) == "def"


async def test_list_revoke_and_rotate(services) -> None:
    _, _, keys = services
    first = await keys.create_key("contoso", "mobile")
    other = await keys.create_key("contoso", "crm")
    listed = await keys.list_keys("contoso", "mobile")
    assert [row["key_id"] for row in listed] == [first.key_id] and listed[0]["active"]
    assert "…" in listed[0]["hint"]

    rotated = await keys.rotate(first.key_id)
    assert await keys.authenticate(bearer(first.key)) is None
    assert (await keys.authenticate(bearer(rotated.key))).app_id == "mobile"

    graceful = await keys.rotate(rotated.key_id, grace=timedelta(hours=1))
    assert await keys.authenticate(bearer(rotated.key)) is not None  # still inside the grace period
    assert await keys.authenticate(bearer(graceful.key)) is not None

    await keys.revoke(other.key_id)
    assert await keys.authenticate(bearer(other.key)) is None
    with pytest.raises(TenantError):
        await keys.rotate(other.key_id)
    with pytest.raises(TenantError):
        await keys.revoke("key_unknown")


async def test_expired_key_is_rejected(services) -> None:
    from datetime import UTC, datetime

    _, _, keys = services
    issued = await keys.create_key("contoso", "mobile", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await keys.authenticate(bearer(issued.key)) is None


async def test_keys_only_for_existing_apps(services) -> None:
    with pytest.raises(TenantError):
        await services[2].create_key("contoso", "unknown-app")


async def cached_keys(tmp_path, ttl_s: float) -> tuple[SqliteDocumentStore, TenantDirectory, KeyService]:
    """A key service caching lookups for ``ttl_s``, with the app contoso/mobile."""
    store = SqliteDocumentStore(tmp_path / "c.sqlite3")
    await store.open()
    tenants = TenantDirectory(store, ttl_s=0)
    await tenants.ensure_app("contoso", "mobile")
    return store, tenants, KeyService(store, tenants, cache_ttl_s=ttl_s)


async def test_cache_makes_revocation_effective_after_ttl(tmp_path) -> None:
    store, tenants, keys = await cached_keys(tmp_path, 0.2)
    issued = await keys.create_key("contoso", "mobile")
    assert await keys.authenticate(bearer(issued.key)) is not None
    other_instance = KeyService(store, tenants, cache_ttl_s=0)
    await other_instance.revoke(issued.key_id)
    assert await keys.authenticate(bearer(issued.key)) is not None  # cached on this instance
    await asyncio.sleep(0.25)
    assert await keys.authenticate(bearer(issued.key)) is None
    await store.close()


async def test_tenant_and_app_names_are_validated(services) -> None:
    _, tenants, _ = services
    with pytest.raises(TenantError):
        await tenants.ensure_app("Bad Tenant!", "x")
    await tenants.set_policy("contoso", None, "limits", {"requests_per_minute": 100})
    await tenants.set_policy("contoso", "crm", "limits", {"requests_per_minute": 5})
    assert (await tenants.app("contoso", "crm")).policy["limits"] == {"requests_per_minute": 5}
    assert (await tenants.app("contoso", "mobile")).policy["limits"] == {"requests_per_minute": 100}


async def test_a_cached_key_stops_working_at_its_expiry_not_at_the_cache_ttl(tmp_path) -> None:
    """Why 5: an expired key kept working for up to the auth cache's 30 s after ``expires_at``."""
    from datetime import UTC, datetime

    store, _, keys = await cached_keys(tmp_path, 30)
    issued = await keys.create_key("contoso", "mobile", expires_at=datetime.now(UTC) + timedelta(seconds=1.5))
    assert await keys.authenticate(bearer(issued.key)) is not None  # now cached for 30 s
    await asyncio.sleep(1.6)  # expiry is stored to the second: 0.5 to 1.5 s from now
    assert await keys.authenticate(bearer(issued.key)) is None
    await store.close()
