"""Business events: an app says what came of an answer — the task was completed, the user was
escalated to a human, a sale converted — for one request (``request_id``, the ``x-request-id``) or
a whole conversation (``conversation_id``).

``POST /api/v1/events`` takes ``{"type": "task_completed", "request_id": "...", "value": 12.5,
"properties": {...}, "event_id": "..."}``. The type is one of ``KNOWN_TYPES`` or any other
snake_case name the app chooses. The request or conversation must exist in the caller's tenant
(404 otherwise, exactly as for feedback). An event is idempotent by tenant, type, subject and the
optional ``event_id``: a resend changes nothing. Stored events (container ``business_events``)
carry the request's deployment and cost, so task completion and cost per completed task per app
come from one query; each accepted event is counted in ``llmops.business.events`` and logged with
its tenant and app (metrics carry no tenant or app ids).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.api.errors import ApiError
from shared.auth import Principal
from shared.feedback.capture import FeedbackService
from shared.observability import names as n
from shared.observability.telemetry import Telemetry
from shared.store import ConflictError, DocumentStore

log = logging.getLogger(__name__)
CONTAINER = "business_events"
KNOWN_TYPES = ("task_completed", "task_abandoned", "escalated_to_human", "conversion", "resolved", "reopened")
# Events that mean the user's task got done (task completion rate, cost per completed task).
COMPLETION_TYPES = frozenset({"task_completed", "conversion", "resolved"})
_ID = r"^[A-Za-z0-9_-]+$"
_TYPE_TAG = re.compile(r"^(str|int|float|bool|constrained-\w+|function-\w+\[.*\])$")  # union members in locs


class BusinessEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    request_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=_ID)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=80, pattern=_ID)
    event_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=_ID)
    value: float | None = Field(default=None, ge=-1e12, le=1e12, allow_inf_nan=False)
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=20)

    @model_validator(mode="after")
    def _subject(self) -> BusinessEventIn:
        if (self.request_id is None) == (self.conversation_id is None):
            raise ValueError("give exactly one of 'request_id' and 'conversation_id'")
        if any(len(key) > 64 or len(str(value)) > 256 for key, value in self.properties.items()):
            raise ValueError("'properties' keys are at most 64 and values at most 256 characters")
        return self


def validate_event(body: dict[str, Any]) -> BusinessEventIn:
    try:
        return BusinessEventIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in first["loc"] if not _TYPE_TAG.match(str(p))) or None
        message = first["msg"].removeprefix("Value error, ")
        target = f"Invalid value for '{param}'" if param else "Invalid event"
        raise ApiError(422, f"{target}: {message}.", param=param, code="invalid_value") from None


def event_id(tenant_id: str, event: BusinessEventIn) -> str:
    subject = f"r:{event.request_id}" if event.request_id else f"c:{event.conversation_id}"
    key = f"{tenant_id}\x1f{event.type}\x1f{subject}\x1f{event.event_id or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class BusinessEventService:
    def __init__(self, store: DocumentStore, requests: FeedbackService, telemetry: Telemetry | None = None) -> None:
        self._store = store
        self._requests = requests  # finds a request record, in the log's buffer or the store
        self._telemetry = telemetry

    async def _subject(self, principal: Principal, event: BusinessEventIn) -> dict[str, Any]:
        if event.request_id is not None:
            request = await self._requests.find_request(principal.tenant_id, event.request_id)
            if request is None:
                raise ApiError.not_found(f"No request '{event.request_id}' was found for this tenant.",
                                         param="request_id", code="request_not_found")
            return {"deployment": request.get("deployment"), "request_app_id": request.get("app_id"),
                    "cost_usd": float(request.get("cost_usd") or 0.0)}
        assert event.conversation_id is not None
        conversation = await self._store.get("conversations", event.conversation_id, principal.tenant_id)
        if conversation is None or conversation.get("kind") != "conversation":
            raise ApiError.not_found(f"No conversation '{event.conversation_id}' was found for this tenant.",
                                     param="conversation_id", code="conversation_not_found")
        return {"request_app_id": conversation.get("app_id")}

    async def submit(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        event = validate_event(body)
        subject = await self._subject(principal, event)
        now = time.time()
        doc: dict[str, Any] = {
            "id": event_id(principal.tenant_id, event), "tenant_id": principal.tenant_id,
            "app_id": principal.app_id, "type": event.type, "request_id": event.request_id,
            "conversation_id": event.conversation_id, "value": event.value, "properties": event.properties,
            "completion": event.type in COMPLETION_TYPES, "ts": now,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), **subject,
        }
        try:
            stored = await self._store.create(CONTAINER, doc)
            duplicate = False
        except ConflictError:
            stored, duplicate = doc, True
        if not duplicate:
            self.emit(doc)
        return {"id": stored["id"], "object": "business_event", "type": event.type, "status": "accepted",
                "duplicate": duplicate}

    def emit(self, doc: dict[str, Any]) -> None:
        if self._telemetry is not None:
            self._telemetry.count(n.METRIC_BUSINESS_EVENTS, 1, {
                n.LLMOPS_BUSINESS_EVENT: doc["type"], n.LLMOPS_DEPLOYMENT: doc.get("deployment") or ""})
        # A log record (AppTraces in Azure) carries what metrics may not: tenant, app, request.
        log.info("business_event", extra={n.LLMOPS_BUSINESS_EVENT: doc["type"], n.LLMOPS_TENANT: doc["tenant_id"],
                                          n.LLMOPS_APP: doc.get("app_id") or "",
                                          n.LLMOPS_REQUEST_ID: doc.get("request_id") or "",
                                          n.LLMOPS_COST_USD: doc.get("cost_usd") or 0.0})
