"""Curation throughput and quality on a synthetic feedback stream.

    python bench/curation.py [--feedback 2000] [--batch 100]

Builds a stream like a CRM assistant's: request records with transcripts, a share of them carrying
personal data (emails, phone numbers, card numbers, IBANs) in the question, a share that repeat an
earlier conversation (differing only in case and punctuation, in the personal data, or by a few added
words), mixed ratings and some corrections. Runs the real ``CurationService`` (SQLite store, the
guardrails' PII redaction) over it in change-feed-sized batches and reports examples curated per
second, the share of repeats of kept examples dropped as duplicates (by kind of repeat) and the
share of injected PII values that no longer appear in any example.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _harness import save  # noqa: E402

from shared.feedback.curation import CurationService  # noqa: E402
from shared.feedback.scrub import pii_redactor  # noqa: E402
from shared.store.sqlite import SqliteDocumentStore  # noqa: E402
from shared.tenants import TenantDirectory  # noqa: E402

PRODUCTS = ["X200 headphones", "Aurora desk lamp", "Nimbus router", "Atlas backpack", "Vega smartwatch",
            "Orion coffee grinder", "Lumen e-reader", "Terra water bottle"]
TOPICS = ["return", "warranty", "shipping time", "price match", "battery life", "setup", "replacement parts",
          "firmware update", "invoice copy", "order status"]
NAMES = ["Ann", "Bob", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana"]


def pii_value(rng: random.Random, kind: str) -> str:
    if kind == "email":
        return f"{rng.choice(NAMES).lower()}.{rng.randint(10, 9999)}@example.com"
    if kind == "phone":
        return f"+1 (555) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    if kind == "card":
        return "4111 1111 1111 1111"
    return "DE89 3704 0044 0532 0130 00"


def synthetic_stream(n: int, rng: random.Random) -> tuple[list[dict], list[dict], set[str], dict[str, str]]:
    """Records and feedback; also which feedback ids repeat an earlier conversation, and how:
    ``case`` (only letter case and punctuation differ), ``pii`` (the same conversation with other personal
    data, identical once scrubbed) or ``edited`` (a few words added)."""
    records, feedback, pii_values = [], [], set()
    repeats: dict[str, tuple[str, str]] = {}  # feedback id -> (kind, feedback id of the original)
    base: list[tuple[str, str, str, str | None]] = []  # question, answer, feedback id, pii kind
    for i in range(n):
        pii_kind = None
        if base and rng.random() < 0.15:
            question, answer, original, pii_kind = rng.choice(base)
            kind = rng.choice(["case", "pii", "edited"]) if pii_kind else rng.choice(["case", "edited"])
            if kind == "case":
                question, answer = question.upper(), answer.lower()
            elif kind == "edited":
                question = question.replace("?", ", thanks a lot?")
            repeats[f"fb{i:06d}"] = (kind, original)
        else:
            product, topic = rng.choice(PRODUCTS), rng.choice(TOPICS)
            question = f"Hi, I have a question about the {topic} for my {product} order {rng.randint(1000, 99999)}?"
            answer = (f"Thanks for reaching out about the {topic} of the {product}. "
                      f"{rng.choice(['You can', 'Please', 'We recommend you'])} "
                      f"{rng.choice(['open the app', 'visit the support page', 'reply to our email'])} "
                      f"and follow the steps for case {rng.randint(100000, 999999)}.")
            if rng.random() < 0.3:
                pii_kind = rng.choice(["email", "phone", "card", "iban"])
                question += " You can reach me at {PII}."
            base.append((question, answer, f"fb{i:06d}", pii_kind))
        if pii_kind:
            value = pii_value(rng, pii_kind)
            pii_values.add(value)
            question = question.replace("{PII}", value)  # a repeat gets other personal data than its original
        request_id = f"req{i:06d}"
        records.append({"id": request_id, "tenant_id": "contoso", "app_id": "crm", "status": 200,
                        "deployment": "gpt-4o-mini", "transcript": {
                            "messages": [{"role": "system", "content": "You are Contoso's support assistant."},
                                         {"role": "user", "content": question}], "completion": answer}})
        rating = rng.choice([5, 5, 4, 4, 3, 2, 1])
        doc = {"id": f"fb{i:06d}", "tenant_id": "contoso", "request_id": request_id, "rating": rating,
               "score": (rating - 1) / 4}
        if rng.random() < 0.05 and f"fb{i:06d}" not in repeats:
            doc["corrected_answer"] = answer.replace("Thanks", "Thank you")
        feedback.append(doc)
    return records, feedback, pii_values, repeats


async def run(n: int, batch: int) -> dict:
    rng = random.Random(42)
    records, feedback, pii_values, repeats = synthetic_stream(n, rng)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteDocumentStore(Path(tmp) / "bench.sqlite3")
        await store.open()
        tenants = TenantDirectory(store)
        await tenants.ensure_app("contoso", "crm")
        await tenants.set_policy("contoso", None, "feedback", {"retain_transcripts": True,
                                                               "retrain_after_examples": 500})
        await store.upsert_many("request_log", records)
        curation = CurationService(store, tenants, pii_redactor())
        totals = {"accepted": 0, "duplicates": 0, "redactions": 0, "retrain": 0}
        rejected: dict[str, int] = {}
        started = time.perf_counter()
        for i in range(0, len(feedback), batch):
            outcome = await curation.process(feedback[i : i + batch])
            totals["accepted"] += outcome.accepted
            totals["duplicates"] += outcome.duplicates
            totals["redactions"] += outcome.redactions
            totals["retrain"] += len(outcome.retrain)
            for reason, count in outcome.rejected.items():
                rejected[reason] = rejected.get(reason, 0) + count
        elapsed = time.perf_counter() - started
        examples = await store.query("training_examples", {"dataset_id": "contoso.crm"})
        await store.close()
    text = "\n".join(m["content"] for e in examples for m in e["messages"])
    leaked = sorted(v for v in pii_values if v in text)
    kept = {e["feedback_id"] for e in examples}
    accepted_score = {f["id"]: f["score"] >= 0.75 or bool(f.get("corrected_answer")) for f in feedback}
    dedup: dict[str, dict[str, int]] = {}
    for feedback_id, (kind, original) in repeats.items():
        if not (accepted_score[feedback_id] and original in kept):
            continue  # only a repeat of a kept example that would itself be kept can be a duplicate
        counts = dedup.setdefault(kind, {"repeats": 0, "dropped": 0})
        counts["repeats"] += 1
        counts["dropped"] += feedback_id not in kept
    return {
        "feedback": n,
        "feedback_per_s": round(n / elapsed, 1),
        "examples_curated": totals["accepted"],
        "examples_per_s": round(totals["accepted"] / elapsed, 1),
        "duplicates_dropped": totals["duplicates"],
        # the rest of the drops are distinct requests with near-identical content (same product, topic and
        # answer; only order and case numbers differ): redundant as training data, dropped by design
        "duplicates_dropped_that_were_injected_repeats": sum(v["dropped"] for v in dedup.values()),
        "dedup_recall_by_kind": {k: {**v, "recall": round(v["dropped"] / v["repeats"], 3)} for k, v in dedup.items()},
        "pii_values_injected": len(pii_values),
        "pii_values_leaked": len(leaked),
        "pii_scrub_rate": round(1 - len(leaked) / max(len(pii_values), 1), 4),
        "redactions": totals["redactions"],
        "rejected": rejected,
        "retrain_requests": totals["retrain"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feedback", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(run(args.feedback, args.batch))
    for key, value in result.items():
        print(f"{key}: {value}")
    print("saved", save("curation", result))


if __name__ == "__main__":
    main()
