"""Errors in the OpenAI shape: ``{"error": {"message", "type", "param", "code"}}``.

Every failure a client can cause, and every upstream failure, becomes an ``ApiError`` with the
right status; the HTTP layer renders it. Nothing a client sends should surface as a 500.
"""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def body_bytes(self) -> bytes:
        return orjson.dumps(self.body())

    # -- the ones the gateway raises most --------------------------------------------------
    @classmethod
    def bad_request(cls, message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
        return cls(400, message, param=param, code=code)

    @classmethod
    def unauthorized(cls, message: str = "Invalid or missing API key.") -> ApiError:
        return cls(401, message, type="authentication_error", code="invalid_api_key")

    @classmethod
    def not_found(cls, message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
        return cls(404, message, type="not_found_error", param=param, code=code)

    @classmethod
    def too_large(cls, limit: int) -> ApiError:
        return cls(413, f"Request body exceeds the limit of {limit} bytes.", code="request_too_large")

    @classmethod
    def rate_limited(cls, message: str, *, code: str, headers: dict[str, str] | None = None) -> ApiError:
        return cls(429, message, type="rate_limit_error", code=code, headers=headers)

    @classmethod
    def upstream(cls, status: int, message: str, *, code: str = "upstream_error") -> ApiError:
        return cls(status, message, type="api_error", code=code)

