"""Curation: feedback documents (from the Cosmos DB change feed) become chat-format training examples.

For each feedback document: join it with its request record; keep human corrections and
well-rated answers; drop failed requests, requests without a retained transcript and answers that
an output guardrail flagged, blocked or redacted; scrub PII from every message with the guardrails'
redaction; drop exact and near duplicates within the dataset; assign the train/validation split
deterministically; write the example. Everything is idempotent: an example's id derives from the
feedback id, so a replayed change-feed batch rewrites nothing new and counts nothing twice, and a
feedback edit that no longer qualifies removes the example it had produced.

When a dataset has gathered ``retrain_after_examples`` new examples, exactly one ``RetrainRequest``
is produced for it (an atomic conditional decrement of the dataset's counter decides which batch).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.feedback import dedup
from shared.feedback.policy import FeedbackPolicy, FeedbackPolicyError, feedback_policy
from shared.store import ConflictError, DocumentStore, Filter, NotFoundError, PreconditionFailedError
from shared.tenants import TenantDirectory
from shared.tokens import message_text

EXAMPLES = "training_examples"
DATASETS = "datasets"


# Feedback younger than this whose request is missing (its record is not written yet: records are
# batched, or replayed from a killed instance's journal) is deferred, not rejected: it is marked
# ``curation_deferred_at`` and the timer's sweep retries it, while the rest of its batch goes on.
RECORD_GRACE_S = 300.0
DEFERRED = "curation_deferred_at"


class Redactor(Protocol):
    def __call__(self, text: str) -> tuple[str, int]:
        """The text with PII replaced by typed placeholders, and how many spans were replaced."""


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    dataset_id: str
    snapshot_id: str
    examples: int
    requested_at: str

    def to_message(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id, "snapshot_id": self.snapshot_id, "examples": self.examples,
                "requested_at": self.requested_at}


@dataclass
class CurationOutcome:
    accepted: int = 0
    updated: int = 0
    removed: int = 0
    duplicates: int = 0
    redactions: int = 0
    deferred: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    retrain: list[RetrainRequest] = field(default_factory=list)


def example_id(feedback_id: str) -> str:
    return "ex-" + feedback_id


def split_for(example: str, validation_share: float) -> str:
    bucket = int(hashlib.sha256(example.encode()).hexdigest()[:8], 16) % 10_000
    return "validation" if bucket < validation_share * 10_000 else "train"


def _age_s(doc: dict[str, Any]) -> float:
    stamp = doc.get("updated_at") or doc.get("created_at")
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds() if stamp else float("inf")
    except (TypeError, ValueError):
        return float("inf")


def _fields(doc: dict[str, Any]) -> dict[str, Any]:
    """A document without the store's system properties (``_rid``, ``_etag``, ``_ts`` ...)."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _flagged_output(record: dict[str, Any]) -> bool:
    for verdict in record.get("guardrails") or ():
        if isinstance(verdict, dict) and verdict.get("stage") == "output" and verdict.get("action") in (
                "block", "redact", "flag"):
            return True
    return record.get("stream_end") not in (None, "complete")


class CurationService:
    def __init__(self, store: DocumentStore, tenants: TenantDirectory, redactor: Redactor) -> None:
        self._store = store
        self._tenants = tenants
        self._redact = redactor
        self._indexes: dict[str, dedup.DatasetIndex] = {}

    async def process(self, feedback_docs: Iterable[dict[str, Any]]) -> CurationOutcome:
        outcome = CurationOutcome()
        touched: dict[str, FeedbackPolicy] = {}
        for doc in feedback_docs:
            dataset_id, policy = await self._curate_one(doc, outcome)
            if dataset_id is not None and policy is not None:
                touched[dataset_id] = policy
        for dataset_id, policy in touched.items():
            request = await self._retrain_due(dataset_id, policy)
            if request is not None:
                outcome.retrain.append(request)
        return outcome

    async def _curate_one(self, doc: dict[str, Any], outcome: CurationOutcome
                          ) -> tuple[str | None, FeedbackPolicy | None]:
        tenant_id = doc.get("tenant_id")
        request_id = doc.get("request_id")
        if not tenant_id or not request_id or not doc.get("id"):
            outcome.rejected["malformed_feedback"] += 1
            return None, None
        record = await self._store.get("request_log", request_id, tenant_id)
        if record is None:
            if _age_s(doc) < RECORD_GRACE_S:
                outcome.deferred += 1
                if not doc.get(DEFERRED):  # marked once: the mark's own change-feed delivery writes nothing
                    await self._store.upsert("feedback", {**_fields(doc), DEFERRED: time.time()})
                return None, None
            outcome.rejected["request_not_found"] += 1
            return None, None
        app_id = record.get("app_id") or doc.get("app_id") or "default"
        app = await self._tenants.app(tenant_id, app_id)
        try:
            policy = feedback_policy(app.policy if app else {})
        except FeedbackPolicyError:
            outcome.rejected["invalid_policy"] += 1
            return None, None
        dataset_id = policy.dataset_id(tenant_id, app_id)
        ex_id = example_id(doc["id"])
        reason = self._rejection(doc, record, policy)
        if reason is not None:
            outcome.rejected[reason] += 1
            if await self._remove(dataset_id, ex_id):
                outcome.removed += 1
            return dataset_id, policy
        example, redactions = self._build(doc, record, dataset_id, ex_id, policy)
        if await self._is_duplicate(example):
            outcome.duplicates += 1
            await self._bump(dataset_id, tenant_id, app_id, {"duplicates": 1})
            return dataset_id, policy
        outcome.redactions += redactions
        try:
            await self._store.create(EXAMPLES, example)
        except ConflictError:  # a replay or an edit of feedback already curated
            current = await self._store.get(EXAMPLES, ex_id, dataset_id)
            if current is not None and current.get("messages") == example["messages"]:
                return dataset_id, policy
            await self._store.upsert(EXAMPLES, example)
            outcome.updated += 1
            return dataset_id, policy
        outcome.accepted += 1
        (await self._index(dataset_id)).add(ex_id, example["exact_key"], example["minhash"])
        await self._bump(dataset_id, tenant_id, app_id, {
            "examples": 1, example["split"]: 1, "new_since_last_run": 1, "pii_redactions": redactions})
        return dataset_id, policy

    @staticmethod
    def _rejection(doc: dict[str, Any], record: dict[str, Any], policy: FeedbackPolicy) -> str | None:
        if int(record.get("status") or 0) != 200:
            return "request_failed"
        transcript = record.get("transcript")
        if not isinstance(transcript, dict) or not transcript.get("messages"):
            return "no_transcript"
        if _flagged_output(record):
            return "guardrail_flagged"
        if doc.get("corrected_answer"):
            return None
        if not transcript.get("completion"):
            return "no_answer"
        if float(doc.get("score") or 0.0) < policy.min_score:
            return "low_rating"
        return None

    def _build(self, doc: dict[str, Any], record: dict[str, Any], dataset_id: str, ex_id: str,
               policy: FeedbackPolicy) -> tuple[dict[str, Any], int]:
        transcript = record["transcript"]
        target = doc.get("corrected_answer") or transcript["completion"]
        redactions = 0
        messages = []
        for message in transcript["messages"]:
            content = message_text(message)  # the text parts of multi-part content
            if not content or message.get("role") not in ("system", "developer", "user", "assistant"):
                continue
            clean, count = self._redact(content)
            redactions += count
            messages.append({"role": "system" if message["role"] == "developer" else message["role"],
                             "content": clean})
        clean_target, count = self._redact(target)
        redactions += count
        messages.append({"role": "assistant", "content": clean_target})
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        example = {
            "id": ex_id,
            "dataset_id": dataset_id,
            "tenant_id": doc["tenant_id"],
            "app_id": record.get("app_id"),
            "feedback_id": doc["id"],
            "source_request_id": doc["request_id"],
            "source": "correction" if doc.get("corrected_answer") else "rating",
            "score": doc.get("score"),
            "deployment": record.get("deployment"),
            "messages": messages,
            "split": split_for(ex_id, policy.validation_share),
            "exact_key": dedup.exact_key(last_user + "\n" + clean_target),
            "minhash": dedup.minhash(last_user + "\n" + clean_target),
            "curated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return example, redactions

    async def _index(self, dataset_id: str) -> dedup.DatasetIndex:
        index = self._indexes.get(dataset_id)
        if index is None:
            index = dedup.DatasetIndex(await self._store.query(EXAMPLES, {"dataset_id": dataset_id}))
            self._indexes[dataset_id] = index
        return index

    async def _is_duplicate(self, example: dict[str, Any]) -> bool:
        index = await self._index(example["dataset_id"])
        return index.duplicate_of(example["id"], example["exact_key"], example["minhash"]) is not None

    async def _remove(self, dataset_id: str, ex_id: str) -> bool:
        current = await self._store.get(EXAMPLES, ex_id, dataset_id)
        if current is None or not await self._store.delete(EXAMPLES, ex_id, dataset_id):
            return False
        (await self._index(dataset_id)).remove(ex_id)
        await self._bump(dataset_id, current.get("tenant_id"), current.get("app_id"),
                         {"examples": -1, current.get("split", "train"): -1})
        return True

    async def _bump(self, dataset_id: str, tenant_id: str | None, app_id: str | None,
                    increments: dict[str, float]) -> None:
        defaults = {"tenant_id": tenant_id, "app_id": app_id, "examples": 0, "train": 0, "validation": 0,
                    "duplicates": 0, "pii_redactions": 0, "new_since_last_run": 0, "runs_requested": 0}
        await self._store.increment(DATASETS, dataset_id, dataset_id, increments, defaults=defaults)

    async def retry_deferred(self) -> CurationOutcome:
        """Curate again the feedback deferred for a missing request record; each one settled (curated,
        or rejected once its grace has passed) loses its mark."""
        outcome = CurationOutcome()
        for doc in await self._store.query("feedback", [Filter(DEFERRED, ">", 0)], limit=500):
            before = outcome.deferred
            await self._curate_one(doc, outcome)
            if outcome.deferred == before:
                await self._store.upsert("feedback", {k: v for k, v in _fields(doc).items() if k != DEFERRED})
        return outcome

    async def sweep(self, min_new_examples: int) -> list[RetrainRequest]:
        """The timer's path: deferred feedback is retried, then every dataset with at least
        ``min_new_examples`` new examples gets a run."""
        await self.retry_deferred()
        due = await self._store.query(DATASETS, [Filter("new_since_last_run", ">=", max(1, min_new_examples))])
        requests = []
        for dataset in due:
            request = await self._retrain_due(dataset["id"], None, dataset["new_since_last_run"])
            if request is not None:
                requests.append(request)
        return requests

    async def _retrain_due(self, dataset_id: str, policy: FeedbackPolicy | None,
                           threshold: int | None = None) -> RetrainRequest | None:
        threshold = threshold if threshold is not None else policy.retrain_after_examples if policy else 1
        try:
            dataset = await self._store.increment(
                DATASETS, dataset_id, dataset_id, {"new_since_last_run": -threshold, "runs_requested": 1},
                condition=[Filter("new_since_last_run", ">=", threshold)])
        except (PreconditionFailedError, NotFoundError):
            return None
        run_number = int(dataset.get("runs_requested", 1))
        return RetrainRequest(dataset_id, f"{dataset_id}-run{run_number:04d}", int(dataset.get("examples", 0)),
                              datetime.now(UTC).isoformat(timespec="seconds"))
