"""Gateway overhead: the same load straight to the simulator, through the gateway and through LiteLLM's
proxy, side by side in one run.

    python bench/gateway_overhead.py                     # guardrails and cache off (the gateway's own cost)
    python bench/gateway_overhead.py --default-policy --distinct-prompts   # as shipped, real traffic
    python bench/gateway_overhead.py --stream            # time to first byte and per-chunk overhead
    python bench/gateway_overhead.py --memory 10000      # RSS after 10k requests and its growth
    python bench/gateway_overhead.py --targets           # all four rows of the target list, median of 3
    python bench/gateway_overhead.py --targets --profile # ... and where the gateway's CPU goes (py-spy)
    python bench/gateway_overhead.py --routing-limits    # model "auto" + RPM/TPM/budget limits on the app

The simulator runs at zero latency in its own process and answers ~150 tokens (``--answer-tokens 140
160``); the gateway is one worker process (``llmops serve``) with the SQLite store, request log and file
telemetry on, exactly as ``make run``. ``--default-policy`` gives the benchmark app the policy a fresh
tenant has (the default guardrail policy and the response cache on; requests at temperature 0, so the
cache is consulted and filled); otherwise the app turns guardrails and the cache off. With
``--distinct-prompts`` every request is a different ~1 KB support case (``_harness.distinct_prompt``) and
load comes from ``bench/_load.py``; else one repeated short prompt driven by ``hey`` (apt-get install
hey). CPU per request is the gateway process's user + system time from ``/proc`` over a run divided by
its requests. When ``bench/.venv-litellm`` exists (``python -m venv bench/.venv-litellm &&
bench/.venv-litellm/bin/pip install 'litellm[proxy]'``), LiteLLM's proxy (one worker) gets the same load.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from _harness import (
    SIMULATOR_KEY,
    cpu_seconds,
    distinct_prompt,
    free_port,
    gateway_env,
    hey,
    issue_key,
    process,
    python_command,
    rss_mb,
    save,
)
from _load import drive
from _profile import sampled

REPO = Path(__file__).resolve().parents[1]
LITELLM = REPO / "bench" / ".venv-litellm" / "bin" / "litellm"
ROUTING_LIMITS = {"requests_per_minute": 10_000_000, "tokens_per_minute": 10_000_000_000, "monthly_budget_usd": 1e6}
BARE_POLICY = {"guardrails": {"enabled": False}, "cache": {"enabled": False}}
SYSTEM = {"role": "system", "content": "You are a helpful support assistant for Contoso."}
SHORT = "How do I reset the password of my account on the mobile app?"


def chat_body(prompt: str, *, model: str = "gpt-4o-mini", stream: bool = False) -> bytes:
    return orjson.dumps({"model": model, "messages": [SYSTEM, {"role": "user", "content": prompt}],
                         "max_tokens": 200, "temperature": 0, **({"stream": True} if stream else {})})


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


@dataclass
class Target:
    url: str
    headers: dict[str, str]
    pid: int | None = None


@dataclass
class Bench:
    targets: dict[str, Target]
    model: str = "gpt-4o-mini"
    next_prompt: int = 0  # distinct prompts never repeat within a run

    def prompts(self, count: int) -> Callable[[int], str]:
        start, self.next_prompt = self.next_prompt, self.next_prompt + count
        return lambda i: distinct_prompt(start + i)

    def run(self, name: str, *, requests: int, concurrency: int, distinct: bool = False,
            stream: bool = False) -> dict[str, Any]:
        """One load run against one target, with the target's CPU per request when its process is known."""
        target = self.targets[name]
        before = cpu_seconds(target.pid) if target.pid else None
        if distinct or stream:
            prompt = self.prompts(requests) if distinct else (lambda i: SHORT)
            result = drive(target.url, target.headers, lambda i: chat_body(prompt(i), model=self.model, stream=stream),
                           requests=requests, concurrency=concurrency).summary()
        else:
            result = hey(target.url, requests=requests, concurrency=concurrency,
                         body=chat_body(SHORT, model=self.model), headers=target.headers).__dict__
        if before is not None and target.pid:
            result["cpu_ms_per_request"] = (cpu_seconds(target.pid) - before) * 1000 / max(result["requests"], 1)
        return result


def row_bare(bench: Bench, gateway: str, n1: int, n50: int) -> dict[str, Any]:
    """Req/s at c=50 and added p50 at c=1: direct, the gateway, LiteLLM; one repeated short prompt."""
    names = ["direct", gateway, *(["litellm"] if "litellm" in bench.targets else [])]
    runs = {f"{name}@c1": bench.run(name, requests=n1 if name != "litellm" else n1 // 2, concurrency=1)
            for name in names}
    runs |= {f"{name}@c50": bench.run(name, requests=n50 if name != "litellm" else n50 // 2, concurrency=50)
             for name in names}
    return summarise(runs, gateway)


def row_distinct(bench: Bench, gateway: str, n1: int, n50: int) -> dict[str, Any]:
    """The same with a distinct ~1 KB prompt per request (hey cannot vary the body)."""
    names = ["direct", gateway, *(["litellm"] if "litellm" in bench.targets else [])]
    runs = {f"{name}@c1": bench.run(name, requests=n1, concurrency=1, distinct=True) for name in names}
    runs |= {f"{name}@c50": bench.run(name, requests=n50, concurrency=50, distinct=True) for name in names}
    return summarise(runs, gateway)


def summarise(runs: dict[str, dict[str, Any]], gateway: str) -> dict[str, Any]:
    direct1, gw1, direct50, gw50 = (runs[f"{n}@c{c}"] for c in (1, 50) for n in ("direct", gateway))
    out = {"added_p50_ms_c1": gw1["p50_ms"] - direct1["p50_ms"], "gateway_rps_c50": gw50["rps"],
           "direct_rps_c50": direct50["rps"], "share_of_direct_c50": gw50["rps"] / direct50["rps"],
           "gateway_cpu_ms_per_request_c50": gw50["cpu_ms_per_request"],
           "gateway_cpu_ms_per_request_c1": gw1["cpu_ms_per_request"],
           "errors": sum(r["errors"] for r in runs.values()), "failures": failures(runs)}
    if "litellm@c50" in runs:
        lite1, lite50 = runs["litellm@c1"], runs["litellm@c50"]
        out |= {"litellm_rps_c50": lite50["rps"], "times_litellm_c50": gw50["rps"] / lite50["rps"],
                "litellm_added_p50_ms_c1": lite1["p50_ms"] - direct1["p50_ms"],
                "litellm_cpu_ms_per_request_c50": lite50.get("cpu_ms_per_request")}
    return {"summary": out, "runs": runs}


def row_stream(bench: Bench, gateways: list[str], n: int) -> dict[str, Any]:
    """Streams at c=1: time to the first body byte and the time each chunk adds, direct vs the gateway."""
    runs = {"direct": bench.run("direct", requests=n, concurrency=1, stream=True)}
    for name in gateways:
        runs[name] = bench.run(name, requests=n, concurrency=1, stream=True, distinct=name == "default")
    out: dict[str, Any] = {}
    direct = runs["direct"]
    for name in gateways:
        gw = runs[name]
        chunks = gw.get("events_p50") or 1
        out[name] = {
            "ttfb_added_p50_ms": gw["ttfb_p50_ms"] - direct["ttfb_p50_ms"],
            "per_chunk_added_ms": ((gw["p50_ms"] - gw["ttfb_p50_ms"]) - (direct["p50_ms"] - direct["ttfb_p50_ms"]))
            / chunks,
            "chunks_p50": chunks, "cpu_ms_per_stream": gw["cpu_ms_per_request"],
            "cpu_ms_per_chunk": gw["cpu_ms_per_request"] / chunks, "errors": gw["errors"],
            "failures": failures({name: gw})}
    return {"summary": out, "runs": runs}


def failures(runs: dict[str, dict[str, Any]]) -> list[str]:
    """A few of the runs' failed answers (e.g. a guardrail's 400 on a benign prompt), to read the errors by."""
    return [f"{name}: {failure}" for name, run in runs.items() for failure in run.get("failures", [])][:3]


def row_memory(bench: Bench, gateway: str, requests: int) -> dict[str, Any]:
    """RSS of the gateway process after a warm-up and after ``requests`` more, and the growth between."""
    target = bench.targets[gateway]
    assert target.pid is not None
    start = rss_mb(target.pid)
    done, checkpoints = 0, []
    while done < requests:
        step = min(2000, requests - done)
        bench.run(gateway, requests=step, concurrency=50)
        done += step
        checkpoints.append({"requests": done, "rss_mb": rss_mb(target.pid)})
    end = checkpoints[-1]["rss_mb"]
    return {"summary": {"rss_mb_after_warmup": start, "rss_mb_after": end, "requests": requests,
                        "growth": end / start - 1}, "checkpoints": checkpoints}


def row_profile(bench: Bench, requests: int, distinct_requests: int) -> dict[str, Any]:
    """Where the gateway's CPU goes (py-spy, separate runs: sampling slows the process it samples)."""
    pid = bench.targets["bare"].pid
    assert pid is not None
    out = {}
    for label, run in (("bare", lambda: bench.run("bare", requests=requests, concurrency=50)),
                       ("default_distinct", lambda: bench.run("default", requests=distinct_requests, concurrency=50,
                                                              distinct=True)),
                       ("stream", lambda: bench.run("bare", requests=300, concurrency=10, stream=True))):
        with sampled(pid) as profile:
            run()
        out[label] = profile.top()
    return out


def median_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-figure median over repeated rows (nested one level for the streaming row); the failures of all."""
    out: dict[str, Any] = {}
    for key, value in rows[0].items():
        if isinstance(value, dict):
            out[key] = median_of([row[key] for row in rows])
        elif isinstance(value, int | float):
            out[key] = round(statistics.median(row[key] for row in rows), 3)
        elif key == "failures":
            out[key] = [failure for row in rows for failure in row[key]][:3]
    return out


@contextlib.contextmanager
def started(args: argparse.Namespace) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        data_dir = Path(tmp)
        sim_port, gw_port = free_port(), free_port()
        simulator_url = f"http://127.0.0.1:{sim_port}"
        limits = {"limits": ROUTING_LIMITS} if args.routing_limits else {}
        keys = {"bare": issue_key(data_dir, app="bare", policy={**BARE_POLICY, **limits}),
                "default": issue_key(data_dir, app="default", policy=limits or None)}
        stack.enter_context(process(python_command(
            "simulator", "--port", str(sim_port), "--latency", "zero", "--api-key", SIMULATOR_KEY,
            "--answer-tokens", "140", "160"), sim_port))
        gateway = stack.enter_context(process(python_command("serve", "--port", str(gw_port)), gw_port,
                                              gateway_env(data_dir, simulator_url)))
        gw_url = f"http://127.0.0.1:{gw_port}/api/v1/chat/completions"
        targets = {"direct": Target(f"{simulator_url}/openai/deployments/gpt-4o-mini/chat/completions"
                                    "?api-version=2024-10-21", {"api-key": SIMULATOR_KEY})}
        targets |= {name: Target(gw_url, {"authorization": f"Bearer {key}"}, gateway.pid) for name, key in keys.items()}
        if LITELLM.exists() and not args.no_litellm and not args.routing_limits:
            lt_port = free_port()
            config = data_dir / "litellm.yaml"
            litellm_config(config, simulator_url)
            lite = stack.enter_context(process(
                [str(LITELLM), "--config", str(config), "--port", str(lt_port), "--num_workers", "1"], lt_port,
                {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}))
            targets["litellm"] = Target(f"http://127.0.0.1:{lt_port}/v1/chat/completions",
                                        {"authorization": "Bearer sk-bench"}, lite.pid)
        elif not LITELLM.exists():
            print(f"no LiteLLM venv at {LITELLM.parent.parent}: LiteLLM is left out")
        bench = Bench(targets, model="auto" if args.routing_limits else "gpt-4o-mini")
        for name in targets:  # warm up connections, caches, the encoder and JITs
            bench.run(name, requests=200, concurrency=10)
            if name != "direct":
                bench.run(name, requests=30, concurrency=5, distinct=True)
        yield bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--default-policy", action="store_true", help="the app's policy as a fresh tenant has it")
    parser.add_argument("--guardrails", action="store_true", help="the same as --default-policy (older name)")
    parser.add_argument("--distinct-prompts", action="store_true", help="a different ~1 KB prompt per request")
    parser.add_argument("--stream", action="store_true", help="streamed answers: TTFB and per-chunk overhead")
    parser.add_argument("--memory", type=int, metavar="N", help="RSS of the gateway after N more requests")
    parser.add_argument("--targets", action="store_true", help="every row of issue 11's target list")
    parser.add_argument("--routing-limits", action="store_true",
                        help="model 'auto' (complexity routing) from an app with RPM, TPM and budget limits "
                             "(high enough never to refuse): one reservation round trip per request")
    parser.add_argument("--repeat", type=int, default=None, help="runs per row, the median reported "
                        "(default 1; 3 with --targets)")
    parser.add_argument("--requests", type=int, default=1500, help="requests per run at c=50 (repeated prompt)")
    parser.add_argument("--distinct-requests", type=int, default=300, help="requests per run at c=50, distinct")
    parser.add_argument("--distinct-requests-c1", type=int, default=200,
                        help="requests per run at c=1, distinct (fewer let the process's idle work and a few "
                             "escalated windows swing the CPU per request)")
    parser.add_argument("--profile", action="store_true", help="py-spy profiles of the gateway after the rows")
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out even when its venv exists")
    parser.add_argument("--litellm", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = parser.parse_args()
    policy = "default" if (args.default_policy or args.guardrails) else "bare"
    repeat = args.repeat or (3 if args.targets else 1)
    rows: dict[str, Callable[[Bench], dict[str, Any]]] = {}
    n1, n50, nd, nd1 = max(args.requests // 5, 200), args.requests, args.distinct_requests, args.distinct_requests_c1
    if args.targets:
        rows = {"bare": lambda b: row_bare(b, "bare", n1, n50),
                "default_distinct": lambda b: row_distinct(b, "default", nd1, nd),
                "stream": lambda b: row_stream(b, ["bare", "default"], 150)}
    else:
        if args.distinct_prompts:
            rows[f"{policy}_distinct"] = lambda b: row_distinct(b, policy, nd1, nd)
        elif not (args.stream or args.memory):
            rows[policy] = lambda b: row_bare(b, policy, n1, n50)
        if args.stream:
            rows["stream"] = lambda b: row_stream(b, [policy], 150)
    results: dict[str, Any] = {}
    with started(args) as bench:
        repeats: dict[str, list[dict[str, Any]]] = {name: [] for name in rows}
        for i in range(repeat):
            for name, row in rows.items():
                repeats[name].append(row(bench))
                print(f"[{i + 1}/{repeat}] {name}: {orjson.dumps(repeats[name][-1]['summary']).decode()}", flush=True)
        for name, runs in repeats.items():
            results[name] = {"median": median_of([r["summary"] for r in runs]), "repeats": runs}
        if args.targets or args.memory:
            results["memory"] = row_memory(bench, "bare", args.memory or 10_000)
        if args.profile:
            results["profile"] = row_profile(bench, args.requests * 2, args.distinct_requests)
    for name, result in results.items():
        if name == "profile":
            for label, top in result.items():
                print(f"profile {label}: " + "; ".join(f"{f} {share}%" for f, share in top["self"][:6]))
            continue
        print(f"{name}: {orjson.dumps(result.get('median') or result['summary']).decode()}")
    out = "gateway_targets" if args.targets else "gateway_overhead" + "".join(
        suffix for flag, suffix in ((args.routing_limits, "_routing_limits"), (policy == "default", "_default_policy"),
                                    (args.distinct_prompts, "_distinct"), (args.stream, "_stream"),
                                    (bool(args.memory), "_memory")) if flag)
    print("saved", save(out, {"repeat": repeat, "litellm": "litellm" in bench.targets, "results": results}))


if __name__ == "__main__":
    main()
