"""Business signals and the monitors over them: ``POST /api/v1/events`` (an app reports what came of
an answer) and the drift-monitor timer (shared/monitoring)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import accept_json
from shared.runtime import get_platform

bp = func.Blueprint()
EVENT_BODY_LIMIT = 16 * 1024


@bp.function_name("submit_business_event")
@bp.route(route="v1/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def submit_business_event(req: Request) -> Response:
    platform = await get_platform()
    return await accept_json(req, platform.auth.authenticate, EVENT_BODY_LIMIT, platform.business_events().submit)
