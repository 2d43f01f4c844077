"""Every bad input and backend fault gets the right status in the OpenAI error shape, and is logged."""

from __future__ import annotations

import time

import httpx2
import orjson
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration

GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def post(stack: Stack, body: bytes | dict | None = None, *, key: str | None = None, headers: dict | None = None,
         path: str = "/api/v1/chat/completions") -> httpx2.Response:
    all_headers = {"authorization": f"Bearer {key or stack.key}", "content-type": "application/json"}
    all_headers.update(headers or {})
    content = body if isinstance(body, bytes) else orjson.dumps(body if body is not None else GOOD)
    return httpx2.post(stack.gateway_url + path, content=content, headers=all_headers, timeout=30)


def assert_error(response: httpx2.Response, status: int, *, code: str | None = None, param: str | None = None,
                 error_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    if error_type is not None:
        assert error["type"] == error_type
    return error


def assert_logged(stack: Stack, response: httpx2.Response, status: int) -> dict:
    record = stack.log_record(response.headers["x-request-id"])
    assert record is not None, "every request must be logged"
    assert record["status"] == status
    return record


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"", 400, "invalid_json", None),
        (b"[1, 2]", 400, "invalid_json", None),
        ({"model": "gpt-4o-mini"}, 400, "missing", "messages"),
        ({"model": "gpt-4o-mini", "messages": []}, 400, "empty_array", "messages"),
        ({"model": "gpt-4o-mini", "messages": "hello"}, 400, "invalid_value", "messages"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 42}]}, 400, "invalid_value",
         "messages[0].content"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}, 400, "invalid_value",
         "messages[0].role"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": []}]}, 400, "invalid_value",
         "messages[0].content"),
        ({**GOOD, "temperature": "hot"}, 400, "invalid_value", "temperature"),
        ({**GOOD, "temperature": 3}, 400, "invalid_value", "temperature"),
        ({**GOOD, "max_tokens": 0}, 400, "invalid_value", "max_tokens"),
        ({**GOOD, "stream": "yes"}, 400, "invalid_value", "stream"),
        ({**GOOD, "stop": ["a", "b", "c", "d", "e"]}, 400, "invalid_value", "stop"),
        ({**GOOD, "n": 2}, 400, "unsupported_value", "n"),
        ({"messages": GOOD["messages"]}, 400, "missing", "model"),
        ({**GOOD, "model": 7}, 400, "invalid_value", "model"),
        ({**GOOD, "model": "gpt-17"}, 404, "model_not_found", "model"),
        ({**GOOD, "model": "text-embedding-3-small"}, 404, "model_not_found", "model"),
    ],
)
def test_invalid_requests(stack: Stack, body, status: int, code: str, param: str | None) -> None:
    response = post(stack, body)
    assert_error(response, status, code=code, param=param)
    record = assert_logged(stack, response, status)
    assert record["error_code"] == code and record["outcome"] == "client_error"


def nested_content(depth: int) -> bytes:
    """A chat body whose message content is an object nested ``depth`` deep (raw bytes: no recursion)."""
    inner = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ' + inner + b"}]}"


@pytest.mark.parametrize("depth", [70, 251, 961, 5000])
def test_json_nested_past_the_limit_is_400_naming_it(stack: Stack, depth: int) -> None:
    """Why 1 and 6: depth >= 251 made an unserialisable record, >= 961 a 500 (a dependency's recursion)."""
    response = post(stack, nested_content(depth))
    error = assert_error(response, 400)
    assert error["code"] in ("json_too_deep", "invalid_json")  # past orjson's 1024 the parser refuses it
    if depth < 1024:
        assert error["code"] == "json_too_deep" and "64" in error["message"]
    assert_logged(stack, response, 400)  # the request log keeps writing
    assert post(stack).status_code == 200


def test_too_many_messages(stack: Stack) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}] * 513}
    assert_error(post(stack, body), 400, code="too_many_messages", param="messages")


def test_body_over_the_limit_is_413_with_and_without_content_length(stack: Stack) -> None:
    big = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (1024 * 1024)}]})
    response = post(stack, big)
    assert_error(response, 413, code="request_too_large")
    assert_logged(stack, response, 413)

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    chunked = httpx2.post(f"{stack.gateway_url}/api/v1/chat/completions", content=chunks(),
                          headers={"authorization": f"Bearer {stack.key}"}, timeout=30)
    assert "content-length" not in chunked.request.headers
    assert_error(chunked, 413, code="request_too_large")


def test_a_body_trickled_slower_than_the_read_timeout_is_408(stack: Stack) -> None:
    """Why 6: no timeout on reading a slow body (a connection held >= 75 s)."""
    import socket
    from urllib.parse import urlsplit

    settings = stack.platform.settings
    previous, settings.body_read_timeout_s = settings.body_read_timeout_s, 0.5
    try:
        url = urlsplit(stack.gateway_url)
        with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
            conn.sendall(f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.key}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\"".encode())
            started = time.monotonic()
            reply = conn.recv(65536).decode()
        assert time.monotonic() - started < 5
        head, _, body = reply.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 408"), reply
        assert orjson.loads(body)["error"]["code"] == "request_timeout"
    finally:
        settings.body_read_timeout_s = previous


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer llmops-wrong", "Basic abc"])
def test_missing_or_wrong_key_is_401(stack: Stack, header: str | None) -> None:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["authorization"] = header
    response = httpx2.post(f"{stack.gateway_url}/api/v1/chat/completions", content=orjson.dumps(GOOD),
                           headers=headers)
    assert_error(response, 401, code="invalid_api_key", error_type="authentication_error")
    record = assert_logged(stack, response, 401)
    assert record["tenant_id"] == "_unauthenticated"


def test_api_key_header_and_revoked_key(stack: Stack) -> None:
    key = stack.new_key("contoso", "crm")
    response = httpx2.post(f"{stack.gateway_url}/api/v1/chat/completions", content=orjson.dumps(GOOD),
                           headers={"api-key": key})
    assert response.status_code == 200, response.text
    key_id = stack.call(stack.platform.keys.list_keys("contoso", "crm"))[-1]["key_id"]
    stack.call(stack.platform.keys.revoke(key_id))
    time.sleep(0.3)  # past the auth cache TTL of the test stack
    assert_error(post(stack, key=key), 401, code="invalid_api_key")


def test_backend_500_everywhere_becomes_502(stack: Stack) -> None:
    stack.control("faults", {"deployment": "*", "error_rate": 1.0, "error_status": 500})
    response = post(stack)
    assert_error(response, 502, code="upstream_error", error_type="api_error")
    record = assert_logged(stack, response, 502)
    assert record["backend_error"]["status"] == 500 and record["outcome"] == "upstream_error"
    # retried, then failed over to the same model in the other region, before giving up
    assert [a["deployment"] for a in record["attempts"]] == ["gpt-4o-mini"] * 2 + ["gpt-4o-mini-west"] * 2


def test_backend_429_passes_retry_after(stack: Stack) -> None:
    stack.control("faults", {"deployment": "*", "error_rate": 1.0, "error_status": 429,
                             "retry_after_s": 7})
    response = post(stack)
    assert_error(response, 429, code="upstream_rate_limited", error_type="rate_limit_error")
    assert response.headers["retry-after"] == "7"


def test_backend_timeout_becomes_504(stack: Stack) -> None:
    stack.control("faults", {"deployment": "*", "timeout_rate": 1.0, "timeout_s": 5})
    started = time.monotonic()
    response = post(stack)
    assert time.monotonic() - started < 4.5  # the gateway's deadline (2.5 s here), not the backend's hang
    assert_error(response, 504, code="upstream_timeout")
    assert_logged(stack, response, 504)


def test_content_filter_is_a_400(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "content_filter_rate": 1.0})
    response = post(stack)
    assert_error(response, 400, code="content_filter")


def test_backend_failure_before_a_stream_starts_is_an_http_error(stack: Stack) -> None:
    stack.control("faults", {"deployment": "*", "error_rate": 1.0, "error_status": 503})
    response = post(stack, {**GOOD, "stream": True})
    assert_error(response, 502)


def test_stream_cut_midway_ends_with_an_error_event_and_is_logged(stack: Stack) -> None:
    stack.control("faults", {"deployment": "gpt-4o-mini", "stream_cut_rate": 1.0, "stream_cut_after_chunks": 3})
    response = post(stack, {**GOOD, "stream": True})
    assert response.status_code == 200
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert events[-1] != "[DONE]"
    last = orjson.loads(events[-1])
    assert last["error"]["code"] == "stream_interrupted"
    record = assert_logged(stack, response, 502)
    assert record["stream_end"] == "upstream_interrupted" and record["usage_estimated"] is True


def test_client_disconnecting_midstream_is_logged(stack: Stack) -> None:
    stack.control("latency", {"first_token_ms": 0, "per_token_ms": 40, "per_token_sd_ms": 0})
    try:
        with httpx2.stream("POST", f"{stack.gateway_url}/api/v1/chat/completions",
                           content=orjson.dumps({**GOOD, "stream": True, "max_tokens": 200}),
                           headers={"authorization": f"Bearer {stack.key}"}) as response:
            request_id = response.headers["x-request-id"]
            for line in response.iter_lines():
                if line.startswith("data: ") and '"content"' in line:
                    break  # hang up after the first content chunk
    finally:
        stack.control("latency", {"first_token_ms": 0, "per_token_ms": 0, "per_token_sd_ms": 0})
    deadline = time.monotonic() + 10
    record = None
    while time.monotonic() < deadline:
        record = stack.log_record(request_id)
        if record is not None:
            break
        time.sleep(0.1)
    assert record is not None and record["status"] == 499 and record["stream_end"] == "client_disconnected"


@pytest.mark.parametrize("body", [
    b"null", b"1e999", b'"text"', b'{"model": null, "messages": null}', b'{"messages": [null]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\u0000\\ud800"}]}',
    b"\xff\xfe\x00binary",
])
def test_odd_bodies_never_cause_a_500(stack: Stack, body: bytes) -> None:
    response = post(stack, body)
    assert response.status_code in (200, 400, 404, 413, 422), response.text
    assert_logged(stack, response, response.status_code)


@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("GET", "/api/v1/nothing-here", 404, None),
    ("POST", "/api/v2/chat/completions", 404, None),
    ("GET", "/api/v1/chat/completions", 405, "POST"),
    ("PUT", "/api/v1/conversations/conv_1", 405, "DELETE, GET"),
    ("POST", "/api/health", 405, "GET"),
])
def test_unknown_routes_and_methods_answer_in_the_openai_shape(stack: Stack, method: str, path: str, status: int,
                                                               allow: str | None) -> None:
    response = httpx2.request(method, stack.gateway_url + path, headers={"authorization": f"Bearer {stack.key}"},
                              timeout=30)
    error = assert_error(response, status, code="unknown_url" if status == 404 else "method_not_allowed")
    assert path in error["message"]
    assert response.headers.get("allow") == allow
