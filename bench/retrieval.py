"""Retrieval quality and latency of grounding sources, and what conversation memory saves a mobile client.

    python bench/retrieval.py --squad /tmp/squad-dev-subset.json [--tune] [--sizes 10000,100000]

1. **Quality**: a public question-answering set with known answer passages, in SQuAD's JSON format.
   Its articles become one Markdown source (``# title``, one paragraph each), synced through the
   platform's own parser, chunker and the local embedder (all-MiniLM-L6-v2); each answerable question
   is asked, and a chunk is relevant when it holds the sentence its answer comes from. Reported:
   recall@1/5/10 and MRR@10 for vector search alone, BM25 alone, their RRF fusion, and fusion plus the
   reranker as shipped. Questions of the first two articles are the tuning split (``--tune`` grid-searches
   the reranker weights there); the figures are on the questions of the other articles.
2. **Latency** of one retrieval (hybrid candidates + rerank) over sources of 10k and 100k chunks, beside an
   exhaustive numpy scan of the same vectors in the same run. The large sources are made from the real
   chunks: texts recombine real sentences, vectors mix real MiniLM vectors (unit length, same space).
3. **Bytes per turn** with and without conversation memory on a replayed ten-turn mobile conversation
   (``--memory-turns``): see ``memory_bytes`` (needs the gateway; skipped with ``--no-gateway``).

Results go to ``bench/results/retrieval.json`` with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.embeddings.port import LocalEmbedder  # noqa: E402
from shared.grounding.chunking import chunk_file  # noqa: E402
from shared.grounding.parsing import parse_file  # noqa: E402
from shared.grounding.rerank import DEFAULT_WEIGHTS, RerankWeights, rerank_scores  # noqa: E402
from shared.grounding.search import SourceIndex  # noqa: E402
from shared.retraining.contract.metrics import percentile  # noqa: E402

SENTENCE = re.compile(r"[^.!?]+[.!?]+(?=\s|$)|[^.!?]+$")
TUNING_ARTICLES = 2
CANDIDATES = 20


def load_squad(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The Markdown document and the answerable questions (question, article index, answer sentence)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    lines: list[str] = []
    questions: list[dict[str, Any]] = []
    for article_index, article in enumerate(data["data"]):
        lines.append(f"# {article['title'].replace('_', ' ')}\n")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].replace("\n", " ")  # one paragraph, one line; offsets unchanged
            lines.append(context + "\n")
            spans = [(m.start(), m.end()) for m in SENTENCE.finditer(context)]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                offset = qa["answers"][0]["answer_start"]
                sentence = next((context[a:b].strip() for a, b in spans if a <= offset < b), context[:80])
                questions.append({"question": qa["question"], "article": article_index, "sentence": sentence})
    return "\n".join(lines), questions


async def embed_all(embedder: LocalEmbedder, texts: list[str], batch: int = 64) -> np.ndarray:
    parts = [await embedder.embed(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    return np.concatenate(parts).astype(np.float32)


def ranked_ids(index: SourceIndex, method: str, vector: np.ndarray, question: str,
               weights: RerankWeights) -> list[str]:
    if method == "vector":
        return [m.entry_id for m in index.vectors.search(vector, k=10)]
    if method == "bm25":
        return [entry for entry, _ in index.keywords.search(question, 10)]
    candidates = index.candidates(vector, question, CANDIDATES)
    if method == "hybrid":
        return [str(c.chunk["id"]) for c in candidates[:10]]
    scores = rerank_scores(question, [(str(c.chunk["text"]), str(c.chunk.get("title") or ""), c.cosine, c.fused)
                                      for c in candidates], weights)
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    return [str(candidates[i].chunk["id"]) for i in order[:10]]


def evaluate(index: SourceIndex, questions: list[dict[str, Any]], vectors: np.ndarray, method: str,
             weights: RerankWeights = DEFAULT_WEIGHTS) -> dict[str, float]:
    hits = {1: 0, 5: 0, 10: 0}
    reciprocal = 0.0
    for q, vector in zip(questions, vectors, strict=True):
        ranked = ranked_ids(index, method, vector, q["question"], weights)
        relevant = q["relevant"]
        rank = next((i + 1 for i, entry in enumerate(ranked) if entry in relevant), None)
        for k in hits:
            hits[k] += 1 if rank is not None and rank <= k else 0
        reciprocal += 1.0 / rank if rank else 0.0
    n = max(len(questions), 1)
    return {"recall@1": round(hits[1] / n, 4), "recall@5": round(hits[5] / n, 4),
            "recall@10": round(hits[10] / n, 4), "mrr@10": round(reciprocal / n, 4), "questions": len(questions)}


def tune(index: SourceIndex, questions: list[dict[str, Any]], vectors: np.ndarray) -> tuple[RerankWeights, float]:
    best, best_mrr = DEFAULT_WEIGHTS, -1.0
    for fused, coverage, title in itertools.product((0.0, 0.25, 0.5, 1.0), (0.0, 0.25, 0.5, 0.75, 1.0),
                                                    (0.0, 0.25, 0.5)):
        weights = RerankWeights(1.0, fused, coverage, title)
        mrr = evaluate(index, questions, vectors, "rerank", weights)["mrr@10"]
        if mrr > best_mrr:
            best, best_mrr = weights, mrr
    return best, best_mrr


def synthetic_source(chunks: list[dict[str, Any]], vectors: np.ndarray, size: int,
                     rng: np.random.Generator) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``size`` chunks built from the real ones: two real chunks' sentences and vectors mixed."""
    sentences = [s for c in chunks for s in SENTENCE.findall(str(c["text"])) if len(s) > 20]
    out_chunks: list[dict[str, Any]] = []
    out_vectors = np.empty((size, vectors.shape[1]), dtype=np.float32)
    for i in range(size):
        a, b = rng.integers(len(chunks), size=2)
        mix = rng.uniform(0.6, 0.9)
        v = mix * vectors[a] + (1 - mix) * vectors[b] + rng.normal(0, 0.02, vectors.shape[1])
        out_vectors[i] = v / np.linalg.norm(v)
        text = " ".join(sentences[j] for j in rng.integers(len(sentences), size=5))
        out_chunks.append({"id": f"s{i}", "text": text, "title": chunks[a].get("title", "")})
    return out_chunks, out_vectors


def latency(chunks: list[dict[str, Any]], vectors: np.ndarray, questions: list[str], query_vectors: np.ndarray,
            size: int) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    big_chunks, big_vectors = synthetic_source(chunks, vectors, size, rng)
    started = time.perf_counter()
    index = SourceIndex(1, "bench", big_chunks, big_vectors)
    build_s = time.perf_counter() - started
    hybrid_ms, brute_ms = [], []
    for question, vector in zip(questions, query_vectors, strict=True):
        t0 = time.perf_counter()
        candidates = index.candidates(vector, question, CANDIDATES)
        rerank_scores(question, [(str(c.chunk["text"]), str(c.chunk.get("title") or ""), c.cosine, c.fused)
                                 for c in candidates])
        t1 = time.perf_counter()
        scores = big_vectors @ vector
        np.argpartition(-scores, CANDIDATES)[:CANDIDATES]
        t2 = time.perf_counter()
        hybrid_ms.append((t1 - t0) * 1000)
        brute_ms.append((t2 - t1) * 1000)
    return {"chunks": size, "build_s": round(build_s, 2), "queries": len(questions),
            "retrieve_p50_ms": round(percentile(hybrid_ms, 50), 3),
            "retrieve_p95_ms": round(percentile(hybrid_ms, 95), 3),
            "exhaustive_vector_scan_p50_ms": round(percentile(brute_ms, 50), 3),
            "exhaustive_vector_scan_p95_ms": round(percentile(brute_ms, 95), 3)}


async def quality_and_latency(args: argparse.Namespace) -> dict[str, Any]:
    document, questions = load_squad(args.squad)
    parsed = parse_file("squad.md", document.encode())
    chunks = chunk_file(parsed)
    embedder = LocalEmbedder()
    started = time.process_time()
    chunk_vectors = await embed_all(embedder, [c.embedding_text for c in chunks])
    embed_cpu_s = time.process_time() - started
    docs = [{"id": c.id, "text": c.text, "title": c.title, "file": c.file} for c in chunks]
    index = SourceIndex(1, embedder.name, docs, chunk_vectors)
    for q in questions:
        q["relevant"] = {c.id for c in chunks if q["sentence"] in c.text}
    questions = [q for q in questions if q["relevant"]]
    question_vectors = await embed_all(embedder, [q["question"] for q in questions])
    tuning = [i for i, q in enumerate(questions) if q["article"] < TUNING_ARTICLES]
    held_out = [i for i, q in enumerate(questions) if q["article"] >= TUNING_ARTICLES]
    result: dict[str, Any] = {"corpus": {"articles": len({q["article"] for q in questions}), "chunks": len(chunks),
                                         "embed_cpu_s": round(embed_cpu_s, 2)}}
    if args.tune:
        weights, mrr = tune(index, [questions[i] for i in tuning], question_vectors[tuning])
        result["tuned_weights"] = {**dataclasses.asdict(weights), "tuning_mrr@10": mrr}
    held = [questions[i] for i in held_out]
    result["quality"] = {method: evaluate(index, held, question_vectors[held_out], method)
                         for method in ("vector", "bm25", "hybrid", "rerank")}
    result["latency"] = [latency(docs, chunk_vectors, [q["question"] for q in held[:200]],
                                 question_vectors[held_out][:200], size) for size in args.sizes]
    return result


MOBILE_TURNS = [
    "Hi, I ordered a CX-200 last week and it has not arrived yet.", "The order number is 88123.",
    "It says shipped but the tracking has not moved for three days.", "Can you check with the courier?",
    "If it is lost, can I get a replacement instead of a refund?", "How long would a replacement take?",
    "Do I need to return anything?", "Please also update my delivery address to my office.",
    "It is 12 Harbour Street, Springfield.", "Thanks, please confirm everything by email.",
]


def memory_bytes() -> dict[str, Any]:
    """Request bytes a mobile client sends per turn over a replayed ten-turn conversation through the
    gateway (the local stack), resending the history vs sending only the new message with memory."""
    import tempfile

    import httpx2

    from tests.support.stack import running_stack

    system = {"role": "system", "content": "You are the support assistant of Contoso. Answer briefly."}
    with running_stack(Path(tempfile.mkdtemp())) as stack:
        headers = {"authorization": f"Bearer {stack.key}", "content-type": "application/json"}
        url = f"{stack.gateway_url}/api/v1/chat/completions"
        without, history = [], [system]
        for text in MOBILE_TURNS:
            history.append({"role": "user", "content": text})
            body = orjson_dumps({"model": "gpt-4o-mini", "messages": history, "user": "m1"})
            reply = httpx2.post(url, content=body, headers=headers, timeout=30).json()
            history.append({"role": "assistant", "content": reply["choices"][0]["message"]["content"]})
            without.append(len(body))
        created = httpx2.post(f"{stack.gateway_url}/api/v1/conversations", json={"user": "m1"}, headers=headers)
        conversation_id = created.json()["id"]
        with_memory = [len(created.request.content)]
        for turn, text in enumerate(MOBILE_TURNS):
            messages = [system, {"role": "user", "content": text}] if turn == 0 else [{"role": "user",
                                                                                       "content": text}]
            body = orjson_dumps({"model": "gpt-4o-mini", "messages": messages, "user": "m1",
                                 "conversation_id": conversation_id})
            httpx2.post(url, content=body, headers=headers, timeout=30).raise_for_status()
            with_memory.append(len(body))
    return {"turns": len(MOBILE_TURNS), "without_memory_bytes_per_turn": without,
            "with_memory_bytes_per_turn": with_memory, "without_memory_total": sum(without),
            "with_memory_total": sum(with_memory), "ratio": round(sum(without) / sum(with_memory), 2)}


def orjson_dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, help="a SQuAD-format JSON file (see the README)")
    parser.add_argument("--tune", action="store_true", help="grid-search the reranker weights on the tuning split")
    parser.add_argument("--sizes", default="10000,100000", help="source sizes for the latency runs")
    parser.add_argument("--memory-only", action="store_true", help="only the bytes-per-turn measurement")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "retrieval.json")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.memory_only:
        result: dict[str, Any] = {"memory": memory_bytes()}
    else:
        if args.squad is None:
            parser.error("--squad FILE is required (or --memory-only)")
        result = asyncio.run(quality_and_latency(args))
        result["dataset"] = str(args.squad)
        result["memory"] = memory_bytes()
    result["loadavg"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    args.output.write_text(json.dumps({**previous, **result}, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
