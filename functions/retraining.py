"""Retraining and rollout functions: submit the Azure ML pipeline for a curated dataset snapshot
(queue), take Azure ML's events (Event Grid -> the model-events queue -> model_work), follow long
operations and runs (timer), and judge canaries on live signals (timer). No function waits on a long
operation (shared/retraining/operations.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.queues import FUNCTION_MODEL_EVENTS, MODEL_EVENTS, RETRAIN_REQUESTS
from shared.retraining.operations import model_event_message
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
@bp.queue_output(arg_name="work", queue_name=MODEL_EVENTS, connection="AzureWebJobsStorage")
def model_events(event: func.EventGridEvent, work: func.Out[str]) -> None:
    """Only records the event as a work message: Event Grid gets its answer in milliseconds, and the
    long operations an event starts are followed by the model-operations timer."""
    message = model_event_message(event.event_type, event.get_json(), event.id)
    if message is None:
        log.info("model_events: ignoring %s", event.event_type)
        return
    work.set(message)


@bp.function_name("model_work")
@bp.queue_trigger(arg_name="message", queue_name=MODEL_EVENTS, connection="AzureWebJobsStorage")
async def model_work(message: func.QueueMessage) -> None:
    """Refreshes a run, or starts a candidate's deployment without waiting for it."""
    platform = await get_platform()
    outcome = await platform.retraining().handle_model_work(message.get_body())
    log.info("model_work: %s", getattr(outcome, "id", None))


@bp.function_name("model_operations")
@bp.timer_trigger(arg_name="timer", schedule="%LLMOPS_MODEL_OPERATIONS_SCHEDULE%", run_on_startup=False,
                  use_monitor=True)
async def model_operations(timer: func.TimerRequest) -> None:
    """Checks each deployment in progress once (canary when ready) and refreshes runs still in flight."""
    platform = await get_platform()
    await platform.retraining().poll_operations()


@bp.function_name("canary_evaluator")
@bp.timer_trigger(arg_name="timer", schedule="%LLMOPS_CANARY_EVALUATOR_SCHEDULE%", run_on_startup=False,
                  use_monitor=True)
async def canary_evaluator(timer: func.TimerRequest) -> None:
    platform = await get_platform()
    await platform.retraining().evaluate_canaries()
