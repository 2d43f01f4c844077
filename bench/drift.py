"""Detection delay and false alarms of each drift monitor on a replayed workload with injected shifts.

For each monitor and shift size, several seeds replay 36 h of one app's synthetic traffic
(``llmops.synthetic_traffic``, 120 requests/h) with the shift injected at hour 24; the monitors run
every 15 minutes, as the timer does, on a 1 h window against the 6 h before it. Reported per case:
how many runs detected the shift, the median detection delay (first alarm after the shift), and the
false alarms per day over the 18 stationary hours before it (every evaluation from hour 7 on).
Topic drift runs on the generator's topic vectors (no encoder), so the benchmark takes a minute.

    python bench/drift.py [--seeds 5] [--json bench/results/drift.json]
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llmops.synthetic_traffic import Shift, TrafficModel, generate, window  # noqa: E402
from shared.monitoring.definitions import ALARM, BY_KEY  # noqa: E402
from shared.monitoring.monitors import RUNS  # noqa: E402

HOUR = 3600.0
T0 = 1_800_000_000.0
SHIFT_AT, END = T0 + 24 * HOUR, T0 + 36 * HOUR
WINDOW, REFERENCE, EVERY = 1 * HOUR, 6 * HOUR, 0.25 * HOUR

CASES: list[tuple[str, str, dict]] = [
    ("topic_drift", "20% to a new topic", {"topics": {"billing": 0.32, "shipping": 0.28, "setup": 0.2, "travel": 0.2}}),
    ("topic_drift", "50% to a new topic", {"topics": {"billing": 0.2, "shipping": 0.18, "setup": 0.12, "travel": 0.5}}),
    ("refusal_rate", "3% -> 10%", {"refusal_rate": 0.10}),
    ("refusal_rate", "3% -> 25%", {"refusal_rate": 0.25}),
    ("feedback_score", "0.80 -> 0.65", {"feedback_score": 0.65}),
    ("feedback_score", "0.80 -> 0.50", {"feedback_score": 0.50}),
    ("cost_per_request", "x1.6 price", {"cost_per_1k_tokens": 0.00096}),
    ("cost_per_request", "x3 price", {"cost_per_1k_tokens": 0.0018}),
    ("tokens_per_request", "answers x2 (+40%)", {"completion_tokens": 240.0}),
    ("tokens_per_request", "answers x4 (+120%)", {"completion_tokens": 480.0}),
    ("overhead_p95", "median x1.6", {"overhead_ms": 9.6}),
    ("overhead_p95", "median x3", {"overhead_ms": 18.0}),
    ("ttft_p95", "median x1.6", {"ttft_ms": 352.0}),
    ("ttft_p95", "median x3", {"ttft_ms": 660.0}),
    ("error_rate", "1% -> 4%", {"error_rate": 0.04}),
    ("error_rate", "1% -> 10%", {"error_rate": 0.10}),
    ("rate_limited_rate", "1% -> 4%", {"rate_limited": 0.04}),
    ("rate_limited_rate", "1% -> 10%", {"rate_limited": 0.10}),
]


def replay(key: str, changes: dict, seed: int) -> tuple[float | None, int, int]:
    """(detection delay in minutes or None, false alarms, stationary evaluations) for one run."""
    records, feedback = generate(T0, END, model=TrafficModel(), shifts=(Shift(SHIFT_AT, changes),), seed=seed,
                                 vectors=key == "topic_drift")
    stamps = [r["ts"] for r in records]
    thresholds = dict(BY_KEY[key].thresholds)
    false_alarms = evaluations = 0
    now = T0 + WINDOW + REFERENCE
    while now <= END:
        lo = bisect.bisect_left(stamps, now - WINDOW - REFERENCE)
        hi = bisect.bisect_left(stamps, now)
        part = records[lo:hi]
        split = now - WINDOW
        result = RUNS[key](window(part, feedback, split, now), window(part, feedback, split - REFERENCE, split),
                           thresholds)
        if now <= SHIFT_AT:
            evaluations += 1
            false_alarms += result.status == ALARM
        elif result.status == ALARM:
            return (now - SHIFT_AT) / 60, false_alarms, evaluations
        now += EVERY
    return None, false_alarms, evaluations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "drift.json")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    print(f"{'monitor':<20} {'shift':<20} {'detected':>9} {'delay min':>10} {'false/day':>10}")
    for key, label, changes in CASES:
        runs = [replay(key, changes, seed) for seed in range(args.seeds)]
        delays = [d for d, _, _ in runs if d is not None]
        false_alarms, evaluations = sum(f for _, f, _ in runs), sum(e for _, _, e in runs)
        per_day = false_alarms / (evaluations * EVERY / (24 * HOUR)) if evaluations else 0.0
        row = {"monitor": key, "shift": label, "detected": len(delays), "runs": len(runs),
               "median_delay_min": statistics.median(delays) if delays else None,
               "false_alarms": false_alarms, "stationary_evaluations": evaluations, "false_alarms_per_day": per_day}
        rows.append(row)
        delay = f"{row['median_delay_min']:.0f}" if delays else "-"
        print(f"{key:<20} {label:<20} {len(delays):>4}/{len(runs):<4} {delay:>10} {per_day:>10.2f}")
    print(f"({time.perf_counter() - started:.0f} s; window {WINDOW / HOUR:g} h vs {REFERENCE / HOUR:g} h before, "
          f"every {EVERY / 60:g} min, shift at hour {(SHIFT_AT - T0) / HOUR:g})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"cases": rows, "seeds": args.seeds}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
