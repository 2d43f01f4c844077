"""Retraining and rollout functions: submit the Azure ML pipeline for a curated dataset snapshot
(queue), react to Azure ML's events (Event Grid), and judge canaries on live signals (timer)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.queues import FUNCTION_MODEL_EVENTS, RETRAIN_REQUESTS
from shared.retraining.coordinator import MODEL_REGISTERED, RUN_COMPLETED, RUN_STATUS_CHANGED
from shared.runtime import get_platform

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("retrain")
@bp.queue_trigger(arg_name="message", queue_name=RETRAIN_REQUESTS, connection="AzureWebJobsStorage")
async def retrain(message: func.QueueMessage) -> None:
    """Idempotent per snapshot: a redelivered message finds the run it already submitted. A failure raises,
    so the host retries (host.json maxDequeueCount) and then moves the message to the poison queue."""
    platform = await get_platform()
    runs = await platform.retraining().handle_retrain_message(message.get_body())
    for run in runs:
        log.info("retraining run %s for %s: %s", run.id, run.dataset_id, run.status)


@bp.function_name(FUNCTION_MODEL_EVENTS)
@bp.event_grid_trigger(arg_name="event")
async def model_events(event: func.EventGridEvent) -> None:
    platform = await get_platform()
    coordinator = platform.retraining()
    data = event.get_json() or {}
    if event.event_type == MODEL_REGISTERED:
        await coordinator.on_model_registered(data)
    elif event.event_type in (RUN_COMPLETED, RUN_STATUS_CHANGED):
        await coordinator.on_run_completed(data)
    else:
        log.info("model_events: ignoring %s", event.event_type)


@bp.function_name("canary_evaluator")
@bp.timer_trigger(arg_name="timer", schedule="%LLMOPS_CANARY_EVALUATOR_SCHEDULE%", run_on_startup=False,
                  use_monitor=True)
async def canary_evaluator(timer: func.TimerRequest) -> None:
    platform = await get_platform()
    await platform.retraining().evaluate_canaries()
