"""``GET /api/openapi.json``: the OpenAPI 3.1 document of every route this app serves.

``python scripts/write_openapi.py`` writes it to ``openapi.json`` at the repository root (checked in;
a test compares the two).
"""

from __future__ import annotations

from pathlib import Path

import azure.functions as func
import orjson
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.unrouted import served_routes
from shared.api.openapi import openapi_document

bp = func.Blueprint()
CHECKED_IN = Path(__file__).resolve().parents[1] / "openapi.json"
_cached: bytes | None = None


def document_bytes() -> bytes:
    """The document as served and checked in (sorted keys, indented, a final newline)."""
    global _cached
    if _cached is None:
        _cached = orjson.dumps(openapi_document(served_routes()), option=orjson.OPT_INDENT_2) + b"\n"
    return _cached


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi(req: Request) -> Response:
    return Response(document_bytes(), media_type="application/json")

