"""Gateway overhead: the same load straight to the simulator and through the gateway, side by side.

    python bench/gateway_overhead.py [--requests 3000] [--concurrency 1 50] [--litellm]
    python bench/gateway_overhead.py --routing-limits   # model "auto" + RPM/TPM/budget limits on the app
    python bench/gateway_overhead.py --guardrails       # the default guardrail policy on (PII, injection, toxicity)

Without ``--guardrails`` the benchmark app turns guardrails off, so the figures are the gateway's own
overhead (auth, validation, routing, the model call through the SDK, recording, telemetry); the
guardrails' cost per request is measured separately in ``bench/guardrails.py`` and, under load, here.

The simulator runs at zero latency in its own process; the gateway is one worker process
(``llmops serve``) with the SQLite store, request log and file telemetry on, exactly as ``make run``.
Load comes from ``hey`` (apt-get install hey). Reports req/s and p50/p95/p99 for each target and the
gateway's added latency (p50 through the gateway minus p50 direct). With ``--litellm`` and a venv at
``bench/.venv-litellm`` (``python -m venv bench/.venv-litellm && bench/.venv-litellm/bin/pip install
'litellm[proxy]'``), LiteLLM's proxy runs the same load in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import orjson
from _harness import SIMULATOR_KEY, free_port, gateway_env, hey, issue_key, process, python_command, save

REPO = Path(__file__).resolve().parents[1]
LITELLM = REPO / "bench" / ".venv-litellm" / "bin" / "litellm"
ROUTING_LIMITS = {"requests_per_minute": 10_000_000, "tokens_per_minute": 10_000_000_000, "monthly_budget_usd": 1e6}
MESSAGES = [{"role": "system", "content": "You are a helpful support assistant for Contoso."},
            {"role": "user", "content": "How do I reset the password of my account on the mobile app?"}]


def litellm_config(path: Path, simulator_url: str) -> None:
    path.write_text(f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: azure/gpt-4o-mini
      api_base: {simulator_url}
      api_key: {SIMULATOR_KEY}
      api_version: "2024-10-21"
general_settings:
  master_key: sk-bench
litellm_settings:
  drop_params: true
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--litellm", action="store_true")
    parser.add_argument("--routing-limits", action="store_true",
                        help="send model 'auto' (complexity routing) from an app with RPM, TPM and budget limits "
                             "(high enough never to refuse): one reservation round trip per request")
    parser.add_argument("--guardrails", action="store_true",
                        help="keep the default guardrail policy on for the benchmark app")
    args = parser.parse_args()

    model = "auto" if args.routing_limits else "gpt-4o-mini"
    policy: dict = {"limits": ROUTING_LIMITS} if args.routing_limits else {}
    if not args.guardrails:
        policy["guardrails"] = {"enabled": False}
    body = orjson.dumps({"model": model, "messages": MESSAGES, "max_tokens": 64})
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim_port, gw_port = free_port(), free_port()
        simulator_url = f"http://127.0.0.1:{sim_port}"
        key = issue_key(data_dir, policy=policy)
        targets = {
            "direct": (f"{simulator_url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
                       {"api-key": SIMULATOR_KEY}),
            "gateway": (f"http://127.0.0.1:{gw_port}/api/v1/chat/completions", {"authorization": f"Bearer {key}"}),
        }
        with process(python_command("simulator", "--port", str(sim_port), "--latency", "zero",
                                    "--api-key", SIMULATOR_KEY), sim_port), \
             process(python_command("serve", "--port", str(gw_port)), gw_port, gateway_env(data_dir, simulator_url)):
            extra = None
            if args.litellm and LITELLM.exists():
                lt_port = free_port()
                config = data_dir / "litellm.yaml"
                litellm_config(config, simulator_url)
                extra = process([str(LITELLM), "--config", str(config), "--port", str(lt_port), "--num_workers", "1"],
                                lt_port, {"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
                targets["litellm"] = (f"http://127.0.0.1:{lt_port}/v1/chat/completions",
                                      {"authorization": "Bearer sk-bench"})
            elif args.litellm:
                print(f"--litellm: no LiteLLM venv at {LITELLM.parent.parent}; skipping it")
            ctx = extra if extra is not None else _null()
            with ctx:
                for url, headers in targets.values():  # warm up connections, caches and JITs
                    hey(url, requests=300, concurrency=10, body=body, headers=headers)
                for concurrency in args.concurrency:
                    n = args.requests if concurrency > 1 else max(args.requests // 3, 500)
                    for name, (url, headers) in targets.items():
                        result = hey(url, requests=n, concurrency=concurrency, body=body, headers=headers)
                        results[f"{name}@c{concurrency}"] = result.__dict__

    print(f"\n{'target':<18} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>13}")
    for label, r in results.items():
        print(f"{label:<18} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>6d}/{r['requests']}")
    summary = {}
    for concurrency in args.concurrency:
        direct, gateway = results[f"direct@c{concurrency}"], results[f"gateway@c{concurrency}"]
        summary[f"c{concurrency}"] = {
            "added_p50_ms": round(gateway["p50_ms"] - direct["p50_ms"], 2),
            "added_p95_ms": round(gateway["p95_ms"] - direct["p95_ms"], 2),
            "gateway_rps": round(gateway["rps"]),
            "direct_rps": round(direct["rps"]),
        }
        if f"litellm@c{concurrency}" in results:
            lite = results[f"litellm@c{concurrency}"]
            summary[f"c{concurrency}"]["litellm_rps"] = round(lite["rps"])
            summary[f"c{concurrency}"]["litellm_added_p50_ms"] = round(lite["p50_ms"] - direct["p50_ms"], 2)
    for label, s in summary.items():
        print(f"{label}: gateway adds p50 {s['added_p50_ms']} ms, p95 {s['added_p95_ms']} ms; "
              f"gateway {s['gateway_rps']} req/s vs direct {s['direct_rps']} req/s"
              + (f"; LiteLLM {s['litellm_rps']} req/s (+{s['litellm_added_p50_ms']} ms p50)" if "litellm_rps" in s
                 else ""))
    name = "gateway_overhead" + ("_routing_limits" if args.routing_limits else "") + (
        "_guardrails" if args.guardrails else "")
    print("saved", save(name, {"results": results, "summary": summary, "routing_limits": args.routing_limits,
                               "guardrails": args.guardrails}))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
