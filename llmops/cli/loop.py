"""``llmops loop status``: where the feedback loop stands — feedback, datasets, retraining runs, rollouts,
poison messages; ``--watch`` redraws it every few seconds, so each step of a walkthrough shows as it happens."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from llmops.cli._services import CliServices, run_with_services
from shared.config import get_settings
from shared.queues import ALL_QUEUES, poison_queue


def register(subparsers: argparse._SubParsersAction) -> None:
    loop = subparsers.add_parser("loop", help="inspect the feedback -> retraining -> canary loop")
    sub = loop.add_subparsers(dest="loop_command", required=True)
    status = sub.add_parser("status", help="datasets, training runs, rollouts and poison messages")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.add_argument("--watch", nargs="?", type=float, const=3.0, default=None, metavar="SECONDS",
                        help="redraw every SECONDS (default 3) until Ctrl-C")
    status.set_defaults(func=_status)


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M") if epoch else "-"


def loop_state() -> dict[str, Any]:
    settings = get_settings()

    async def action(s: CliServices) -> dict[str, Any]:
        return {
            "feedback": len(await s.store.query("feedback")),
            "datasets": await s.store.query("datasets", order_by="id"),
            "runs": await s.store.query("training_runs", order_by="submitted_at", descending=True, limit=20),
            "rollouts": await s.store.query("model_rollouts", order_by="started_at", descending=True, limit=20),
        }

    state = run_with_services(action)
    poison = {}
    for queue in ALL_QUEUES:
        path = settings.data_dir / "queues" / f"{poison_queue(queue)}.jsonl"
        poison[queue] = len(path.read_text().splitlines()) if path.exists() else 0
    return {**state, "poison": poison}


def render(state: dict[str, Any]) -> str:
    queues = get_settings().data_dir / "queues"
    lines = [f"FEEDBACK  {state['feedback']} documents", "DATASETS",
             f"  {'id':<24} {'examples':>8} {'train':>6} {'valid':>6} {'dups':>5} {'pii':>5} {'new':>5} {'runs':>5}"]
    for d in state["datasets"]:
        lines.append(f"  {d['id']:<24} {d.get('examples', 0):>8} {d.get('train', 0):>6} {d.get('validation', 0):>6} "
                     f"{d.get('duplicates', 0):>5} {d.get('pii_redactions', 0):>5} {d.get('new_since_last_run', 0):>5} "
                     f"{d.get('runs_requested', 0):>5}")
    lines.append("TRAINING RUNS")
    for r in state["runs"]:
        model = r.get("registered_model") or {}
        registered = f"{model.get('name')}:{model.get('version')}" if model else "-"
        lines.append(f"  {r['id']:<52} {r['status']:<10} gate={r.get('gate_passed')!s:<5} model={registered:<24} "
                     f"{_when(r.get('submitted_at'))}  {r.get('output_dir') or r.get('studio_url') or ''}")
    lines.append("ROLLOUTS")
    for r in state["rollouts"]:
        last = (r.get("decisions") or [{}])[-1]
        lines.append(f"  {r['id']:<28} {r['status']:<12} share={r['share']:<5} target={r['target_alias']:<14} "
                     f"last decision: {last.get('action', '-')} {'; '.join(last.get('reasons', []))}")
    lines.append("POISON MESSAGES")
    for queue, count in state["poison"].items():
        lines.append(f"  {poison_queue(queue)}: {count} (in {queues})")
    return "\n".join(lines)


def _status(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(loop_state(), indent=2, default=str))
        return 0
    if args.watch is None:
        print(render(loop_state()))
        return 0
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    def frame() -> Text:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        return Text(f"{render(loop_state())}\n(updated {stamp} UTC, every {args.watch:g} s; Ctrl-C stops)")

    with Live(frame(), console=Console(), auto_refresh=False) as live:
        while True:
            time.sleep(args.watch)
            live.update(frame(), refresh=True)
