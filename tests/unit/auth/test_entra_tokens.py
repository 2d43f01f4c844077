"""Client apps with Entra ID access tokens: validated offline against the tenant's signing keys,
their app role naming the tenant and app. Keys and tokens are minted here; nothing reaches Entra ID."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.api.errors import ApiError
from shared.auth import Authenticator, KeyService
from shared.config import Settings
from shared.entra_auth import EntraTokenValidator, JwksKeys, build_entra_validator
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import TenantDirectory

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://llmops-gateway"
CLIENT = "11111111-2222-3333-4444-555555555555"


class Directory:
    """A stand-in for the Entra ID tenant: signing keys published as a JWKS file, tokens minted with them."""

    def __init__(self, tmp_path: Path) -> None:
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("k1", "k2")}
        self.jwks = tmp_path / "keys.json"
        self.publish("k1")

    def publish(self, *kids: str) -> None:
        jwks = []
        for kid in kids:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            jwks.append({**jwk, "kid": kid, "use": "sig"})
        self.jwks.write_text(json.dumps({"keys": jwks}))

    def token(self, *, kid: str = "k1", roles: list[str] | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"aud": AUDIENCE, "iss": f"https://login.microsoftonline.com/{TENANT_ID}/v2.0", "azp": CLIENT,
                "iat": now, "nbf": now, "exp": now + 3600,
                "roles": ["llmops:contoso/mobile"] if roles is None else roles, **claims}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory(tmp_path)


@pytest.fixture
def validator(directory: Directory) -> EntraTokenValidator:
    return EntraTokenValidator(tenant_id=TENANT_ID, audience=AUDIENCE,
                               keys=JwksKeys(f"file://{directory.jwks}", refresh_s=0))


async def test_a_valid_token_names_the_tenant_and_app_by_its_role(directory, validator):
    principal = await validator.principal(directory.token())
    assert (principal.tenant_id, principal.app_id, principal.key_id) == ("contoso", "mobile", f"entra:{CLIENT}")
    v1 = directory.token(iss=f"https://sts.windows.net/{TENANT_ID}/")  # v1 tokens name the tenant this way
    assert (await validator.principal(v1)).app_id == "mobile"


@pytest.mark.parametrize("claims", [
    {"aud": "api://another-app"},
    {"iss": "https://login.microsoftonline.com/another-tenant/v2.0"},
    {"exp": int(time.time()) - 3600},
])
async def test_a_token_for_another_audience_issuer_or_time_is_refused(directory, validator, claims):
    with pytest.raises(ApiError) as caught:
        await validator.principal(directory.token(**claims))
    assert caught.value.status == 401


async def test_a_token_signed_with_a_key_the_tenant_does_not_publish_is_refused(directory, validator):
    with pytest.raises(ApiError) as caught:
        await validator.principal(directory.token(kid="k2"))
    assert caught.value.status == 401
    directory.publish("k1", "k2")  # key rotation: the new key is fetched on first sight of its kid
    assert (await validator.principal(directory.token(kid="k2"))).tenant_id == "contoso"
    forged = directory.token()[:-8] + "AAAAAAAA"
    with pytest.raises(ApiError):
        await validator.principal(forged)


@pytest.mark.parametrize("roles", [[], ["Reader"], ["llmops:contoso/mobile", "llmops:contoso/crm"], ["llmops:x"]])
async def test_without_exactly_one_gateway_role_the_caller_is_forbidden(directory, validator, roles):
    with pytest.raises(ApiError) as caught:
        await validator.principal(directory.token(roles=roles))
    assert caught.value.status == 403 and "llmops:<tenant>/<app>" in caught.value.message


@pytest.fixture
async def authenticator(tmp_path: Path, validator) -> AsyncIterator[tuple[Authenticator, str]]:
    """Keys and tokens side by side, over one store with the contoso/mobile app."""
    store = SqliteDocumentStore(tmp_path / "auth.sqlite3")
    await store.open()
    try:
        directory = TenantDirectory(store, ttl_s=0)
        await directory.ensure_app("contoso", "mobile")
        keys = KeyService(store, directory, cache_ttl_s=0)
        yield Authenticator(keys, directory, validator), (await keys.create_key("contoso", "mobile")).key
    finally:
        await store.close()


async def test_the_gateway_takes_tokens_and_keys_side_by_side(directory, authenticator):
    auth, key = authenticator
    by_token = await auth.authenticate({"authorization": f"Bearer {directory.token()}"})
    by_key = await auth.authenticate({"authorization": f"Bearer {key}"})
    assert by_token.app.app_id == by_key.app.app_id == "mobile"
    assert by_token.principal.key_id.startswith("entra:") and not by_key.principal.key_id.startswith("entra:")
    with pytest.raises(ApiError) as caught:  # a role naming an app that does not exist
        await auth.authenticate({"authorization": f"Bearer {directory.token(roles=['llmops:contoso/nope'])}"})
    assert caught.value.status == 403


def test_tokens_are_accepted_only_when_configured(directory):
    assert build_entra_validator(Settings()) is None
    configured = build_entra_validator(Settings(entra_tenant_id=TENANT_ID, entra_audience=AUDIENCE))
    assert configured is not None
    assert configured.keys.url == f"https://login.microsoftonline.com/{TENANT_ID}/discovery/v2.0/keys"
