"""Feedback capture: what end users say about answers, tied to the request that produced them.

``POST /api/v1/feedback`` takes ``request_id`` (the ``x-request-id`` of a chat completion), a
``rating`` (``"up"``/``"down"`` or 1–5), and optionally a ``comment``, a ``corrected_answer``, ``tags``
and the end ``user``. The request must exist in the caller's tenant (404 otherwise, so one tenant
cannot probe another's request ids). Feedback is idempotent: its id is derived from tenant, request
and user, an identical resend changes nothing, an edited resend replaces it (``version`` + 1).
Free text (``comment``, ``corrected_answer``) is PII-scrubbed with the guardrails' scanner before it is
stored. It is answered 202 only once durably written; the feedback container's change feed then drives
curation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.api.errors import ApiError
from shared.auth import Principal
from shared.feedback.curation import Redactor
from shared.observability import names as n
from shared.observability.telemetry import Telemetry
from shared.request_log import RequestLog
from shared.store import ConflictError, DocumentStore, PreconditionFailedError

log = logging.getLogger(__name__)
CONTAINER = "feedback"
_CONTENT_FIELDS = ("rating", "comment", "corrected_answer", "tags")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    rating: Literal["up", "down"] | int
    comment: str | None = Field(default=None, max_length=4000)
    corrected_answer: str | None = Field(default=None, min_length=1, max_length=32_000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    user: str | None = Field(default=None, min_length=1, max_length=128)

    def score(self) -> float:
        """The rating on a 0..1 scale (thumbs: 0 or 1; stars: (r - 1) / 4)."""
        if self.rating == "up":
            return 1.0
        if self.rating == "down":
            return 0.0
        return (int(self.rating) - 1) / 4


def _validate(body: dict[str, Any]) -> FeedbackIn:
    try:
        feedback = FeedbackIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("literal", "int")))
        raise ApiError(422, f"Invalid value for '{param}': {first['msg']}.", param=param or None,
                       code="invalid_value") from None
    if isinstance(feedback.rating, int) and not 1 <= feedback.rating <= 5:
        raise ApiError(422, "'rating' must be \"up\", \"down\" or an integer from 1 to 5.", param="rating",
                       code="invalid_value")
    if any(not tag or len(tag) > 64 for tag in feedback.tags):
        raise ApiError(422, "Each tag must be 1 to 64 characters.", param="tags", code="invalid_value")
    return feedback


def feedback_id(tenant_id: str, request_id: str, user: str) -> str:
    return hashlib.sha256(f"{tenant_id}\x1f{request_id}\x1f{user}".encode()).hexdigest()[:32]


class FeedbackService:
    def __init__(self, store: DocumentStore, request_log: RequestLog, telemetry: Telemetry | None = None,
                 *, lookup_retry_s: float = 1.0, redactor: Redactor | None = None) -> None:
        self._store = store
        self._redact = redactor  # the guardrails' PII scanner: free text is scrubbed before it is stored
        self._log = request_log
        self._telemetry = telemetry
        self._lookup_retry_s = lookup_retry_s

    async def find_request(self, tenant_id: str, request_id: str) -> Mapping[str, Any] | None:
        """The request record, waiting briefly for one that another instance has not flushed yet."""
        record = self._log.pending_record(tenant_id, request_id) or await self._store.get(
            "request_log", request_id, tenant_id)
        if record is None and self._lookup_retry_s > 0:
            await asyncio.sleep(self._lookup_retry_s)
            record = self._log.pending_record(tenant_id, request_id) or await self._store.get(
                "request_log", request_id, tenant_id)
        return record

    async def submit(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        feedback = _validate(body)
        request = await self.find_request(principal.tenant_id, feedback.request_id)
        if request is None:
            raise ApiError.not_found(f"No request '{feedback.request_id}' was found for this tenant.",
                                     param="request_id", code="request_not_found")
        user = feedback.user or "anonymous"
        now = datetime.now(UTC).isoformat(timespec="seconds")
        score = feedback.score()
        doc: dict[str, Any] = {
            "id": feedback_id(principal.tenant_id, feedback.request_id, user),
            "tenant_id": principal.tenant_id,
            "app_id": principal.app_id,
            "request_id": feedback.request_id,
            "request_app_id": request.get("app_id"),
            "deployment": request.get("deployment"),
            "cache": request.get("cache"),  # feedback on cached answers measures the cache's precision
            "user": user,
            "rating": feedback.rating,
            "score": score,
            "comment": await self._scrubbed(feedback.comment),
            "corrected_answer": await self._scrubbed(feedback.corrected_answer),
            "tags": sorted(set(feedback.tags)),
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        stored, changed = await self._write(doc)
        if changed:  # a log record (AppTraces in Azure) carries the app, which metrics may not
            log.info("feedback", extra={n.LLMOPS_TENANT: principal.tenant_id,
                                        n.LLMOPS_APP: doc.get("request_app_id") or principal.app_id or "",
                                        n.LLMOPS_REQUEST_ID: feedback.request_id, n.LLMOPS_FEEDBACK_VALUE: score})
        if changed and self._telemetry is not None:
            self._telemetry.histogram(n.METRIC_FEEDBACK_SCORE, score,
                                      {n.LLMOPS_DEPLOYMENT: doc.get("deployment") or "",
                                       n.LLMOPS_CACHE_STATUS: doc.get("cache") or "miss"})
        return {"id": stored["id"], "object": "feedback", "request_id": feedback.request_id,
                "status": "accepted", "version": stored["version"], "duplicate": not changed}

    async def _scrubbed(self, text: str | None) -> str | None:
        """``text`` with PII replaced by typed placeholders (a worker thread: up to 32k characters)."""
        if not text or self._redact is None:
            return text
        return (await asyncio.to_thread(self._redact, text))[0]

    async def _write(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        for _ in range(5):
            try:
                return await self._store.create(CONTAINER, doc), True
            except ConflictError:
                pass
            current = await self._store.get(CONTAINER, doc["id"], doc["tenant_id"])
            if current is None:
                continue
            if all(current.get(k) == doc.get(k) for k in _CONTENT_FIELDS):
                return current, False  # an identical resend: nothing to do
            updated = {**doc, "created_at": current.get("created_at", doc["created_at"]),
                       "version": int(current.get("version", 1)) + 1}
            try:
                return await self._store.replace(CONTAINER, updated, if_match=current.get("_etag")), True
            except PreconditionFailedError:
                continue
        raise ApiError(409, "The feedback is being updated concurrently; retry.", code="conflict")
