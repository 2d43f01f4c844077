"""Guardrail quality and speed on public data, beside Presidio and alt-profanity-check where installed.

    python bench/guardrails.py [--data-dir ../shared/data] [--quick]

For each check: precision / recall / F1 or AUROC on the labelled sets in ``<data-dir>`` (see its
README), the repo's own hard-negative and claim/evidence sets (``data/guardrails/``), and latency
per KB of text (p50 / p95 over the texts, and total time / total KB). Peers run in the same process
on the same texts: Presidio's pattern recognizers (a blank spaCy pipeline, so nothing is downloaded)
and alt-profanity-check, when ``pip install -e '.[guardrails-bench]'`` has installed them.

The injection and toxicity models are trained on these dev sets among the other corpus sources
(``scripts/train_guardrail_models.py``), so their dev figures are in-sample; the figures to quote
for data the models never saw are ``bench/detection.py``'s leave-one-source-out ones. The repo's own
``eval`` splits (``data/guardrails/``) are held out from training and scored here.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _harness import save  # noqa: E402
from make_groundedness_sets import swapped_pairs  # noqa: E402

from shared.config import Settings  # noqa: E402
from shared.guardrails.classifier import embeddings, roc_auc  # noqa: E402
from shared.guardrails.groundedness import _STOP, _TOKEN, GroundednessScorer  # noqa: E402
from shared.guardrails.injection import InjectionDetector  # noqa: E402
from shared.guardrails.pii import ALL_TYPES, PATTERN_TYPES, PiiScanner  # noqa: E402
from shared.guardrails.service import limit_blas_threads  # noqa: E402
from shared.guardrails.text import canonical  # noqa: E402
from shared.guardrails.toxicity import ToxicityDetector, lexicon_score  # noqa: E402

OWN = REPO / "data" / "guardrails"
OWN_INJECTION_SETS = (
    "benign_dangerous_prompts.jsonl",
    "benign_long_documents.jsonl",
    "benign_multilingual_prompts.jsonl",
    "benign_task_prompts.jsonl",
    "benign_support_prompts.jsonl",
    "indirect_injections.jsonl",
)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def own_split(name: str, split: str) -> list[dict]:
    return [row for row in read_jsonl(OWN / name) if row.get("split", "train") == split]


def timed(score: Callable[[str], object], texts: list[str]) -> tuple[list, dict]:
    """Scores plus latency per KB: p50/p95 over texts and total ms / total KB (embedding cache cold)."""
    embeddings.clear()
    results, per_kb, total_ms = [], [], 0.0
    for text in texts:
        started = time.perf_counter()
        results.append(score(text))
        ms = (time.perf_counter() - started) * 1000
        total_ms += ms
        per_kb.append(ms / max(len(text.encode()) / 1024, 1e-3))
    kb = sum(len(t.encode()) for t in texts) / 1024
    quantiles = statistics.quantiles(per_kb, n=20)
    return results, {"ms_per_kb_p50": round(statistics.median(per_kb), 3), "ms_per_kb_p95": round(quantiles[18], 3),
                     "ms_per_kb_total": round(total_ms / kb, 3), "ms_per_text_mean": round(total_ms / len(texts), 3)}


def prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def binary(labels: list[int], scores: list[float], threshold: float = 0.5) -> dict:
    predicted = [s >= threshold for s in scores]
    tp = sum(p and y == 1 for p, y in zip(predicted, labels, strict=True))
    fp = sum(p and y == 0 for p, y in zip(predicted, labels, strict=True))
    fn = sum(not p and y == 1 for p, y in zip(predicted, labels, strict=True))
    return {**prf(tp, fp, fn), "auroc": round(roc_auc(labels, scores), 3)}


# --- PII ------------------------------------------------------------------------------------
def span_scores(rows: list[dict], predictions: list[list[tuple[str, int, int]]]) -> dict:
    tp = fp = fn = 0
    found_any = total_any = 0
    for row, predicted in zip(rows, predictions, strict=True):
        gold = row["spans"]
        for kind, start, end in predicted:
            if kind in PATTERN_TYPES:
                hit = any(g["type"] == kind and g["start"] < end and start < g["end"] for g in gold)
                tp, fp = tp + hit, fp + (not hit)
        for g in gold:
            overlapping = [p for p in predicted if p[1] < g["end"] and g["start"] < p[2]]
            if g["type"] in PATTERN_TYPES and not any(p[0] == g["type"] for p in overlapping):
                fn += 1
            total_any += 1
            found_any += bool(overlapping)
    return {**prf(tp, fp, fn), "all_types_recall": round(found_any / total_any, 3)}


def presidio_analyzer():
    logging.getLogger("tldextract").disabled = True  # it tries to fetch the suffix list once, then uses its snapshot
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError:
        return None

    class BlankSpacyEngine(SpacyNlpEngine):
        """Tokenisation only (spacy.blank): Presidio's pattern recognizers, no model download."""

        def __init__(self) -> None:
            super().__init__(models=[{"lang_code": "en", "model_name": "blank"}])
            self.nlp = {"en": spacy.blank("en")}

        def load(self) -> None:
            pass

    return AnalyzerEngine(nlp_engine=BlankSpacyEngine(), supported_languages=["en"])


def bench_pii(data_dir: Path) -> dict:
    rows = read_jsonl(data_dir / "pii" / "dev.jsonl")
    texts = [r["text"] for r in rows]
    ours = PiiScanner(ALL_TYPES)
    predictions, latency = timed(lambda t: [(s.type, s.start, s.end) for s in ours.scan(t)], texts)
    pattern_only = PiiScanner(PATTERN_TYPES)
    _, pattern_latency = timed(pattern_only.scan, texts)
    result = {"ours": {**span_scores(rows, predictions), **latency}, "ours_pattern_types_only": pattern_latency}
    analyzer = presidio_analyzer()
    if analyzer is not None:
        analyzer.analyze(texts[0], language="en")  # warm up
        found, latency = timed(lambda t: [(r.entity_type, r.start, r.end) for r in
                                          analyzer.analyze(t, language="en", entities=list(PATTERN_TYPES))], texts)
        result["presidio_pattern"] = {**span_scores(rows, found), **latency}
    return result


# --- injection ------------------------------------------------------------------------------
def bench_injection(data_dir: Path, quick: bool) -> dict:
    rows = read_jsonl(data_dir / "injection" / "dev.jsonl")
    detector = InjectionDetector()
    scores, latency = timed(lambda t: detector.score(t)[0], [r["text"] for r in rows])
    labels = [r["label"] for r in rows]
    result: dict = {"dev_in_sample": {**binary(labels, scores), **latency}}
    own = {}
    for name in OWN_INJECTION_SETS:
        eval_rows = own_split(name, "eval")
        flagged = [r["text"] for r in eval_rows if detector.score(r["text"])[0] >= 0.5]
        key = name.removesuffix(".jsonl")
        own[key] = {"n": len(eval_rows), "flag_rate": round(len(flagged) / len(eval_rows), 3)}
        if key == "benign_support_prompts":
            own[key]["flagged"] = flagged
    result["own_eval_sets"] = own
    result["templated_support"] = templated_support(detector)
    long_docs = [r["text"] for r in own_split("benign_long_documents.jsonl", "eval")]
    _, long_latency = timed(lambda t: detector.score(t)[0], long_docs)
    result["latency_long_documents"] = long_latency
    _, prompt_latency = timed(lambda t: detector.score(t)[0], [r["text"] for r in own_split(
        "benign_dangerous_prompts.jsonl", "eval")])
    result["latency_short_prompts"] = prompt_latency
    return result


def templated_support(detector: InjectionDetector) -> dict:
    """The prompts of the false-block report: 20 templated order questions and an export request (redacted)."""
    questions = [f"Question {i} about order {i * 37} delivery" for i in range(1, 21)]
    scores = [detector.score(q)[0] for q in questions]
    export = detector.score("Can you explain data export? Mail me at <EMAIL_ADDRESS>")[0]
    return {"questions_blocked": sum(s >= 0.5 for s in scores), "questions_n": len(questions),
            "questions_max_score": round(max(scores), 3), "data_export_score": round(export, 3)}


# --- toxicity -------------------------------------------------------------------------------
def bench_toxicity(data_dir: Path, quick: bool) -> dict:
    rows = read_jsonl(data_dir / "toxicity" / "dev.jsonl")
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    detector = ToxicityDetector()  # each text read as the input check reads a user's turn
    scores, latency = timed(lambda t: detector.score(t, full_for_one_window=True)[0], texts)
    lexicon = [lexicon_score(canonical(t))[0] for t in texts]
    result: dict = {"dev_in_sample": {"auroc": round(roc_auc(labels, scores), 3), **latency},
                    "lexicon_only": {"auroc": round(roc_auc(labels, lexicon), 3)}}
    try:
        from profanity_check import predict_prob
    except ImportError:
        return result
    peer, peer_latency = timed(lambda t: float(predict_prob([t])[0]), texts)
    result["alt_profanity_check"] = {"auroc": round(roc_auc(labels, peer), 3), **peer_latency}
    return result


# --- groundedness ---------------------------------------------------------------------------
def overlap_baseline(answer: str, context: str) -> float:
    words = [t.lower() for t in _TOKEN.findall(answer) if t.lower() not in _STOP]
    known = {t.lower() for t in _TOKEN.findall(context)}
    return sum(w not in known for w in words) / len(words) if words else 0.0


def grounded_set(rows: list[dict], scorer: GroundednessScorer, *, answer: str, context: str) -> dict:
    labels = [r["label"] for r in rows]
    scores, per_kb = [], []
    for row in rows:
        started = time.perf_counter()
        scores.append(scorer.score(row[answer], row[context], row.get("question"))[0])
        per_kb.append((time.perf_counter() - started) * 1000 / (len((row[answer] + row[context]).encode()) / 1024))
    return {
        "auroc": round(roc_auc(labels, scores), 3),
        "length_baseline_auroc": round(roc_auc(labels, [len(r[answer]) for r in rows]), 3),
        "overlap_baseline_auroc": round(roc_auc(labels, [overlap_baseline(r[answer], r[context]) for r in rows]), 3),
        "n": len(rows),
        "ms_per_kb_p50": round(statistics.median(per_kb), 3),
        "ms_per_kb_p95": round(statistics.quantiles(per_kb, n=20)[18], 3),
    }


def bench_groundedness(data_dir: Path) -> dict:
    scorer = GroundednessScorer()
    halueval = read_jsonl(data_dir / "hallucination" / "dev.jsonl")
    claims = [{**r, "question": None} for r in read_jsonl(OWN / "claim_evidence.jsonl")]
    return {
        "halueval_qa": grounded_set(halueval, scorer, answer="answer", context="context"),
        "swapped_number_or_name": grounded_set(swapped_pairs(halueval), scorer, answer="answer", context="context"),
        "claim_evidence": grounded_set(claims, scorer, answer="claim", context="evidence"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="no effect (retraining moved to bench/detection.py)")
    args = parser.parse_args(argv)
    if not (args.data_dir / "pii" / "dev.jsonl").exists():
        raise SystemExit(f"no data under {args.data_dir}: pass --data-dir (e.g. /work/shared/data)")
    limit_blas_threads(Settings().guardrails_blas_threads)  # as the gateway runs them
    results = {
        "pii": bench_pii(args.data_dir),
        "injection": bench_injection(args.data_dir, args.quick),
        "toxicity": bench_toxicity(args.data_dir, args.quick),
        "groundedness": bench_groundedness(args.data_dir),
    }
    print(json.dumps(results, indent=2))
    print(f"saved to {save('guardrails', results)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
