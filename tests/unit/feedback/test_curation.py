"""Curation rules, dedup, split, idempotency under replays, and the retraining trigger."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shared.feedback import dedup
from shared.feedback.curation import CurationService, example_id, split_for
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import TenantDirectory

EMAIL = re.compile(r"\S+@\S+")


def fake_redactor(text: str) -> tuple[str, int]:
    """A unit-test stand-in for the guardrails' PII redaction (emails only)."""
    return EMAIL.subn("<EMAIL_ADDRESS>", text)


@pytest.fixture
async def env(tmp_path):
    store = SqliteDocumentStore(tmp_path / "c.sqlite3")
    await store.open()
    tenants = TenantDirectory(store, ttl_s=0)
    await tenants.ensure_app("contoso", "crm")
    await tenants.set_policy("contoso", None, "feedback", {"retain_transcripts": True, "retrain_after_examples": 3,
                                                           "validation_share": 0.5})
    yield store, CurationService(store, tenants, fake_redactor)
    await store.close()


async def request(store, n: int, question: str, answer: str, **extra) -> str:
    record = {"id": f"req{n}", "tenant_id": "contoso", "app_id": "crm", "status": 200, "deployment": "gpt-4o-mini",
              "transcript": {"messages": [{"role": "system", "content": "Be helpful."},
                                          {"role": "user", "content": question}], "completion": answer}, **extra}
    await store.upsert("request_log", record)
    return record["id"]


def fb(n: int, request_id: str, score: float, **extra) -> dict:
    return {"id": f"fb{n}", "tenant_id": "contoso", "request_id": request_id, "score": score, "rating": "x",
            **extra}


async def test_rules_scrub_split_and_stats(env) -> None:
    store, curation = env
    good = await request(store, 1, "Mail me at ann@example.com about order 7", "We will email ann@example.com.")
    low = await request(store, 2, "Where is my parcel?", "It is in Paris.")
    corrected = await request(store, 3, "What does the X200 cost?", "It costs $99.")
    flagged = await request(store, 4, "Tell me a secret", "Here it is", guardrails=[
        {"check": "pii", "stage": "output", "action": "redact"}])
    failed = await request(store, 5, "Hi", "", status=502)
    no_transcript = "req6"
    await store.upsert("request_log", {"id": no_transcript, "tenant_id": "contoso", "app_id": "crm", "status": 200})
    outcome = await curation.process([
        fb(1, good, 1.0), fb(2, low, 0.25), fb(3, corrected, 0.0, corrected_answer="It costs $129."),
        fb(4, flagged, 1.0), fb(5, failed, 1.0), fb(6, no_transcript, 1.0), fb(7, "missing", 1.0)])
    assert outcome.accepted == 2 and outcome.redactions == 2
    assert dict(outcome.rejected) == {"low_rating": 1, "guardrail_flagged": 1, "request_failed": 1,
                                      "no_transcript": 1, "request_not_found": 1}
    examples = await store.query("training_examples", {"dataset_id": "contoso.crm"}, order_by="id")
    first = next(e for e in examples if e["feedback_id"] == "fb1")
    assert "ann@example.com" not in str(first["messages"]) and "<EMAIL_ADDRESS>" in first["messages"][-1]["content"]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    correction = next(e for e in examples if e["feedback_id"] == "fb3")
    assert correction["source"] == "correction" and correction["messages"][-1]["content"] == "It costs $129."
    for example in examples:
        assert example["split"] == split_for(example["id"], 0.5)
    dataset = await store.get("datasets", "contoso.crm", "contoso.crm")
    assert dataset["examples"] == 2 and dataset["train"] + dataset["validation"] == 2
    assert dataset["pii_redactions"] == 2


async def test_replayed_batch_changes_nothing(env) -> None:
    store, curation = env
    rid = await request(store, 1, "How do refunds work?", "Refunds take five days.")
    batch = [fb(1, rid, 1.0)]
    assert (await curation.process(batch)).accepted == 1
    replay = await curation.process(batch)
    assert replay.accepted == 0 and replay.updated == 0
    dataset = await store.get("datasets", "contoso.crm", "contoso.crm")
    assert dataset["examples"] == 1


async def test_edit_that_no_longer_qualifies_removes_the_example(env) -> None:
    store, curation = env
    rid = await request(store, 1, "How do refunds work?", "Refunds take five days.")
    await curation.process([fb(1, rid, 1.0)])
    outcome = await curation.process([fb(1, rid, 0.0)])
    assert outcome.removed == 1
    assert await store.get("training_examples", example_id("fb1"), "contoso.crm") is None
    assert (await store.get("datasets", "contoso.crm", "contoso.crm"))["examples"] == 0


async def test_near_duplicates_are_dropped(env) -> None:
    store, curation = env
    a = await request(store, 1, "How do I reset my password on the mobile app?",
                      "Open Settings, tap Account, then tap Reset password and follow the email link.")
    b = await request(store, 2, "how do I reset my password on the mobile app",
                      "Open Settings, tap Account, then tap Reset password and follow the email link!")
    c = await request(store, 3, "What are your opening hours on Sundays?", "We open at ten on Sundays.")
    outcome = await curation.process([fb(1, a, 1.0), fb(2, b, 1.0), fb(3, c, 1.0)])
    assert outcome.accepted == 2 and outcome.duplicates == 1


async def test_retraining_is_requested_once_per_threshold(env) -> None:
    store, curation = env
    rids = [await request(store, i, f"Question number {i} about topic {i * 7}", f"Distinct answer {i} " * (i + 2))
            for i in range(7)]
    first = await curation.process([fb(i, rids[i], 1.0) for i in range(2)])
    assert first.retrain == []
    second = await curation.process([fb(i, rids[i], 1.0) for i in range(2, 4)])
    assert [r.snapshot_id for r in second.retrain] == ["contoso.crm-run0001"]
    assert (await curation.process([fb(i, rids[i], 1.0) for i in range(2, 4)])).retrain == []  # replay
    third = await curation.process([fb(i, rids[i], 1.0) for i in range(4, 7)])
    assert [r.snapshot_id for r in third.retrain] == ["contoso.crm-run0002"]
    assert await curation.sweep(2) == []  # one new example left: under the timer's minimum of 2
    assert [r.snapshot_id for r in await curation.sweep(1)] == ["contoso.crm-run0003"]
    assert await curation.sweep(1) == []


def test_minhash_finds_near_duplicates_but_not_templated_neighbours() -> None:
    a = "open settings tap account then reset password and follow the link we send to your email"
    edited = a.replace("follow the link", "simply follow the link")
    neighbour = "open settings tap billing then update your card and follow the steps we show on screen"
    signature = dedup.minhash(a)
    assert dedup.jaccard(signature, dedup.minhash(edited)) >= dedup.NEAR_DUPLICATE_JACCARD
    assert dedup.jaccard(signature, dedup.minhash(neighbour)) < dedup.NEAR_DUPLICATE_JACCARD
    index = dedup.DatasetIndex([])
    index.add("x", dedup.exact_key(a), signature)
    assert index.duplicate_of("y", dedup.exact_key(edited), dedup.minhash(edited)) == "x"
    assert index.duplicate_of("y", dedup.exact_key(a.upper()), dedup.minhash(a.upper())) == "x"
    assert index.duplicate_of("z", dedup.exact_key(neighbour), dedup.minhash(neighbour)) is None
    index.remove("x")
    assert index.duplicate_of("y", dedup.exact_key(edited), dedup.minhash(edited)) is None


async def test_an_orphan_feedback_is_deferred_without_stalling_its_batch_then_retried(env) -> None:
    """Why 3: feedback whose request record is not written yet stalled curation of every tenant for 300 s."""
    store, curation = env
    good = await request(store, 1, "Where is my parcel?", "In Paris.")
    young = datetime.now(UTC).isoformat()
    orphan = fb(2, "req2", 1.0, created_at=young)
    await store.upsert("feedback", orphan)
    outcome = await curation.process([orphan, fb(1, good, 1.0)])  # no exception: the batch goes on
    assert outcome.accepted == 1 and outcome.deferred == 1 and not outcome.rejected
    marked = await store.get("feedback", "fb2", "contoso")
    assert marked["curation_deferred_at"] > 0
    again = await curation.process([marked])  # the mark's own change-feed delivery writes nothing new
    assert again.deferred == 1 and (await store.get("feedback", "fb2", "contoso")) == marked

    await request(store, 2, "What does the X200 cost?", "It costs $99.")  # the record lands (replayed)
    await curation.sweep(min_new_examples=100)
    examples = await store.query("training_examples", {"dataset_id": "contoso.crm"})
    assert {e["feedback_id"] for e in examples} == {"fb1", "fb2"}
    assert "curation_deferred_at" not in (await store.get("feedback", "fb2", "contoso"))
