"""Names of the Storage queues and event sources that connect the functions.

Every queue has a poison queue ``<name>-poison`` (the Functions host moves a message there after
host.json's ``maxDequeueCount`` failed attempts). The Pulumi program creates exactly these.
"""

from __future__ import annotations

RETRAIN_REQUESTS = "retrain-requests"
# Azure ML's events, enqueued by the Event Grid function and handled by the model-work function
MODEL_EVENTS = "model-events"
ALL_QUEUES: tuple[str, ...] = (RETRAIN_REQUESTS, MODEL_EVENTS)


def poison_queue(name: str) -> str:
    return f"{name}-poison"


# Function names that infrastructure refers to (Event Grid subscription destinations etc.).
FUNCTION_MODEL_EVENTS = "model_events"
