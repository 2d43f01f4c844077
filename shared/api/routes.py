"""What a request to no route gets: 404 ``unknown_url``, or 405 ``method_not_allowed`` with ``Allow``.

``RouteTable`` holds the HTTP routes the platform serves (Azure Functions route templates such as
``v1/conversations/{conversation_id}``, relative to ``/api``, with their methods); ``unrouted`` is the
OpenAI-shaped error for a method and path that none of them serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.api.errors import ApiError

_PARAMETER = re.compile(r"\{[^}/]+\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template.strip("/"))
    return re.compile("[^/]+".join(re.escape(part) for part in parts) + r"\Z")


class RouteTable:
    def __init__(self, routes: Iterable[tuple[str, Iterable[str]]]) -> None:
        self._routes = [(_pattern(template), frozenset(m.upper() for m in methods)) for template, methods in routes]

    def allowed_methods(self, path: str) -> frozenset[str]:
        """The methods some route serves at ``path`` (relative to ``/api``); empty when none matches."""
        path = path.strip("/")
        return frozenset().union(*(methods for pattern, methods in self._routes if pattern.match(path)))

    def unrouted(self, method: str, path: str) -> ApiError:
        shown = "/api/" + path.strip("/")
        allowed = self.allowed_methods(path)
        if allowed:
            allow = ", ".join(sorted(allowed))
            return ApiError(405, f"Method {method.upper()} is not allowed on {shown} (allowed: {allow}).",
                            code="method_not_allowed", headers={"allow": allow})
        return ApiError.not_found(f"Unknown request URL: {method.upper()} {shown}. Check the path and the API "
                                  "base URL (it ends in /api/v1).", code="unknown_url")
