"""Business signals and the monitors over them: ``POST /api/v1/events`` (an app reports what came of
an answer) and the drift-monitor timer (shared/monitoring)."""

from __future__ import annotations

import logging

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import accept_json
from shared.runtime import get_platform

bp = func.Blueprint()
log = logging.getLogger(__name__)
EVENT_BODY_LIMIT = 16 * 1024


@bp.function_name("submit_business_event")
@bp.route(route="v1/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def submit_business_event(req: Request) -> Response:
    platform = await get_platform()
    return await accept_json(req, platform.auth.authenticate, EVENT_BODY_LIMIT,
                             platform.business_events().submit, platform.settings.body_read_timeout_s)


@bp.function_name("drift_monitors")
@bp.timer_trigger(arg_name="timer", schedule="%LLMOPS_MONITOR_SCHEDULE%", run_on_startup=False, use_monitor=True)
async def drift_monitors(timer: func.TimerRequest) -> None:
    platform = await get_platform()
    results = await platform.monitors().run(await platform.tenants.list_tenants())
    alarms = [r for r in results if r["status"] == "alarm"]
    log.info("drift monitors: %d results, %d alarms", len(results), len(alarms))
