"""Client apps authenticated by Entra ID access tokens, beside the platform's API keys.

A client app gets a token for the gateway's app registration (``LLMOPS_ENTRA_AUDIENCE``) in the
directory ``LLMOPS_ENTRA_TENANT_ID`` and sends it as ``Authorization: Bearer``. The token is
validated offline: RS256 signature against the tenant's signing keys (its JWKS, fetched once and
cached; an unknown ``kid`` refetches at most every ``refresh_s`` seconds), audience, issuer (v1 or
v2 endpoint of that tenant), expiry. The app roles granted to the client say who it is:
``llmops:<tenant>/<app>`` (assign the app role to the client's service principal). One such role is
required; the principal's ``key_id`` is ``entra:<client id>``.

A bearer value that is not a JWT (an ``llmops-`` key) is left to the key service
(``shared.auth.Authenticator``).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import jwt

from shared.api.errors import ApiError
from shared.auth import Principal
from shared.config import Settings

ROLE_PREFIX = "llmops:"
ALGORITHMS = ["RS256"]
INVALID_TOKEN = "Invalid or expired access token for the gateway."


def _denied(message: str) -> ApiError:
    return ApiError(403, message, type="permission_error", code="entra_role_missing")


class JwksKeys:
    """The tenant's signing keys by ``kid``, from an https URL or a ``file://`` path (tests, offline)."""

    def __init__(self, url: str, *, refresh_s: float = 300.0) -> None:
        self.url = url
        self.refresh_s = refresh_s
        self._keys: dict[str, Any] = {}
        self._fetched = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Any | None:
        if kid not in self._keys and time.monotonic() - self._fetched >= self.refresh_s:
            async with self._lock:
                if kid not in self._keys and time.monotonic() - self._fetched >= self.refresh_s:
                    self._keys = {k["kid"]: jwt.PyJWK(k).key for k in (await self._fetch()).get("keys", [])
                                  if k.get("kid") and k.get("kty") == "RSA"}
                    self._fetched = time.monotonic()
        return self._keys.get(kid)

    async def _fetch(self) -> dict[str, Any]:
        if self.url.startswith("file://"):
            path = Path(self.url.removeprefix("file://"))
            return dict(json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8")))
        import httpx2

        async with httpx2.AsyncClient(timeout=10.0) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            return dict(response.json())


class EntraTokenValidator:
    def __init__(self, *, tenant_id: str, audience: str, keys: JwksKeys, leeway_s: float = 60.0) -> None:
        self.audience = audience
        self.issuers = [f"https://login.microsoftonline.com/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/"]
        self.keys = keys
        self.leeway_s = leeway_s

    async def principal(self, token: str) -> Principal:
        """The caller a valid token names; ``ApiError`` 401 for an invalid token, 403 without a role."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self.keys.key(str(kid)) if kid else None
            if key is None:
                raise ApiError.unauthorized(INVALID_TOKEN)
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuers,
                                leeway=self.leeway_s, options={"require": ["exp", "aud", "iss"]})
        except jwt.PyJWTError:
            raise ApiError.unauthorized(INVALID_TOKEN) from None
        roles = [r for r in claims.get("roles") or () if isinstance(r, str) and r.startswith(ROLE_PREFIX)]
        if len(roles) != 1 or roles[0].count("/") != 1:
            raise _denied(f"The token needs exactly one app role '{ROLE_PREFIX}<tenant>/<app>' of the gateway's "
                          f"app registration; it has {len(roles)}.")
        tenant, app = roles[0].removeprefix(ROLE_PREFIX).split("/")
        client = str(claims.get("azp") or claims.get("appid") or claims.get("oid") or "unknown")
        return Principal(tenant, app, f"entra:{client}")


def build_entra_validator(settings: Settings) -> EntraTokenValidator | None:
    if not settings.entra_tenant_id or not settings.entra_audience:
        return None
    url = settings.entra_jwks_url or f"https://login.microsoftonline.com/{settings.entra_tenant_id}/discovery/v2.0/keys"
    return EntraTokenValidator(tenant_id=settings.entra_tenant_id, audience=settings.entra_audience,
                               keys=JwksKeys(url))
