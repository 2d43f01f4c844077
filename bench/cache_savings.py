"""Response cache savings on a replayed workload with realistic repetition, and the exact-hit path
through the gateway.

    .venv/bin/python bench/cache_savings.py [--data ../shared/data/paraphrase/dev.jsonl] [--requests 3000]

1. Workload: question "intents" drawn with Zipf popularity (a few questions are asked very often).
   A repeat asks the same words (exact), a paraphrase (a pair labelled same-meaning), or a near
   miss (a pair labelled different: a hit there would serve a wrong answer). The verifier used here
   is fitted on 60% of the pairs (folds 0-2) and the workload is built from the other 40%, so
   semantic hits are measured on pairs the verifier never saw. The replay goes through the real
   ``ResponseCache`` (SQLite exact tier, in-process semantic index, all-MiniLM-L6-v2, verifier).
   Reported: hit rates, wrong hits, tokens and cost saved at gpt-4o-mini and gpt-4o prices, and the
   cache's lookup time per outcome.
2. Gateway: the simulator and one ``llmops serve`` process (as ``make run``); ``hey`` sends one
   deterministic request (every request after the first is an exact hit) and, side by side, the
   same request with temperature 0.7 (never cached: the model path) and straight to the simulator.
   The gateway's own ``x-llmops-overhead-ms`` for hits is sampled too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _harness import SIMULATOR_KEY, free_port, gateway_env, hey, issue_key, process, python_command, save  # noqa: E402
from _paraphrase import DEFAULT_DATA, features, prepare  # noqa: E402

from shared.cache.exact import ExactCache  # noqa: E402
from shared.cache.keys import CacheScope  # noqa: E402
from shared.cache.policy import CachePolicy  # noqa: E402
from shared.cache.semantic_store import InProcessSemanticStore  # noqa: E402
from shared.cache.service import CacheConfig, CacheRequest, ResponseCache  # noqa: E402
from shared.cache.verifier import FeatureVerifier  # noqa: E402
from shared.cache.verifier_fit import fit_logistic, fold_ids  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.embeddings.minilm import shared_encoder  # noqa: E402
from shared.embeddings.port import LocalEmbedder  # noqa: E402
from shared.store.sqlite import SqliteDocumentStore  # noqa: E402

SYSTEM = {"role": "system", "content": "You are the support assistant of Contoso. Answer briefly and politely."}
PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00)}  # USD per 1M input / output tokens


def build_workload(pairs: list[dict], requests: int, seed: int) -> list[tuple[str, int]]:
    """(question, intent) in arrival order; a paraphrase shares its original's intent."""
    rng = np.random.default_rng(seed)
    intents: dict[str, int] = {}
    paraphrases: dict[int, list[str]] = {}
    near_misses: dict[int, list[str]] = {}
    for p in pairs:
        intent = intents.setdefault(p["a"], len(intents))
        if p["label"] == 1:
            paraphrases.setdefault(intent, []).append(p["b"])
        else:
            near_misses.setdefault(intent, []).append(p["b"])
    originals = list(intents)
    popularity = 1.0 / np.arange(1, len(originals) + 1) ** 1.1
    order = rng.permutation(len(originals))
    weights = np.empty(len(originals))
    weights[order] = popularity / popularity.sum()
    workload, seen = [], set()
    for index in rng.choice(len(originals), size=requests, p=weights):
        question, intent = originals[index], intents[originals[index]]
        roll = rng.random()
        if intent in seen and roll < 0.30 and paraphrases.get(intent):
            question = str(rng.choice(paraphrases[intent]))
        elif intent in seen and roll < 0.45 and near_misses.get(intent):
            miss = str(rng.choice(near_misses[intent]))
            question, intent = miss, intents.setdefault(miss, len(intents))
        seen.add(intent)
        workload.append((question, intent))
    return workload


def answer(question: str, intent: int, rng: np.random.Generator, encoder) -> dict:
    prompt_tokens = 40 + encoder.token_count(question)
    completion_tokens = int(rng.integers(120, 400))
    return {
        "id": f"chatcmpl-{intent}",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"answer to intent {intent}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


async def replay(pairs: list[dict], rows: np.ndarray, args: argparse.Namespace, settings: Settings) -> dict:
    labels = np.array([p["label"] for p in pairs])
    sources = np.array([p.get("source", "unknown") for p in pairs])
    folds = fold_ids(labels, np.char.add(sources.astype(str), labels.astype(str)), 5, 0)
    model = fit_logistic(rows[folds <= 2], labels[folds <= 2])
    held_out = [p for p, f in zip(pairs, folds, strict=True) if f > 2]
    workload = build_workload(held_out, args.requests, args.seed)
    encoder = shared_encoder()
    embedder = LocalEmbedder(encoder=encoder)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteDocumentStore(Path(tmp) / "cache.sqlite3")
        await store.open()
        cache = ResponseCache(
            CacheConfig(
                ttl_s=86_400,
                semantic_threshold=settings.cache_semantic_threshold,
                candidate_floor=settings.cache_semantic_candidate_floor,
            ),
            ExactCache(store, max_entries=settings.cache_max_entries),
            InProcessSemanticStore(max_entries=settings.cache_max_entries),
            embedder,
            FeatureVerifier(embedder, model, same_space=True),
        )
        rng = np.random.default_rng(args.seed)
        outcome = {"miss": 0, "hit-exact": 0, "hit-semantic": 0}
        wrong, tokens_used, tokens_saved = 0, {"in": 0, "out": 0}, {"in": 0, "out": 0}
        timings: dict[str, list[float]] = {k: [] for k in outcome}
        answers: dict[int, dict] = {}
        for question, intent in workload:
            request = CacheRequest.from_body(
                {"model": "gpt-4o-mini", "temperature": 0, "messages": [SYSTEM, {"role": "user", "content": question}]},
                policy=CachePolicy(),
            )
            scope = CacheScope.for_request("bench", "gpt-4o-mini", "gpt-4o-mini", request.messages, None)
            started = time.perf_counter()
            hit = await cache.lookup(scope, request)
            timings[request.status].append((time.perf_counter() - started) * 1e3)
            outcome[request.status] += 1
            if hit is not None:
                served = int(hit.response["choices"][0]["message"]["content"].rsplit(" ", 1)[1])
                wrong += served != intent
                tokens_saved["in"] += hit.saved_usage["prompt_tokens"]
                tokens_saved["out"] += hit.saved_usage["completion_tokens"]
                continue
            body = answers.setdefault(intent, answer(question, intent, rng, encoder))
            tokens_used["in"] += body["usage"]["prompt_tokens"]
            tokens_used["out"] += body["usage"]["completion_tokens"]
            await cache.store(scope, request, body)
        await cache.close()
        await store.close()
    total_in, total_out = tokens_used["in"] + tokens_saved["in"], tokens_used["out"] + tokens_saved["out"]

    def cost(tokens: dict, model: str) -> float:
        price_in, price_out = PRICES[model]
        return (tokens["in"] * price_in + tokens["out"] * price_out) / 1e6

    return {
        "requests": len(workload),
        "distinct_intents": len({i for _, i in workload}),
        "outcomes": outcome,
        "hit_rate": round((outcome["hit-exact"] + outcome["hit-semantic"]) / len(workload), 4),
        "semantic_hits_wrong": wrong,
        "semantic_precision": round(1 - wrong / outcome["hit-semantic"], 4) if outcome["hit-semantic"] else None,
        "tokens_saved": tokens_saved["in"] + tokens_saved["out"],
        "tokens_saved_share": round((tokens_saved["in"] + tokens_saved["out"]) / (total_in + total_out), 4),
        "cost_saved_usd": {m: round(cost(tokens_saved, m), 4) for m in PRICES},
        "cost_without_cache_usd": {m: round(cost({"in": total_in, "out": total_out}, m), 4) for m in PRICES},
        "lookup_ms": {
            k: {"p50": round(statistics.median(v), 3), "p95": round(float(np.percentile(v, 95)), 3)}
            for k, v in timings.items()
            if v
        },
    }


def gateway(requests: int) -> dict:
    import httpx2
    import orjson

    messages = [
        {"role": "system", "content": "You are a helpful support assistant for Contoso."},
        {"role": "user", "content": "How do I reset the password of my account on the mobile app?"},
    ]
    cached = orjson.dumps({"model": "gpt-4o-mini", "messages": messages, "max_tokens": 64, "temperature": 0})
    sampled = orjson.dumps({"model": "gpt-4o-mini", "messages": messages, "max_tokens": 64, "temperature": 0.7})
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim_port, gw_port = free_port(), free_port()
        simulator_url = f"http://127.0.0.1:{sim_port}"
        key = issue_key(data_dir)
        direct = f"{simulator_url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
        through = f"http://127.0.0.1:{gw_port}/api/v1/chat/completions"
        auth = {"authorization": f"Bearer {key}"}
        with (
            process(
                python_command("simulator", "--port", str(sim_port), "--latency", "zero", "--api-key", SIMULATOR_KEY),
                sim_port,
            ),
            process(python_command("serve", "--port", str(gw_port)), gw_port, gateway_env(data_dir, simulator_url)),
        ):
            for url, body, headers in (
                (direct, sampled, {"api-key": SIMULATOR_KEY}),
                (through, cached, auth),
                (through, sampled, auth),
            ):
                hey(url, requests=300, concurrency=10, body=body, headers=headers)  # warm up
            overheads, statuses = [], []
            with httpx2.Client() as client:
                for _ in range(300):
                    response = client.post(
                        through, content=cached, headers={**auth, "content-type": "application/json"}
                    )
                    statuses.append(response.headers.get("x-llmops-cache"))
                    overheads.append(float(response.headers["x-llmops-overhead-ms"]))
            for name, url, body, headers in (
                ("direct", direct, sampled, {"api-key": SIMULATOR_KEY}),
                ("gateway_exact_hit", through, cached, auth),
                ("gateway_model_path", through, sampled, auth),
            ):
                results[name] = hey(url, requests=requests, concurrency=1, body=body, headers=headers).__dict__
    results["hit_share_of_sampled"] = round(statuses.count("hit-exact") / len(statuses), 3)
    results["gateway_overhead_header_hit_ms"] = {
        "p50": round(statistics.median(overheads), 3),
        "p95": round(float(np.percentile(overheads, 95)), 3),
    }
    results["added_p50_ms_hit_vs_direct"] = round(
        results["gateway_exact_hit"]["p50_ms"] - results["direct"]["p50_ms"], 2
    )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--gateway-requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-gateway", action="store_true")
    args = parser.parse_args()
    prepared = prepare(args.data)
    if prepared is None:
        return 2
    settings, pairs = prepared
    report = {
        "workload": asyncio.run(replay(pairs, features(pairs), args, settings)),
        "threshold": settings.cache_semantic_threshold,
    }
    if not args.skip_gateway:
        report["gateway"] = gateway(args.gateway_requests)
    print(json.dumps(report, indent=1))
    print("saved", save("cache_savings", report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
