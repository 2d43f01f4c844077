"""Routing savings: a mixed CRM + mobile workload replayed three ways through the gateway, side by side.

    python bench/routing_savings.py [--seed 42] [--concurrency 8]

1. always frontier (``model: gpt-4o``), no optimisation — what the apps would pay calling the big model;
2. routed (``model: auto``), no optimisation;
3. routed with each app's token optimisation on (bench/routing_workload.py ``OPTIMISATION``).

The simulator (zero latency, its own process) answers with deterministic replies and the usage the
gateway's prices are applied to; the gateway is one ``llmops serve`` process on SQLite. Reports total
cost of each run, the saving against always-frontier, the share routed to ``small``, how many requests
labelled ``frontier`` were sent to ``small`` (under-routed), and the tokens the optimisation steps saved
(from the request log). Targets: >= 50% saved with <= 5% of frontier-needing requests under-routed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from pathlib import Path

import httpx2
from _harness import SIMULATOR_KEY, free_port, gateway_env, issue_key, process, python_command, save
from routing_workload import OPTIMISATION, WorkloadRequest, build

FRONTIER_ALIASES = {"gpt-4o"}


async def replay(url: str, keys: dict[str, str], workload: list[WorkloadRequest], model: str,
                 concurrency: int) -> list[dict]:
    gate = asyncio.Semaphore(concurrency)
    async with httpx2.AsyncClient(timeout=60) as client:
        async def one(request: WorkloadRequest) -> dict:
            async with gate:
                response = await client.post(url, headers={"authorization": f"Bearer {keys[request.app]}"},
                                             json={"model": model, "messages": request.messages, **request.extra})
            body = response.json()
            if response.status_code != 200:
                raise SystemExit(f"request failed: {response.status_code} {body}")
            return {"label": request.tier, "app": request.app,
                    "deployment": response.headers["x-llmops-deployment"],
                    "route": response.headers.get("x-llmops-route", ""),
                    "cost": float(response.headers["x-llmops-cost-usd"]),
                    "prompt_tokens": body["usage"]["prompt_tokens"],
                    "completion_tokens": body["usage"]["completion_tokens"]}

        return await asyncio.gather(*(one(r) for r in workload))


async def optimisation_report(data_dir: Path) -> dict:
    from shared.store.sqlite import SqliteDocumentStore

    store = SqliteDocumentStore(data_dir / "llmops.sqlite3")
    await store.open()
    try:
        records = await store.query("request_log", {"tenant_id": "savings"})
    finally:
        await store.close()
    steps: Counter = Counter()
    before = after = 0
    for record in records:
        report = record.get("optimisation")
        if report:
            before += report["tokens_before"]
            after += report["tokens_after"]
            steps.update(report["steps"])
    return {"prompt_tokens_before": before, "prompt_tokens_after": after, "saved_by_step": dict(steps)}


def summarise(name: str, rows: list[dict]) -> dict:
    small = [r for r in rows if r["deployment"] not in FRONTIER_ALIASES]
    frontier_needed = [r for r in rows if r["label"] == "frontier"]
    under = [r for r in frontier_needed if r["deployment"] not in FRONTIER_ALIASES]
    return {"run": name, "requests": len(rows), "cost_usd": round(sum(r["cost"] for r in rows), 6),
            "share_small": round(len(small) / len(rows), 4),
            "frontier_needed": len(frontier_needed), "under_routed": len(under),
            "under_routed_share": round(len(under) / max(len(frontier_needed), 1), 4),
            "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
            "completion_tokens": sum(r["completion_tokens"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    workload = build(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim_port, gw_port = free_port(), free_port()
        simulator_url = f"http://127.0.0.1:{sim_port}"
        plain = {app: issue_key(data_dir, "savings", f"{app}-plain") for app in ("crm", "mobile")}
        optimised = {app: issue_key(data_dir, "savings", f"{app}-optimised", {"optimisation": OPTIMISATION[app]})
                     for app in ("crm", "mobile")}
        url = f"http://127.0.0.1:{gw_port}/api/v1/chat/completions"
        with process(python_command("simulator", "--port", str(sim_port), "--latency", "zero",
                                    "--api-key", SIMULATOR_KEY), sim_port), \
             process(python_command("serve", "--port", str(gw_port)), gw_port,
                     gateway_env(data_dir, simulator_url, LLMOPS_TELEMETRY_LOCAL_EXPORTER="none")):
            runs = {
                "always_frontier": asyncio.run(replay(url, plain, workload, "gpt-4o", args.concurrency)),
                "routed": asyncio.run(replay(url, plain, workload, "auto", args.concurrency)),
                "routed_optimised": asyncio.run(replay(url, optimised, workload, "auto", args.concurrency)),
            }
        optimisation = asyncio.run(optimisation_report(data_dir))
    summaries = {name: summarise(name, rows) for name, rows in runs.items()}
    baseline = summaries["always_frontier"]["cost_usd"]
    print(f"\nworkload: {len(workload)} requests ({Counter(r.app for r in workload)}), "
          f"{sum(r.tier == 'frontier' for r in workload)} need frontier\n")
    print(f"{'run':<18} {'cost USD':>10} {'saved':>7} {'small':>7} {'under-routed':>13} {'prompt tok':>11}")
    for s in summaries.values():
        s["saved_vs_frontier"] = round(1 - s["cost_usd"] / baseline, 4) if baseline else 0.0
        print(f"{s['run']:<18} {s['cost_usd']:>10.4f} {s['saved_vs_frontier']:>7.1%} {s['share_small']:>7.1%} "
              f"{s['under_routed']:>4}/{s['frontier_needed']:<4}{s['under_routed_share']:>5.1%} "
              f"{s['prompt_tokens']:>11}")
    saved = optimisation["prompt_tokens_before"] - optimisation["prompt_tokens_after"]
    print(f"\noptimisation: {saved} prompt tokens saved of {optimisation['prompt_tokens_before']} "
          f"({saved / max(optimisation['prompt_tokens_before'], 1):.1%}); by step: {optimisation['saved_by_step']}")
    final = summaries["routed_optimised"]
    verdict = final["saved_vs_frontier"] >= 0.5 and final["under_routed_share"] <= 0.05
    print(f"target (>= 50% saved, <= 5% under-routed): {'met' if verdict else 'NOT met'}")
    print("saved", save("routing_savings", {"summaries": summaries, "optimisation": optimisation,
                                            "target_met": verdict}))


if __name__ == "__main__":
    main()
