"""``POST /api/v1/events``: business outcomes tied to a request or conversation of the caller's tenant."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def chat(stack: Stack) -> str:
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Cancel my subscription please"}])
    return raw.headers["x-request-id"]


def post(stack: Stack, body: dict | bytes, key: str | None = None, **headers: str) -> httpx2.Response:
    auth = {} if key == "" else {"authorization": f"Bearer {key or stack.key}"}
    if isinstance(body, bytes):
        return httpx2.post(f"{stack.gateway_url}/api/v1/events", content=body, headers=auth | headers)
    return httpx2.post(f"{stack.gateway_url}/api/v1/events", json=body, headers=auth | headers)


def test_task_completed_for_a_request_is_stored_once_with_its_cost(stack: Stack) -> None:
    request_id = chat(stack)  # still in the log's buffer: found there, as feedback finds it
    first = post(stack, {"type": "task_completed", "request_id": request_id, "properties": {"flow": "cancel"}})
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["object"] == "business_event" and body["duplicate"] is False
    again = post(stack, {"type": "task_completed", "request_id": request_id})
    assert again.status_code == 202 and again.json() == {**body, "duplicate": True}
    stored = stack.call(stack.platform.store.get("business_events", body["id"], "contoso"))
    assert stored["type"] == "task_completed" and stored["completion"] is True
    assert stored["app_id"] == "mobile" and stored["deployment"] == "gpt-4o-mini" and stored["cost_usd"] > 0
    assert stored["properties"] == {"flow": "cancel"}
    conversion = post(stack, {"type": "conversion", "request_id": request_id, "value": 49.9, "event_id": "order-7"})
    assert conversion.status_code == 202 and conversion.json()["id"] != body["id"]


def test_an_event_for_a_conversation(stack: Stack) -> None:
    created = httpx2.post(f"{stack.gateway_url}/api/v1/conversations", json={},
                          headers={"authorization": f"Bearer {stack.key}"})
    assert created.status_code in (200, 201), created.text
    response = post(stack, {"type": "escalated_to_human", "conversation_id": created.json()["id"]})
    assert response.status_code == 202, response.text


def test_unknown_or_other_tenants_ids_are_404(stack: Stack) -> None:
    request_id = chat(stack)
    stranger = stack.new_key("fabrikam", "web")
    other = post(stack, {"type": "task_completed", "request_id": request_id}, key=stranger)
    assert other.status_code == 404 and other.json()["error"]["code"] == "request_not_found"
    assert post(stack, {"type": "task_completed", "request_id": "0" * 32}).status_code == 404
    missing = post(stack, {"type": "conversion", "conversation_id": "conv_" + "0" * 32})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "conversation_not_found"


def test_events_need_the_same_auth_as_feedback(stack: Stack) -> None:
    assert post(stack, {"type": "task_completed", "request_id": "abc"}, key="").status_code == 401
    assert post(stack, {"type": "task_completed", "request_id": "abc"}, key="sk-wrong").status_code == 401


@pytest.mark.parametrize(("body", "status", "param"), [
    (b"{oops", 400, None),
    (b"[1]", 400, None),
    ({"request_id": "abc"}, 422, "type"),
    ({"type": "Task Completed", "request_id": "abc"}, 422, "type"),
    ({"type": "task_completed"}, 422, None),
    ({"type": "task_completed", "request_id": "abc", "conversation_id": "conv_abcdefgh"}, 422, None),
    ({"type": "conversion", "request_id": "abc", "value": "lots"}, 422, "value"),
    ({"type": "conversion", "request_id": "../x"}, 422, "request_id"),
    ({"type": "conversion", "request_id": "abc", "properties": {"k": ["nested"]}}, 422, "properties.k"),
    ({"type": "conversion", "request_id": "abc", "surprise": 1}, 422, "surprise"),
])
def test_malformed_events_are_rejected_in_the_openai_shape(stack: Stack, body, status: int, param) -> None:
    response = post(stack, body, **{"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param


def test_an_oversized_event_is_413(stack: Stack) -> None:
    body = b'{"type": "conversion", "request_id": "abc", "properties": {"k": "' + b"x" * 20_000 + b'"}}'
    assert post(stack, body).status_code == 413
