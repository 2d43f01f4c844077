"""One authentication entry point: the same 401 and 403 on every route of the HTTP API."""

from __future__ import annotations

import time

import httpx2
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
ROUTES = [("POST", "/api/v1/chat/completions", CHAT),
          ("POST", "/api/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", CHAT),
          ("GET", "/api/v1/models", None),
          ("POST", "/api/v1/feedback", {"request_id": "abc", "rating": "up"})]


def call(stack: Stack, method: str, path: str, body: dict | None, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.request(method, stack.gateway_url + path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer llmops-unknown"}, {"api-key": "llmops-unknown"}])
def test_no_key_or_an_unknown_key_is_401_everywhere(stack: Stack, method, path, body, headers) -> None:
    response = call(stack, method, path, body, headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_key_of_a_deleted_app_is_403_everywhere(stack: Stack) -> None:
    key = stack.new_key("contoso", "retired")

    async def delete_app() -> None:
        doc = await stack.platform.tenants.get_tenant("contoso")
        apps = {k: v for k, v in doc["apps"].items() if k != "retired"}
        await stack.platform.store.replace("tenants", {**doc, "apps": apps})
        stack.platform.tenants.forget()

    stack.call(delete_app())
    time.sleep(0.3)  # past the stack's auth cache TTL
    for method, path, body in ROUTES:
        response = call(stack, method, path, body, {"authorization": f"Bearer {key}"})
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "app_disabled"
