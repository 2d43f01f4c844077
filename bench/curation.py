"""Curation throughput and quality on a synthetic feedback stream.

    python bench/curation.py [--feedback 2000] [--batch 100]

Builds a stream like a CRM assistant's: request records with transcripts, a share of them carrying
personal data (emails, phone numbers, card numbers, IBANs) in the question or the answer, a share
that repeat an earlier conversation with small edits (near duplicates), mixed ratings and some
corrections. Runs the real ``CurationService`` (SQLite store, the guardrails' PII redaction) over it
in change-feed-sized batches and reports examples curated per second, the share of injected
duplicates caught and the share of injected PII values that no longer appear in any example.
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


def synthetic_stream(n: int, rng: random.Random) -> tuple[list[dict], list[dict], set[str], int]:
    records, feedback, pii_values, duplicates = [], [], set(), 0
    base: list[tuple[str, str]] = []
    for i in range(n):
        if base and rng.random() < 0.15:  # a near duplicate of an earlier conversation
            question, answer = rng.choice(base)
            question = question.replace("?", " please?") if rng.random() < 0.5 else question.lower()
            duplicates += 1
        else:
            product, topic = rng.choice(PRODUCTS), rng.choice(TOPICS)
            question = f"Hi, I have a question about the {topic} for my {product} order {rng.randint(1000, 99999)}?"
            answer = (f"Thanks for reaching out about the {topic} of the {product}. "
                      f"{rng.choice(['You can', 'Please', 'We recommend you'])} "
                      f"{rng.choice(['open the app', 'visit the support page', 'reply to our email'])} "
                      f"and follow the steps for case {rng.randint(100000, 999999)}.")
            base.append((question, answer))
        if rng.random() < 0.3:
            value = pii_value(rng, rng.choice(["email", "phone", "card", "iban"]))
            pii_values.add(value)
            question += f" You can reach me at {value}." if rng.random() < 0.7 else ""
            answer += f" We noted {value} on file." if value not in question else ""
        request_id = f"req{i:06d}"
        records.append({"id": request_id, "tenant_id": "contoso", "app_id": "crm", "status": 200,
                        "deployment": "gpt-4o-mini", "transcript": {
                            "messages": [{"role": "system", "content": "You are Contoso's support assistant."},
                                         {"role": "user", "content": question}], "completion": answer}})
        rating = rng.choice([5, 5, 4, 4, 3, 2, 1])
        doc = {"id": f"fb{i:06d}", "tenant_id": "contoso", "request_id": request_id, "rating": rating,
               "score": (rating - 1) / 4}
        if rng.random() < 0.05:
            doc["corrected_answer"] = answer.replace("Thanks", "Thank you")
        feedback.append(doc)
    return records, feedback, pii_values, duplicates


async def run(n: int, batch: int) -> dict:
    rng = random.Random(42)
    records, feedback, pii_values, injected_duplicates = synthetic_stream(n, rng)
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
    return {
        "feedback": n,
        "feedback_per_s": round(n / elapsed, 1),
        "examples_curated": totals["accepted"],
        "examples_per_s": round(totals["accepted"] / elapsed, 1),
        "duplicates_injected": injected_duplicates,
        "duplicates_caught": totals["duplicates"],
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
