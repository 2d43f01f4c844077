"""An operator administers the deployed platform with their own Entra ID login: the CLI reaches Cosmos DB
through DefaultAzureCredential (no key), here against the local Cosmos-API server with a locally minted
token standing in for `az login` (the same code path as in Azure, where Cosmos DB has local auth off)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from azure.core.credentials import AccessToken

from llmops.cli import main
from shared.config import reset_settings_cache

pytestmark = pytest.mark.integration


class OperatorCredential:
    """What DefaultAzureCredential yields after `az login`: bearer tokens for the scopes asked for."""

    instances: ClassVar[list[OperatorCredential]] = []

    def __init__(self, **_: Any) -> None:
        self.scopes: list[str] = []
        self.closed = False
        OperatorCredential.instances.append(self)

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.extend(scopes)
        claims = {"aud": scopes[0].removesuffix("/.default"), "oid": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                  "exp": int(time.time()) + 3600}
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return AccessToken(f"eyJhbGciOiJub25lIn0.{body}.", claims["exp"])

    async def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessTokenInfo

        token = await self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> OperatorCredential:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()


@pytest.fixture
def operator_login(monkeypatch: pytest.MonkeyPatch, cosmos_endpoint: str) -> Iterator[None]:
    import azure.identity.aio

    OperatorCredential.instances.clear()
    monkeypatch.setattr(azure.identity.aio, "DefaultAzureCredential", OperatorCredential)
    for name, value in {"LLMOPS_STORE": "cosmos", "COSMOS__accountEndpoint": cosmos_endpoint,
                        "LLMOPS_COSMOS_VERIFY_TLS": "false", "LLMOPS_COSMOS_CREATE_CONTAINERS": "true",
                        "LLMOPS_COSMOS_DATABASE": f"operators{int(time.time() * 1000)}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LLMOPS_COSMOS_KEY", raising=False)
    reset_settings_cache()
    yield
    reset_settings_cache()


def test_the_first_tenant_and_key_are_created_with_the_operators_login(operator_login, capsys) -> None:
    assert main(["tenants", "add-app", "contoso", "mobile"]) == 0
    assert main(["keys", "create", "--tenant", "contoso", "--app", "mobile"]) == 0
    out = capsys.readouterr().out
    assert "llmops-" in out  # the key, printed once
    assert main(["keys", "list", "--tenant", "contoso"]) == 0
    assert "mobile" in capsys.readouterr().out
    # no key was used: every command asked the operator's credential for a Cosmos DB token
    assert OperatorCredential.instances and all(c.scopes for c in OperatorCredential.instances)
    assert all(scope.endswith("/.default") for c in OperatorCredential.instances for scope in c.scopes)
    assert all(c.closed for c in OperatorCredential.instances)
