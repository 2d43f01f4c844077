"""Every ``/api`` request that no other function serves: 404 or 405 in the OpenAI error shape.

A catch-all route (``{*path}``, all methods): the Functions host, like ASP.NET Core routing, prefers
literal and parameter segments over a catch-all, so this only sees what matches nothing else, or a
known path with a method it does not take. The table of routes is read once from the function app's
own registrations (the same bindings the host indexed); ``function_app`` hands its app over with
``serve_routes_of(app)`` after registering every other blueprint.
"""

from __future__ import annotations

import json

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import error_response
from shared.api.routes import RouteTable

bp = func.Blueprint()
CATCH_ALL = "{*path}"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_app: func.FunctionApp | None = None
_table: RouteTable | None = None


def http_bindings(app: func.FunctionApp) -> list[tuple[str, list[str]]]:
    """(route, methods) of each HTTP function of ``app``, read without re-indexing it (the SDK refuses that)."""
    bindings = []
    for builder in app._function_builders:
        for binding in json.loads(builder._function.get_function_json())["bindings"]:
            if binding.get("type") == "httpTrigger" and binding.get("route") != CATCH_ALL:
                bindings.append((str(binding["route"]), [m.upper() for m in binding.get("methods") or ["GET", "POST"]]))
    return bindings


def serve_routes_of(app: func.FunctionApp) -> None:
    """Register the catch-all on ``app``, last, answering for the routes ``app`` serves."""
    global _app, _table
    app.register_functions(bp)
    _app, _table = app, None


def served_routes() -> list[tuple[str, list[str]]]:
    """(route, methods) of every HTTP function the app serves (the catch-all aside)."""
    return http_bindings(_app) if _app is not None else []


def route_table() -> RouteTable:
    global _table
    if _table is None:
        _table = RouteTable(served_routes())
    return _table


@bp.function_name("unrouted")
@bp.route(route=CATCH_ALL, methods=ALL_METHODS, auth_level=func.AuthLevel.ANONYMOUS)
async def unrouted(req: Request) -> Response:
    path = req.url.path.removeprefix("/api")
    return error_response(route_table().unrouted(req.method, path))
