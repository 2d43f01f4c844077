"""Detection on data nobody tuned it to: leave-one-source-out figures, latency, CPU per request.

    python scripts/build_corpora.py            # the corpora, from the pinned public sources
    nice python bench/detection.py [--corpora data/corpora] [--quick] [--skip-cpu]

For every check and every source of its corpus (``data/CARD.md``):

- **the shipped recipe retrained leave-one-source-out** (``scripts/train_guardrail_models.py``'s
  ``train``: train on every source but one, score the one left out through the detector as shipped,
  rules, short-text prior, document windows and both stages, for each source in turn; every
  threshold inside the model picked on its training rows), and its in-distribution figure (5-fold
  cross-validation over all sources);
- **the shipped models** on every row (trained on every source, so in sample) and the rules alone;
- groundedness: the shipped scorer on every source (its weights were fitted on HaluEval-style QA);
- peers in the same run where installed (``pip install -e '.[guardrails-bench]'``): a TF-IDF + LR
  baseline trained on ``../shared/data/injection/dev.jsonl`` alone (scikit-learn) and
  alt-profanity-check;
- latency per KB (p50 / p95 over the texts) and the CPU milliseconds per request of the whole
  default policy (input checks, the cache's question embedding, output checks on a streamed answer)
  on distinct prompts (an instruction and an e-mail, ~1 KB; a dozen short prompts joined, ~1 KB;
  ~40 characters) with ~150-token answers.

Results: ``bench/results/detection.json`` (with ``os.getloadavg()``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from corpus_sources import SHARED_DATA  # noqa: E402
from detector_training import TOXICITY_HEADS, read_rows, toxicity_examples  # noqa: E402
from train_guardrail_models import train  # noqa: E402

from shared.guardrails.classifier import roc_auc  # noqa: E402
from shared.guardrails.groundedness import GroundednessScorer  # noqa: E402
from shared.guardrails.injection import InjectionDetector, rule_score  # noqa: E402
from shared.guardrails.text import canonical, sentence_windows  # noqa: E402
from shared.guardrails.toxicity import ToxicityDetector  # noqa: E402

# The shipped models train on every source, so every row is in sample for them (their figures here
# say what the recipe fits, the leave-one-source-out ones what a new source meets). These sources are
# the TF-IDF baseline's own (the shared dev set) and the repo's: its totals leave them out.
BASELINE_IN_SAMPLE = {"deepset-train", "jailbreakbench-jbc", "own-benign", "own-documents", "own-indirect"}


def sigmoid(z: float) -> float:
    return float(1 / (1 + np.exp(-np.clip(z, -30, 30))))


def per_kb(times_ms: list[float], texts: Sequence[str]) -> dict[str, float]:
    rates = sorted(ms / max(len(t.encode()) / 1024, 0.05) for ms, t in zip(times_ms, texts, strict=True))
    return {"ms_per_kb_p50": round(statistics.median(rates), 3),
            "ms_per_kb_p95": round(rates[int(0.95 * len(rates))], 3)}


def prf(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    tp = int(np.sum(predicted & (labels == 1)))
    precision = tp / int(predicted.sum()) if predicted.any() else None
    recall = tp / int((labels == 1).sum()) if (labels == 1).any() else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return {"precision": precision and round(precision, 3), "recall": recall and round(recall, 3), "f1": round(f1, 3)}



def recipe_loso(name: str, corpora: Path, rows: list[dict[str, Any]], score_row: Callable[[Any, dict[str, Any]], float],
                *, folds: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Held-out scores of every row through the detector as shipped (rules, priors, two stages):
    leave-one-source-out (the model trained without the row's source), and ``folds``-fold in
    distribution. Every threshold inside the model is picked on its training rows."""
    src = np.array([r["source"] for r in rows])
    loso = np.zeros(len(rows))
    escalated = {}
    for held in sorted(set(src)):
        model = train(name, corpora, [r for r, s in zip(rows, src, strict=True) if s != held])
        for i in np.flatnonzero(src == held):
            loso[i] = score_row(model, rows[i])
        escalated[held] = model.escalate_above
    within = np.zeros(len(rows))
    fold_of_row = np.arange(len(rows)) % max(folds, 1)
    for fold in range(folds):
        model = train(name, corpora, [r for r, f in zip(rows, fold_of_row, strict=True) if f != fold])
        for i in np.flatnonzero(fold_of_row == fold):
            within[i] = score_row(model, rows[i])
    return loso, within, {"escalate_above_per_held_out_source": escalated}


# --- injection ------------------------------------------------------------------------------
def injection_units(row: dict[str, Any]) -> list[str]:
    return sentence_windows(row["text"]) if row.get("kind") == "document" else [row["text"]]


def bench_injection(corpora: Path, quick: bool) -> dict[str, Any]:
    rows = read_rows(corpora / "injection.jsonl")
    if quick:
        rows = rows[::4]
    def recipe_score(model: Any, row: dict[str, Any]) -> float:
        detector = InjectionDetector(model)
        return (detector.score_document if row.get("kind") == "document" else detector.score)(row["text"])[0]

    loso, within, loso_meta = recipe_loso("injection", corpora, rows, recipe_score, folds=0 if quick else 5)
    detector = InjectionDetector()
    shipped, rules, times = [], [], []
    for row in rows:
        started = time.perf_counter()
        document = row.get("kind") == "document"
        shipped.append((detector.score_document if document else detector.score)(row["text"])[0])
        times.append((time.perf_counter() - started) * 1000)
        rules.append(max(rule_score(canonical(u))[0] for u in injection_units(row)))
    baseline = tfidf_baseline([r["text"] for r in rows])
    scores = {"shipped": np.array(shipped), "rules_only": np.array(rules), "recipe_loso": loso}
    if not quick:
        scores["recipe_in_distribution"] = within
    if baseline is not None:
        scores["tfidf_lr_shared_dev_only"] = baseline
    y = np.array([r["label"] for r in rows])
    src = np.array([r["source"] for r in rows])
    kind = np.array([r.get("kind", "prompt") for r in rows])
    table = []
    for source in sorted(set(src)):
        for k in ("prompt", "document"):
            mask = (src == source) & (kind == k)
            if not mask.any():
                continue
            entry = {"source": source, "kind": k, "rows": int(mask.sum()), "attacks": int(y[mask].sum())}
            for name, s in scores.items():
                entry[f"{name}_flagged"] = round(float(np.mean(s[mask] >= 0.5)), 3)
            table.append(entry)
    held_out = ~np.isin(src, list(BASELINE_IN_SAMPLE))
    totals = {}
    for name, s in scores.items():
        mask = held_out if name == "tfidf_lr_shared_dev_only" else np.ones(len(y), bool)
        prompts, documents = mask & (kind == "prompt"), mask & (kind == "document")
        totals[name] = {"prompts": prf(s[prompts] >= 0.5, y[prompts]),
                        "documents": prf(s[documents] >= 0.5, y[documents]),
                        "auroc_all": round(roc_auc(y[mask], s[mask]), 3)}
    return {"per_source": table, "totals": totals, "latency": per_kb(times, [r["text"] for r in rows]), **loso_meta}


def tfidf_baseline(texts: list[str]) -> np.ndarray | None:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    dev = SHARED_DATA / "injection" / "dev.jsonl"
    if not dev.exists():
        return None
    train = [json.loads(line) for line in dev.read_text().splitlines() if line.strip()]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    model = LogisticRegression(max_iter=2000, class_weight="balanced")
    model.fit(vectorizer.fit_transform([r["text"] for r in train]), [r["label"] for r in train])
    return model.predict_proba(vectorizer.transform(texts))[:, 1]


# --- toxicity -------------------------------------------------------------------------------
def bench_toxicity(corpora: Path, quick: bool) -> dict[str, Any]:
    rows = read_rows(corpora / "toxicity.jsonl")
    if quick:
        rows = rows[::4]
    labels = toxicity_examples(rows).labels
    held_categories: dict[int, dict[str, float]] = {}
    held_cascade_only: dict[int, float] = {}

    def recipe_score(model: Any, row: dict[str, Any]) -> float:
        detector = ToxicityDetector(model)
        # as the default policy's input check reads a user's turn (one window: the transformer head) ...
        score, detail = detector.score(row["text"], full_for_one_window=True)
        held_categories[id(row)] = detail.get("categories", {})
        # ... and as the output check reads a streamed answer's sentences (the two-stage cascade alone)
        held_cascade_only[id(row)] = detector.score(row["text"])[0]
        return score

    loso, _, loso_meta = recipe_loso("toxicity", corpora, rows, recipe_score, folds=0)
    loso_categories = [held_categories.get(id(r), {}) for r in rows]
    detector = ToxicityDetector()
    shipped, times = [], []
    for row in rows:
        started = time.perf_counter()
        shipped.append(detector.score(row["text"], full_for_one_window=True)[0])
        times.append((time.perf_counter() - started) * 1000)
    scores = {"shipped": np.array(shipped), "recipe_loso": loso,
              "recipe_loso_cascade_only": np.array([held_cascade_only[id(r)] for r in rows])}
    try:
        from profanity_check import predict_prob

        scores["alt_profanity_check"] = np.asarray(predict_prob([r["text"] for r in rows]), dtype=float)
    except ImportError:
        pass
    y = np.array([r["label"] for r in rows])
    src = np.array([r["source"] for r in rows])
    table = []
    for source in sorted(set(src)):
        mask = src == source
        entry: dict[str, Any] = {"source": source, "rows": int(mask.sum()), "toxic": int(y[mask].sum())}
        for name, s in scores.items():
            both = 0 < y[mask].sum() < mask.sum()
            entry[f"{name}_auroc"] = round(roc_auc(y[mask], s[mask]), 3) if both else None
            entry[f"{name}_flagged"] = round(float(np.mean(s[mask] >= 0.5)), 3)
        table.append(entry)
    totals = {name: {"auroc": round(roc_auc(y, s), 3)} for name, s in scores.items()}
    categories = {}
    for j, head in enumerate(TOXICITY_HEADS[1:], 1):
        cat = labels[:, j] == 1
        if 0 < cat.sum() < len(cat):
            named = np.array([head in c for c in loso_categories])
            categories[head] = {"positives": int(cat.sum()),
                                "recipe_loso": prf(named, cat.astype(int)),
                                "sources": sorted({r["source"] for r in rows if head in r["categories"]})}
    return {"per_source": table, "totals": totals, "categories": categories,
            "latency": per_kb(times, [r["text"] for r in rows]), **loso_meta}


# --- groundedness ---------------------------------------------------------------------------
def bench_groundedness(corpora: Path, quick: bool) -> dict[str, Any]:
    rows = read_rows(corpora / "groundedness.jsonl")
    limit = 60 if quick else 300
    picked: list[dict[str, Any]] = []
    for key in sorted({(r["source"], r["kind"]) for r in rows}):
        group = [r for r in rows if (r["source"], r["kind"]) == key]
        step = max(1, len(group) // limit)
        picked.extend(group[::step][:limit] if key[1] == "claim" else group[: 2 * (limit // 2)])
    scorer = GroundednessScorer()
    scores, times = [], []
    for row in picked:
        started = time.perf_counter()
        scores.append(scorer.score(row["claim"], row["evidence"])[0])
        times.append((time.perf_counter() - started) * 1000)
    s, y = np.array(scores), np.array([r["label"] for r in picked])
    # swap_replaced_in_evidence: the swaps that took away a number or name the evidence states (in the
    # other swaps the original claim's detail was already missing from the evidence)
    kinds = {"swap": lambda r: r["kind"] == "swap", "claim": lambda r: r["kind"] == "claim",
             "swap_replaced_in_evidence": lambda r: r["kind"] == "swap" and bool(r.get("replaced_in_evidence"))}
    table = []
    for kind, wanted in kinds.items():
        for source in sorted({r["source"] for r in picked}):
            mask = np.array([r["source"] == source and wanted(r) for r in picked])
            if mask.any() and 0 < y[mask].sum() < mask.sum():
                table.append({"kind": kind, "source": source, "rows": int(mask.sum()),
                              "auroc": round(roc_auc(y[mask], s[mask]), 3),
                              "in_sample": source == "own-claims"})
    totals = {}
    for kind, wanted in kinds.items():
        mask = np.array([wanted(r) and r["source"] != "own-claims" for r in picked])
        totals[kind] = round(roc_auc(y[mask], s[mask]), 3)
    return {"per_source": table, "totals_auroc_held_out": totals,
            "latency": per_kb(times, [r["claim"] + r["evidence"] for r in picked])}


# --- CPU per request ------------------------------------------------------------------------
def cpu_per_request(corpora: Path, requests: int) -> dict[str, Any]:
    """Process CPU ms per request of the default policy as the gateway runs it: input checks (PII,
    injection, toxicity on the new turn), the cache's question embedding, output checks on an answer
    streamed in ~4-token deltas. Prompts and answers are all distinct."""
    from shared.cache.service import CacheConfig
    from shared.config import get_settings
    from shared.embeddings.memo import sentence_memo
    from shared.embeddings.port import LocalEmbedder
    from shared.guardrails.service import GuardrailService

    rows = read_rows(corpora / "injection.jsonl")
    benign = [r["text"] for r in rows if r["label"] == 0 and r.get("kind") == "prompt" and 20 < len(r["text"]) < 200]
    emails = [r["text"] for r in rows if r["source"] == "enron"]
    settings = get_settings()
    service = GuardrailService.from_settings(settings)
    embedder = LocalEmbedder()
    config = CacheConfig.from_settings(settings)

    async def one(prompt: str, answer: str) -> None:
        result = await service.check_input("bench", "bench", [{"role": "user", "content": prompt}])
        assert result.blocking is None or True
        if len(prompt) <= config.semantic_max_chars:
            await embedder.embed([prompt])
        guard = service.stream_checker("bench", "bench", question=prompt)
        for start in range(0, len(answer), 16):
            await guard.feed(answer[start : start + 16])
        await guard.finish()

    def run(prompts: list[str], answers: list[str]) -> dict[str, Any]:
        sentence_memo.clear()
        asyncio.run(one("warm up the encoder", "A warm-up answer."))
        costs = []
        for prompt, answer in zip(prompts, answers, strict=True):
            started = time.process_time()
            asyncio.run(one(prompt, answer))
            costs.append((time.process_time() - started) * 1000)
        costs.sort()
        return {"requests": len(costs), "prompt_chars_mean": round(statistics.mean(len(p) for p in prompts)),
                "answer_chars_mean": round(statistics.mean(len(a) for a in answers)),
                "cpu_ms_p50": round(statistics.median(costs), 2), "cpu_ms_mean": round(statistics.mean(costs), 2),
                "cpu_ms_p95": round(costs[int(0.95 * len(costs))], 2)}

    answers = []
    for i in range(requests):
        text = emails[i % len(emails)]
        answers.append(text[:600] if len(text) >= 600 else (text + " " + emails[(i + 7) % len(emails)])[:600])
    long_prompts = []
    for i in range(requests):
        parts, j = [], i * 7
        while sum(len(p) + 1 for p in parts) < 1024:
            parts.append(benign[j % len(benign)])
            j += 13
        long_prompts.append(" ".join(parts)[:1100])
    short_prompts = [benign[(i * 31) % len(benign)] for i in range(requests)]
    # one coherent request of ~1 KB: an instruction and the e-mail it is about (e-mails not used as answers)
    tasks = ("Summarise this e-mail in three bullet points:", "Draft a polite reply to this e-mail:",
             "What does the sender of this e-mail want from us?", "Extract the dates and amounts from this e-mail:")
    bodies = [e for e in emails if 800 <= len(e)][requests:]
    email_prompts = [f"{tasks[i % len(tasks)]}\n\n{bodies[i % len(bodies)][:1000]}" for i in range(requests)]
    # the policy's stages on their own (a request through the gateway adds ~1 ms of its own)
    return {"prompt_1kb_email": run(email_prompts, answers), "prompt_1kb": run(long_prompts, answers),
            "prompt_short": run(short_prompts, answers),
            "note": "asyncio.run per request adds ~0.1 ms; PII, injection, toxicity, cache embedding, output checks; "
                    "prompt_1kb: ~1 KB of unrelated short prompts joined; "
                    "prompt_1kb_email: an instruction and one e-mail"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO / "data" / "corpora")
    parser.add_argument("--quick", action="store_true", help="a quarter of the rows, fewer epochs")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--only", choices=("injection", "toxicity", "groundedness", "cpu"), action="append")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "detection.json")
    args = parser.parse_args(argv)
    if not (args.corpora / "injection.jsonl").exists():
        raise SystemExit(f"{args.corpora} has no corpora: run python scripts/build_corpora.py first")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, "blas")
    wanted = args.only or ["injection", "toxicity", "groundedness"] + ([] if args.skip_cpu else ["cpu"])
    results: dict[str, Any] = {"loadavg_start": os.getloadavg(), "quick": args.quick}
    if args.out.exists():
        previous = json.loads(args.out.read_text())
        results = {**previous, **results}
    started = time.time()
    for name in wanted:
        if name == "injection":
            results["injection"] = bench_injection(args.corpora, args.quick)
        elif name == "toxicity":
            results["toxicity"] = bench_toxicity(args.corpora, args.quick)
        elif name == "groundedness":
            results["groundedness"] = bench_groundedness(args.corpora, args.quick)
        else:
            results["cpu_per_request"] = cpu_per_request(args.corpora, 30 if args.quick else 60)
        print(json.dumps({name: results.get(name if name != "cpu" else "cpu_per_request")}, indent=1, default=str))
    results["loadavg_end"] = os.getloadavg()
    results["seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
