"""Semantic cache benchmark: decision quality per threshold, and lookup latency vs index size.

    .venv/bin/python bench/semantic_cache.py [--data ../shared/data/paraphrase/dev.jsonl] [--sizes 1000,10000,100000]

1. Precision and recall of semantic hits on labelled question pairs, per threshold, for cosine
   alone and for cosine + verifier. Every verifier score is out-of-fold (5-fold cross-validation:
   the model scoring a pair never saw it), so the figures are held-out figures.
2. Lookup latency of the in-process vector index (IVF) against a brute-force numpy scan, side by
   side at each index size, with the IVF's agreement with the exact nearest neighbour.
3. The whole semantic lookup path on one request (embed the question, search, verify).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _paraphrase import DEFAULT_DATA, cached_array, features, prepare  # noqa: E402

from shared.cache.pair_features import hard_mismatch  # noqa: E402
from shared.cache.vector_index import VectorIndex  # noqa: E402
from shared.cache.verifier import FeatureVerifier, LogisticModel, apply_guards  # noqa: E402
from shared.cache.verifier_fit import fold_ids, out_of_fold_scores, precision_recall  # noqa: E402
from shared.embeddings.minilm import shared_encoder  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.95)
COSINE_THRESHOLDS = (0.85, 0.9, 0.92, 0.95, 0.97)


def quality(pairs: list[dict], floor: float) -> dict:
    rows = features(pairs)
    labels = np.array([p["label"] for p in pairs])
    sources = np.array([p.get("source", "unknown") for p in pairs])
    folds = fold_ids(labels, np.char.add(sources.astype(str), labels.astype(str)), 5, 0)
    scores = apply_guards([(p["a"], p["b"]) for p in pairs], out_of_fold_scores(rows, labels, folds))
    cosines = rows[:, 0]
    out = {}
    for name, mask in {"all": np.ones(len(pairs), bool), **{s: sources == s for s in np.unique(sources)}}.items():
        if labels[mask].min() == labels[mask].max():
            continue  # precision needs both classes (the GPTCache pairs are all positives)
        out[name] = {
            "pairs": int(mask.sum()),
            "positives": int(labels[mask].sum()),
            "cosine_only": [
                precision_recall(cosines[mask], cosines[mask], labels[mask], floor=0.0, threshold=t)
                for t in COSINE_THRESHOLDS
            ],
            "verifier": [
                precision_recall(cosines[mask], scores[mask], labels[mask], floor=floor, threshold=t)
                for t in THRESHOLDS
            ],
        }
    guarded = sum(1 for p in pairs if hard_mismatch(p["a"], p["b"]))
    out["guarded_pairs"] = guarded
    return out


def sentence_vectors(pairs: list[dict]) -> np.ndarray:
    texts = sorted({t for p in pairs for t in (p["a"], p["b"])})
    return cached_array("sentences", json.dumps(texts), lambda: shared_encoder().encode(texts))


def latency(base: np.ndarray, sizes: list[int], queries: int, seed: int = 0) -> list[dict]:
    """Stored entries: real question vectors, then noisy copies of them up to each size (as a
    cache fills with rephrasings). Queries: stored vectors moved by paraphrase-sized noise."""
    rng = np.random.default_rng(seed)
    results = []
    for size in sizes:
        picks = rng.integers(0, len(base), size)
        stored = base[picks] + rng.normal(0, 0.02, (size, base.shape[1])).astype(np.float32)
        stored[: min(size, len(base))] = base[: min(size, len(base))]
        stored /= np.linalg.norm(stored, axis=1, keepdims=True)
        index = VectorIndex(base.shape[1])
        started = time.perf_counter()
        for i in range(size):
            index.add(str(i), stored[i])
        build_s = time.perf_counter() - started
        targets = rng.integers(0, size, queries)
        probes = stored[targets] + rng.normal(0, 0.012, (queries, base.shape[1])).astype(np.float32)
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
        ivf_ms, brute_ms, agree = [], [], 0
        for probe in probes:  # side by side, interleaved
            t0 = time.perf_counter()
            found = index.search(probe, k=3, min_score=0.8)
            t1 = time.perf_counter()
            scores = stored @ probe
            best = int(np.argmax(scores))
            t2 = time.perf_counter()
            ivf_ms.append((t1 - t0) * 1e3)
            brute_ms.append((t2 - t1) * 1e3)
            agree += bool(found) and found[0].entry_id == str(best)
        results.append(
            {
                "entries": size,
                "ivf_cells": index.cells,
                "build_s": round(build_s, 2),
                "ivf_p50_ms": round(float(np.percentile(ivf_ms, 50)), 3),
                "ivf_p95_ms": round(float(np.percentile(ivf_ms, 95)), 3),
                "brute_p50_ms": round(float(np.percentile(brute_ms, 50)), 3),
                "brute_p95_ms": round(float(np.percentile(brute_ms, 95)), 3),
                "nearest_neighbour_agreement": round(agree / queries, 4),
            }
        )
    return results


def lookup_path(pairs: list[dict], vectors_for, runs: int) -> dict:
    """One semantic lookup as the cache does it: embed the new question, search, verify the candidates."""
    encoder = shared_encoder()
    verifier = FeatureVerifier(encoder, LogisticModel.load(), same_space=True)
    index = VectorIndex(encoder.dimensions)
    positives = [p for p in pairs if p["label"] == 1][:runs]
    for i, p in enumerate(positives):
        index.add(str(i), vectors_for(p["a"]))
    embed_ms, search_ms, verify_ms = [], [], []
    for p in positives:
        t0 = time.perf_counter()
        vector = encoder.encode([p["b"]])[0]
        t1 = time.perf_counter()
        found = index.search(vector, k=3, min_score=0.8)
        t2 = time.perf_counter()
        if found:
            verifier.score_pairs_sync(
                [(positives[int(m.entry_id)]["a"], p["b"]) for m in found], [m.score for m in found]
            )
        t3 = time.perf_counter()
        embed_ms.append((t1 - t0) * 1e3)
        search_ms.append((t2 - t1) * 1e3)
        verify_ms.append((t3 - t2) * 1e3)
    return {
        name: {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(float(np.percentile(v, 95)), 2)}
        for name, v in (("embed", embed_ms), ("search", search_ms), ("verify", verify_ms))
    }


def per_source(corpus: Path, floor: float, threshold: float, target: float = 0.97) -> dict:
    """Precision / recall per source of ``data/corpora/paraphrase.jsonl`` (scripts/build_corpora.py):

    - ``shipped``: the shipped verifier at the default threshold, with the gateway's own encoder (int8
      ONNX); it was trained on the qqp and gptcache-mock pairs, so only the other sources are unseen;
    - ``loso``: the verifier retrained on every source but one, its threshold chosen on the training
      sources' out-of-fold scores for ``target`` precision, then applied to the source left out.
    """
    from shared.cache.verifier_fit import choose_threshold, fit_logistic
    from shared.embeddings.port import LocalEmbedder

    pairs = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    rows = FeatureVerifier(LocalEmbedder(), None, same_space=False).features([(p["a"], p["b"]) for p in pairs])
    labels = np.array([p["label"] for p in pairs])
    sources = np.array([p["source"] for p in pairs])
    cosines = rows[:, 0]

    def guarded(mask: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return apply_guards([(p["a"], p["b"]) for p, m in zip(pairs, mask, strict=True) if m], scores)

    shipped_scores = guarded(np.ones(len(pairs), bool), LogisticModel.load().predict(rows))
    out: dict = {"floor": floor, "default_threshold": threshold, "target_precision": target, "sources": {}}
    for source in sorted(set(sources)):
        held = sources == source
        train = ~held
        folds = fold_ids(labels[train], np.char.add(sources[train], labels[train].astype(str)), 5, 0)
        oof = guarded(train, out_of_fold_scores(rows[train], labels[train], folds))
        chosen = choose_threshold(cosines[train], oof, labels[train], floor=floor, target_precision=target)
        model = fit_logistic(rows[train], labels[train])
        held_scores = guarded(held, model.predict(rows[held]))
        out["sources"][source] = {
            "pairs": int(held.sum()),
            "positives": int(labels[held].sum()),
            "shipped_in_training": source in ("qqp", "gptcache-mock"),
            "shipped": precision_recall(cosines[held], shipped_scores[held], labels[held], floor=floor,
                                        threshold=threshold),
            "loso": {**precision_recall(cosines[held], held_scores, labels[held], floor=floor, threshold=chosen),
                     "threshold_from_training_folds": chosen},
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "semantic_cache.json")
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpora" / "paraphrase.jsonl",
                        help="per-source pairs (scripts/build_corpora.py)")
    parser.add_argument("--per-source-only", action="store_true", help="only the per-source figures")
    args = parser.parse_args()
    if args.per_source_only:
        from shared.config import get_settings

        settings = get_settings()
        report = per_source(args.corpus, settings.cache_semantic_candidate_floor, settings.cache_semantic_threshold)
        previous = json.loads(args.output.read_text()) if args.output.exists() else {}
        args.output.write_text(json.dumps({**previous, "per_source": report}, indent=1) + "\n")
        print(json.dumps(report, indent=1))
        return 0
    prepared = prepare(args.data)
    if prepared is None:
        return 2
    settings, pairs = prepared
    report = {
        "data": str(args.data.name),
        "floor": settings.cache_semantic_candidate_floor,
        "default_threshold": settings.cache_semantic_threshold,
    }
    report["quality"] = quality(pairs, settings.cache_semantic_candidate_floor)
    texts = sorted({t for p in pairs for t in (p["a"], p["b"])})
    vectors = sentence_vectors(pairs)
    position = {t: i for i, t in enumerate(texts)}
    report["index_latency"] = latency(vectors, [int(s) for s in args.sizes.split(",")], args.queries)
    report["lookup_path"] = lookup_path(pairs, lambda t: vectors[position[t]], runs=300)
    if args.corpus.exists():
        report["per_source"] = per_source(args.corpus, settings.cache_semantic_candidate_floor,
                                          settings.cache_semantic_threshold)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
