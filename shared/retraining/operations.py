"""Model events as work items, and the long operations they start, recorded and polled.

Event Grid gives a subscriber 30 seconds and redelivers when it does not answer, while deploying a
candidate behind an online endpoint takes 20-40 minutes. So nothing long runs where an event arrives:

1. the Event Grid function turns the event into a work message (``model_event_message``) on the
   ``model-events`` queue and returns (milliseconds, no I/O but the output binding);
2. the queue function handles one message: a run event refreshes the run record; a registered
   candidate gets its deployment *started* (``ServingDeployer.begin``) and a ``ServingOperation``
   record in ``serving_operations``;
3. a timer polls every operation still deploying (``ServingDeployer.check``, a GET or two) and starts
   the canary once its endpoint is ready; the same timer refreshes runs still in flight, so a run is
   updated even when its (preview) event never comes.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from shared.retraining.contract.registry import RegisteredModel
from shared.store import DocumentStore

SERVING_OPERATIONS = "serving_operations"
RUN_COMPLETED = "Microsoft.MachineLearningServices.RunCompleted"
RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
HANDLED_EVENTS: frozenset[str] = frozenset({RUN_COMPLETED, RUN_STATUS_CHANGED, MODEL_REGISTERED})


class ModelWork(BaseModel):
    """One message on the ``model-events`` queue: an Azure ML event to act on."""

    event_type: str
    event_id: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


def model_event_message(event_type: str, data: Any, event_id: str = "") -> str | None:
    """The queue message for an event, or ``None`` for an event type the platform does not act on."""
    if event_type not in HANDLED_EVENTS:
        return None
    return ModelWork(event_type=event_type, event_id=event_id, data=data if isinstance(data, dict) else {}
                     ).model_dump_json()


def parse_model_work(body: bytes | str) -> ModelWork:
    try:
        return ModelWork.model_validate_json(body)
    except (ValidationError, ValueError) as exc:
        raise ValueError(f"malformed model-events message: {exc}") from None


class ServingOperation(BaseModel):
    """A candidate's deployment, from ``begin`` until it is ready (then the canary starts) or failed."""

    id: str  # the rollout id: <model>-<version>
    model: RegisteredModel
    dataset_id: str | None = None
    status: Literal["deploying", "ready", "failed"] = "deploying"
    stage: str = "endpoint"
    detail: str = ""
    checks: int = 0
    started_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)


class ServingOperations:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def get(self, operation_id: str) -> ServingOperation | None:
        doc = await self.store.get(SERVING_OPERATIONS, operation_id, operation_id)
        return ServingOperation.model_validate(doc) if doc else None

    async def save(self, operation: ServingOperation) -> ServingOperation:
        operation = operation.model_copy(update={"updated_at": time.time()})
        await self.store.upsert(SERVING_OPERATIONS, json.loads(operation.model_dump_json()))
        return operation

    async def deploying(self) -> list[ServingOperation]:
        docs = await self.store.query(SERVING_OPERATIONS, {"status": "deploying"}, order_by="started_at")
        return [ServingOperation.model_validate(doc) for doc in docs]
