"""Business signals and the monitors over them: ``POST /api/v1/events`` (an app reports what came of
an answer) and the drift-monitor timer (shared/monitoring)."""

from __future__ import annotations

import azure.functions as func
import orjson
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import body_reader, error_response
from shared.api.errors import ApiError
from shared.api.schemas import decode_json_object
from shared.runtime import get_platform

bp = func.Blueprint()
EVENT_BODY_LIMIT = 16 * 1024


@bp.function_name("submit_business_event")
@bp.route(route="v1/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def submit_business_event(req: Request) -> Response:
    platform = await get_platform()
    try:
        caller = await platform.auth.authenticate(req.headers)
        body = decode_json_object(await body_reader(req)(EVENT_BODY_LIMIT))
        result = await platform.business_events().submit(caller.principal, body)
    except ApiError as error:
        return error_response(error)
    return Response(orjson.dumps(result), status_code=202, media_type="application/json")
