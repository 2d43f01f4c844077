"""``GET /api/health``: liveness (``?probe=live``) and readiness of the store and model backends."""

from __future__ import annotations

import azure.functions as func
import orjson
from azurefunctions.extensions.http.fastapi import Request, Response

from shared.runtime import get_platform

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: Request) -> Response:
    if req.query_params.get("probe") == "live":
        return Response(b'{"status":"alive"}', media_type="application/json")
    report = await (await get_platform()).health.readiness()
    status = 503 if report["status"] == "unavailable" else 200
    return Response(orjson.dumps(report), status_code=status, media_type="application/json")
