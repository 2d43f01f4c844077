"""Failover under faults: 20% of backend calls fail (429, 500, timeouts); how many client requests succeed?

    python bench/failover.py [--requests 2000] [--concurrency 20]

The simulator (zero latency, its own process) breaks every deployment: each call times out with
probability 7% (the simulator hangs 3 s; the gateway gives an attempt 0.5 s) and otherwise fails with
probability 14% — 429 with ``Retry-After: 5`` on gpt-4o-mini, 500 on gpt-4o-mini-west and gpt-4o —
so ~20% of backend calls fail. The same load (``hey``) goes straight to the simulator (no retries) and
through one gateway process (``model: auto``: small pool, then the frontier pool), side by side.
Reports success rate and p50/p95/p99 latency. Target: >= 99.9% of client requests succeed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx2
import orjson
from _harness import SIMULATOR_KEY, free_port, gateway_env, hey, issue_key, process, python_command, save

TIMEOUT_RATE = 0.07
ERROR_RATE = 0.14  # of the calls that did not time out: 0.07 + 0.93 * 0.14 ~= 0.20 fail in all
FAULTS = {
    "gpt-4o-mini": {"error_status": 429, "retry_after_s": 5},
    "gpt-4o-mini-west": {"error_status": 500},
    "gpt-4o": {"error_status": 500},
}
MESSAGES = [{"role": "user", "content": "How do I change the delivery address of my order?"}]


def inject_faults(simulator_url: str) -> None:
    for deployment, fault in FAULTS.items():
        response = httpx2.post(f"{simulator_url}/control/faults", json={
            "deployment": deployment, "timeout_rate": TIMEOUT_RATE, "timeout_s": 3, "error_rate": ERROR_RATE,
            **fault})
        response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim_port, gw_port = free_port(), free_port()
        simulator_url = f"http://127.0.0.1:{sim_port}"
        key = issue_key(data_dir)
        env = gateway_env(data_dir, simulator_url, LLMOPS_ATTEMPT_TIMEOUT_S="0.5", LLMOPS_REQUEST_DEADLINE_S="10",
                          LLMOPS_TELEMETRY_LOCAL_EXPORTER="none")
        with process(python_command("simulator", "--port", str(sim_port), "--latency", "zero", "--seed", "11",
                                    "--api-key", SIMULATOR_KEY), sim_port), \
             process(python_command("serve", "--port", str(gw_port)), gw_port, env):
            warm = orjson.dumps({"model": "auto", "messages": MESSAGES, "max_tokens": 64})
            hey(f"http://127.0.0.1:{gw_port}/api/v1/chat/completions", requests=200, concurrency=10, body=warm,
                headers={"authorization": f"Bearer {key}"})
            inject_faults(simulator_url)
            targets = {
                "direct (no retries)": (
                    f"{simulator_url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
                    {"api-key": SIMULATOR_KEY}, {"messages": MESSAGES, "max_tokens": 64}),
                "gateway": (f"http://127.0.0.1:{gw_port}/api/v1/chat/completions",
                            {"authorization": f"Bearer {key}"}, {"model": "auto", "messages": MESSAGES,
                                                                 "max_tokens": 64}),
            }
            for name, (url, headers, body) in targets.items():
                result = hey(url, requests=args.requests, concurrency=args.concurrency, body=orjson.dumps(body),
                             headers=headers)
                results[name] = {**result.__dict__, "success_rate": 1 - result.errors / result.requests}
            state = httpx2.get(f"{simulator_url}/control/state").json()
    backend_calls = {name: sum(d["counters"].values()) for name, d in state["deployments"].items()}
    print(f"\n{'target':<22} {'success':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:<22} {r['success_rate']:>9.3%} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f}")
    print(f"backend calls by outcome: { {n: d['counters'] for n, d in state['deployments'].items()} }")
    met = results["gateway"]["success_rate"] >= 0.999
    print(f"target (>= 99.9% of client requests succeed): {'met' if met else 'NOT met'}")
    print("saved", save("failover", {"results": results, "backend_calls": backend_calls,
                                     "simulator_counters": {n: d["counters"] for n, d in state["deployments"].items()},
                                     "target_met": met}))


if __name__ == "__main__":
    main()
