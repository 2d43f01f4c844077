"""Failover under faults: how many client requests succeed when backend calls fail or hang?

    python bench/failover.py [--case mixed|hung|all] [--requests 2000] [--concurrency 20]

Two fault mixes, each on a fresh simulator (zero latency, its own process) and gateway process:

* ``mixed``: each call times out with probability 7% (the simulator hangs 3 s; the gateway gives an
  attempt 0.5 s) and otherwise fails with probability 14% — 429 with ``Retry-After: 5`` on
  gpt-4o-mini, 500 on gpt-4o-mini-west and gpt-4o — so ~20% of backend calls fail.
* ``hung``: 20% of calls answer 500 and 2% hang for 60 s, with the gateway's default deadlines
  (30 s an attempt, 90 s a request) — before hedging, a hung call held its request past the client's
  20 s timeout (97.85%, p99 30 s); now an attempt running 3x its deployment's p95 (>= 1 s) is hedged
  on the next healthy deployment.

The same load (``hey``, 20 s client timeout) goes straight to the simulator (no retries) and through
the gateway (``model: auto``: small pool, then the frontier pool), side by side. Reports success rate
and p50/p95/p99 latency. Target: >= 99.9% of client requests succeed (and, ``hung``, p99 < 5 s).
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


# case -> (faults per deployment, gateway settings)
CASES: dict[str, tuple[dict[str, dict], dict[str, str]]] = {
    "mixed": ({name: {"timeout_rate": TIMEOUT_RATE, "timeout_s": 3, "error_rate": ERROR_RATE, **fault}
               for name, fault in FAULTS.items()},
              {"LLMOPS_ATTEMPT_TIMEOUT_S": "0.5", "LLMOPS_REQUEST_DEADLINE_S": "10"}),
    "hung": ({name: {"timeout_rate": 0.02, "timeout_s": 60, "error_rate": 0.2, "error_status": 500}
              for name in FAULTS}, {}),
}


def inject_faults(simulator_url: str, faults: dict[str, dict]) -> None:
    for deployment, fault in faults.items():
        response = httpx2.post(f"{simulator_url}/control/faults", json={"deployment": deployment, **fault})
        response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    report = {}
    for case in CASES if args.case == "all" else [args.case]:
        report[case] = run_case(case, args.requests, args.concurrency)
    print("saved", save("failover", report))


def run_case(case: str, requests: int, concurrency: int) -> dict:
    faults, settings = CASES[case]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim_port, gw_port = free_port(), free_port()
        simulator_url = f"http://127.0.0.1:{sim_port}"
        key = issue_key(data_dir)
        env = gateway_env(data_dir, simulator_url, LLMOPS_TELEMETRY_LOCAL_EXPORTER="none", **settings)
        with process(python_command("simulator", "--port", str(sim_port), "--latency", "zero", "--seed", "11",
                                    "--api-key", SIMULATOR_KEY), sim_port), \
             process(python_command("serve", "--port", str(gw_port)), gw_port, env):
            warm = orjson.dumps({"model": "auto", "messages": MESSAGES, "max_tokens": 64})
            hey(f"http://127.0.0.1:{gw_port}/api/v1/chat/completions", requests=200, concurrency=10, body=warm,
                headers={"authorization": f"Bearer {key}"})
            inject_faults(simulator_url, faults)
            targets = {
                "direct (no retries)": (
                    f"{simulator_url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
                    {"api-key": SIMULATOR_KEY}, {"messages": MESSAGES, "max_tokens": 64}),
                "gateway": (f"http://127.0.0.1:{gw_port}/api/v1/chat/completions",
                            {"authorization": f"Bearer {key}"}, {"model": "auto", "messages": MESSAGES,
                                                                 "max_tokens": 64}),
            }
            for name, (url, headers, body) in targets.items():
                result = hey(url, requests=requests, concurrency=concurrency, body=orjson.dumps(body),
                             headers=headers)
                results[name] = {**result.__dict__, "success_rate": 1 - result.errors / result.requests}
            state = httpx2.get(f"{simulator_url}/control/state").json()
    counters = {n: d["counters"] for n, d in state["deployments"].items()}
    print(f"\ncase {case}\n{'target':<22} {'success':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:<22} {r['success_rate']:>9.3%} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f}")
    print(f"backend calls by outcome: {counters}")
    gateway = results["gateway"]
    met = gateway["success_rate"] >= 0.999 and (case != "hung" or gateway["p99_ms"] < 5000)
    print(f"target (>= 99.9% of client requests succeed{', p99 < 5 s' if case == 'hung' else ''}): "
          f"{'met' if met else 'NOT met'}")
    return {"results": results, "simulator_counters": counters, "target_met": met}


if __name__ == "__main__":
    main()
