"""The 404/405 a request to no route gets."""

from __future__ import annotations

from shared.api.routes import RouteTable

TABLE = RouteTable([("v1/chat/completions", ["POST"]), ("v1/conversations/{conversation_id}", ["GET", "DELETE"]),
                    ("openai/deployments/{deployment}/chat/completions", ["post"])])


def test_a_known_path_with_another_method_is_405_naming_the_allowed_ones() -> None:
    error = TABLE.unrouted("get", "/v1/chat/completions")
    assert error.status == 405 and error.headers == {"allow": "POST"} and error.code == "method_not_allowed"
    assert TABLE.unrouted("PUT", "v1/conversations/conv_9/").headers == {"allow": "DELETE, GET"}
    assert TABLE.allowed_methods("openai/deployments/gpt-4o/chat/completions") == {"POST"}


def test_an_unknown_path_is_404_in_the_openai_shape() -> None:
    error = TABLE.unrouted("POST", "/v1/conversations/a/b")
    assert error.status == 404 and error.code == "unknown_url"
    assert error.body()["error"]["type"] == "not_found_error" and "/api/v1/conversations/a/b" in error.message
    assert TABLE.unrouted("POST", "/openai/deployments//chat/completions").status == 404  # an empty segment
