"""Feedback capture: tied to a request of the caller's tenant, idempotent, validated, durable."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def chat(stack: Stack, key: str | None = None) -> str:
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=key or stack.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "What is your refund policy?"}])
    return raw.headers["x-request-id"]


def feedback(stack: Stack, body: dict | bytes, key: str | None = None) -> httpx2.Response:
    headers = {"authorization": f"Bearer {key or stack.key}"}
    if isinstance(body, bytes):
        return httpx2.post(f"{stack.gateway_url}/api/v1/feedback", content=body, headers=headers)
    return httpx2.post(f"{stack.gateway_url}/api/v1/feedback", json=body, headers=headers)


def test_feedback_right_after_the_answer_is_accepted_and_idempotent(stack: Stack) -> None:
    request_id = chat(stack)  # not flushed to the store yet: the service finds it in the log buffer
    first = feedback(stack, {"request_id": request_id, "rating": "up", "comment": "clear", "user": "u1"})
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "accepted" and body["version"] == 1 and body["duplicate"] is False
    again = feedback(stack, {"request_id": request_id, "rating": "up", "comment": "clear", "user": "u1"})
    assert again.status_code == 202 and again.json()["id"] == body["id"] and again.json()["duplicate"] is True
    edited = feedback(stack, {"request_id": request_id, "rating": 2, "comment": "actually wrong", "user": "u1"})
    assert edited.json()["version"] == 2 and edited.json()["id"] == body["id"]
    other_user = feedback(stack, {"request_id": request_id, "rating": 5, "user": "u2"})
    assert other_user.json()["id"] != body["id"]
    stored = stack.call(stack.platform.store.get("feedback", body["id"], "contoso"))
    assert stored["rating"] == 2 and stored["score"] == 0.25 and stored["deployment"] == "gpt-4o-mini"


def test_feedback_for_another_tenants_request_is_404(stack: Stack) -> None:
    request_id = chat(stack)
    stranger = stack.new_key("fabrikam", "web")
    response = feedback(stack, {"request_id": request_id, "rating": "up"}, key=stranger)
    assert response.status_code == 404 and response.json()["error"]["code"] == "request_not_found"
    unknown = feedback(stack, {"request_id": "0" * 32, "rating": "up"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(("body", "status", "param"), [
    (b"{oops", 400, None),
    ({"rating": "up"}, 422, "request_id"),
    ({"request_id": "abc", "rating": "meh"}, 422, "rating"),
    ({"request_id": "abc", "rating": 9}, 422, "rating"),
    ({"request_id": "abc", "rating": "up", "tags": ["x" * 65]}, 422, "tags"),
    ({"request_id": "abc", "rating": "up", "surprise": 1}, 422, "surprise"),
    ({"request_id": "../etc", "rating": "up"}, 422, "request_id"),
])
def test_malformed_feedback(stack: Stack, body, status: int, param: str | None) -> None:
    response = feedback(stack, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if param:
        assert error["param"] == param


def test_feedback_needs_a_key(stack: Stack) -> None:
    response = httpx2.post(f"{stack.gateway_url}/api/v1/feedback", json={"request_id": "a", "rating": "up"})
    assert response.status_code == 401


def test_feedback_free_text_is_pii_scrubbed_at_capture(stack: Stack) -> None:
    """Why 6: ``comment`` and ``corrected_answer`` were stored with PII verbatim."""
    request_id = chat(stack)
    response = feedback(stack, {"request_id": request_id, "rating": "down", "user": "u-pii",
                                "comment": "Wrong. Mail me at jane.doe@example.com or call +1 415 555 0100.",
                                "corrected_answer": "Refunds go to card 4111 1111 1111 1111 within 5 days."})
    assert response.status_code == 202, response.text
    stored = stack.call(stack.platform.store.get("feedback", response.json()["id"], "contoso"))
    assert stored["comment"] == "Wrong. Mail me at <EMAIL_ADDRESS> or call <PHONE_NUMBER>."
    assert stored["corrected_answer"] == "Refunds go to card <CREDIT_CARD> within 5 days."
