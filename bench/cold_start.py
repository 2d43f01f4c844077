"""Cold start: time to import ``function_app`` and time from process start to the first answered request.

    python bench/cold_start.py [--runs 5]

Import time is measured in a fresh interpreter (what the Functions host pays when it indexes the app).
Time to first response starts a fresh ``llmops serve`` process against the zero-latency simulator and
polls until a chat completion succeeds: interpreter start, imports, platform creation (store, clients)
and the first request. Also reports the import's peak memory and which heavy modules it pulled in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from _harness import REPO, SIMULATOR_KEY, free_port, gateway_env, issue_key, process, python_command, save

IMPORT_PROBE = """
import json, resource, sys, time
started = time.perf_counter()
import function_app
elapsed = time.perf_counter() - started
heavy = [m for m in ("azure.ai.ml", "pulumi", "torch", "transformers", "numpy", "azure.cosmos") if m in sys.modules]
print(json.dumps({"import_s": elapsed, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "modules": len(sys.modules), "heavy": heavy}))
"""


def import_once() -> dict:
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def first_response_once(simulator_url: str, data_dir: Path, key: str) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(python_command("serve", "--port", str(port)), cwd=REPO,
                            env={**__import__("os").environ, **gateway_env(data_dir, simulator_url)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
        while True:
            try:
                response = httpx2.post(f"http://127.0.0.1:{port}/api/v1/chat/completions", json=body,
                                       headers={"authorization": f"Bearer {key}"}, timeout=10)
                if response.status_code == 200:
                    return time.perf_counter() - started
            except httpx2.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError("gateway did not answer")
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    imports = [import_once() for _ in range(args.runs)]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim_port = free_port()
        key = issue_key(data_dir)
        with process(python_command("simulator", "--port", str(sim_port), "--latency", "zero",
                                    "--api-key", SIMULATOR_KEY), sim_port):
            firsts = [first_response_once(f"http://127.0.0.1:{sim_port}", data_dir, key) for _ in range(args.runs)]
    summary = {
        "import_function_app_s_median": round(statistics.median(i["import_s"] for i in imports), 3),
        "import_peak_rss_mb": round(statistics.median(i["max_rss_mb"] for i in imports), 1),
        "heavy_modules_imported": sorted({m for i in imports for m in i["heavy"]}),
        "process_start_to_first_response_s_median": round(statistics.median(firsts), 3),
        "runs": args.runs,
    }
    for key_name, value in summary.items():
        print(f"{key_name}: {value}")
    print("saved", save("cold_start", summary))


if __name__ == "__main__":
    main()
