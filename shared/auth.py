"""Client API keys: issued per tenant app, shown once, stored only as SHA-256 hashes.

A key looks like ``llmops-<43 url-safe chars>`` (256 bits of randomness), so an unsalted SHA-256 is
a safe verifier (no dictionary to attack) and lets a key be found by its hash in one point read.
Clients send it as ``Authorization: Bearer <key>`` (OpenAI SDKs) or ``api-key: <key>`` (Azure
OpenAI SDKs). Every path — missing, unknown, revoked or valid key — does the same work (hash,
cache or store lookup, constant-time comparison), so timing does not tell them apart.

Key documents live in the ``api_keys`` container, id = hash. ``key_id`` is a short public id used
to list, revoke and rotate keys; the secret itself is never stored or logged.

``Authenticator.authenticate`` is the one entry point every route uses (chat, the model list,
feedback, and every endpoint added later), so the rules are the same everywhere: no key, an unknown,
revoked or expired key -> 401 ``invalid_api_key``; a valid key whose app was deleted since -> 403
``app_disabled``. Both lookups (key, app) are cached in process, so a warm request makes no store call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.api.errors import ApiError
from shared.store import DocumentStore, Filter
from shared.tenants import AppRecord, TenantDirectory, TenantError

KEY_PREFIX = "llmops-"
_DUMMY_HASH = hashlib.sha256(b"no key presented").hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    app_id: str
    key_id: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's principal and the app it belongs to (with its effective policy)."""

    principal: Principal
    app: AppRecord


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: str  # shown once
    key_id: str
    tenant_id: str
    app_id: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer`` or ``api-key`` (header names are case-insensitive)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = headers.get("api-key")
    return key.strip() if key and key.strip() else None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _is_active(doc: Mapping[str, Any], now: datetime) -> bool:
    if doc.get("revoked_at"):
        return False
    expires = doc.get("expires_at")
    return not (expires and datetime.fromisoformat(expires) <= now)


class KeyService:
    """Authenticates requests and manages keys. Positive and negative lookups are cached for
    ``cache_ttl_s`` seconds, so a revocation takes effect within that time on every instance; a key's
    expiry is kept with its cached entry and enforced to the second."""

    def __init__(self, store: DocumentStore, tenants: TenantDirectory, *, cache_ttl_s: float = 30.0) -> None:
        self._store = store
        self._tenants = tenants
        self._ttl = cache_ttl_s
        # digest -> (cached until, monotonic; the principal or None; its key's expiry, epoch seconds or None)
        self._cache: dict[str, tuple[float, Principal | None, float | None]] = {}

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        key = presented_key(headers)
        digest = hash_key(key) if key is not None else _DUMMY_HASH
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            principal, expires = cached[1], cached[2]
            if expires is not None and expires <= time.time():  # expiry holds to the second, cached or not
                principal = None
        else:
            doc = await self._store.get("api_keys", digest, digest)
            stored_hash = doc["id"] if doc else _DUMMY_HASH
            matches = hmac.compare_digest(stored_hash, digest)
            principal, expires = None, None
            if doc is not None and matches and _is_active(doc, _now()):
                principal = Principal(doc["tenant_id"], doc["app_id"], doc["key_id"])
                expires = datetime.fromisoformat(doc["expires_at"]).timestamp() if doc.get("expires_at") else None
            if len(self._cache) > 100_000:  # bound memory under a flood of random keys
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal, expires)
        return principal if key is not None else None

    async def create_key(self, tenant_id: str, app_id: str, *, name: str | None = None,
                         expires_at: datetime | None = None) -> IssuedKey:
        if await self._tenants.app(tenant_id, app_id) is None:
            raise TenantError(f"unknown app {tenant_id}/{app_id}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(6)
        await self._store.create(
            "api_keys",
            {
                "id": hash_key(key),
                "key_id": key_id,
                "tenant_id": tenant_id,
                "app_id": app_id,
                "name": name or "",
                "hint": key[: len(KEY_PREFIX) + 4] + "…" + key[-4:],
                "created_at": _iso(_now()),
                "expires_at": _iso(expires_at) if expires_at else None,
                "revoked_at": None,
            },
        )
        return IssuedKey(key, key_id, tenant_id, app_id)

    async def list_keys(self, tenant_id: str | None = None, app_id: str | None = None) -> list[dict[str, Any]]:
        filters = []
        if tenant_id:
            filters.append(Filter("tenant_id", "=", tenant_id))
        if app_id:
            filters.append(Filter("app_id", "=", app_id))
        docs = await self._store.query("api_keys", filters, order_by="created_at")
        now = _now()
        return [
            {k: doc.get(k) for k in ("key_id", "tenant_id", "app_id", "name", "hint", "created_at", "expires_at",
                                      "revoked_at")}
            | {"active": _is_active(doc, now)}
            for doc in docs
        ]

    async def _by_key_id(self, key_id: str) -> dict[str, Any]:
        docs = await self._store.query("api_keys", {"key_id": key_id}, limit=1)
        if not docs:
            raise TenantError(f"unknown key id {key_id!r}")
        return docs[0]

    async def revoke(self, key_id: str) -> dict[str, Any]:
        doc = await self._by_key_id(key_id)
        if not doc.get("revoked_at"):
            doc = await self._store.replace("api_keys", {**doc, "revoked_at": _iso(_now())})
        self._cache.pop(doc["id"], None)
        return doc

    async def rotate(self, key_id: str, *, grace: timedelta = timedelta(0)) -> IssuedKey:
        """Issue a new key for the same app; the old one stops working after ``grace``."""
        old = await self._by_key_id(key_id)
        if not _is_active(old, _now()):
            raise TenantError(f"key {key_id} is already revoked or expired")
        new = await self.create_key(old["tenant_id"], old["app_id"], name=old.get("name"))
        if grace.total_seconds() <= 0:
            await self.revoke(key_id)
        else:
            await self._store.replace("api_keys", {**old, "expires_at": _iso(_now() + grace)})
            self._cache.pop(old["id"], None)
        return new


class TokenValidator(Protocol):
    """Access tokens from an identity provider (``shared.entra_auth``): 401 invalid, 403 no app role."""

    async def principal(self, token: str) -> Principal: ...


def looks_like_jwt(token: str) -> bool:
    return not token.startswith(KEY_PREFIX) and token.count(".") == 2 and token.startswith("eyJ")


class Authenticator:
    """The one authentication entry point of the HTTP API (the same 401/403 rules on every route):
    an API key, or (when configured) an Entra ID access token naming the tenant and app by app role."""

    def __init__(self, keys: KeyService, tenants: TenantDirectory, tokens: TokenValidator | None = None) -> None:
        self.keys = keys
        self.tenants = tenants
        self.tokens = tokens

    async def _principal(self, headers: Mapping[str, str]) -> Principal | None:
        if self.tokens is not None:
            token = presented_key(headers)
            if token is not None and looks_like_jwt(token):
                return await self.tokens.principal(token)
        return await self.keys.authenticate(headers)

    async def authenticate(self, headers: Mapping[str, str]) -> Caller:
        principal = await self._principal(headers)
        if principal is None:
            raise ApiError.unauthorized()
        app = await self.tenants.app(principal.tenant_id, principal.app_id)
        if app is None:  # the app was deleted after the key was issued
            raise ApiError(403, "This key's app no longer exists.", type="permission_error", code="app_disabled")
        return Caller(principal, app)
