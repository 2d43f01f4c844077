"""The feedback loop's entry points: feedback capture (HTTP), curation (Cosmos DB change feed on the
``feedback`` container) and the scheduled retraining sweep (timer). Both event functions put retraining
requests on the ``retrain-requests`` queue through a queue output binding."""

from __future__ import annotations

import azure.functions as func
import orjson
from azurefunctions.extensions.http.fastapi import Request, Response

from functions.http import accept_json
from shared.queues import RETRAIN_REQUESTS
from shared.runtime import get_platform

bp = func.Blueprint()
FEEDBACK_BODY_LIMIT = 64 * 1024


@bp.function_name("submit_feedback")
@bp.route(route="v1/feedback", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def submit_feedback(req: Request) -> Response:
    platform = await get_platform()
    return await accept_json(req, platform.auth.authenticate, FEEDBACK_BODY_LIMIT, platform.feedback.submit,
                             platform.settings.body_read_timeout_s)


@bp.function_name("curate_feedback")
# A failed batch (the store unreachable) is delivered again; feedback whose request record is not
# written yet is deferred by curation itself and retried by the sweep, never stalling the batch.
@bp.retry(strategy="exponential_backoff", max_retry_count="8", minimum_interval="00:00:02",
          maximum_interval="00:01:00")
@bp.cosmos_db_trigger(arg_name="documents", connection="COSMOS", database_name="%LLMOPS_COSMOS_DATABASE%",
                      container_name="feedback", lease_container_name="leases",
                      create_lease_container_if_not_exists=False)
@bp.queue_output(arg_name="retrain", queue_name=RETRAIN_REQUESTS, connection="AzureWebJobsStorage")
async def curate_feedback(documents: func.DocumentList, retrain: func.Out[str]) -> None:
    platform = await get_platform()
    outcome = await platform.curation.process([doc.to_dict() for doc in documents])
    if outcome.retrain:
        retrain.set(orjson.dumps({"requests": [r.to_message() for r in outcome.retrain]}).decode())


@bp.function_name("retrain_sweep")
@bp.timer_trigger(arg_name="timer", schedule="%LLMOPS_RETRAIN_SWEEP_SCHEDULE%", run_on_startup=False,
                  use_monitor=True)
@bp.queue_output(arg_name="retrain", queue_name=RETRAIN_REQUESTS, connection="AzureWebJobsStorage")
async def retrain_sweep(timer: func.TimerRequest, retrain: func.Out[str]) -> None:
    platform = await get_platform()
    requests = await platform.curation.sweep(platform.settings.retrain_sweep_min_examples)
    if requests:
        retrain.set(orjson.dumps({"requests": [r.to_message() for r in requests]}).decode())
