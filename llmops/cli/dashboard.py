"""``llmops dashboard`` (the live local dashboard) and ``llmops report`` (one self-contained HTML file).

    llmops dashboard                       # http://127.0.0.1:7073/ over the local stores, refreshed live
    llmops dashboard --since 24h --port 8080
    llmops report --output report.html     # every panel, Chart.js inlined: open it anywhere, offline

``llmops dev`` (``make run``) serves the same page at http://127.0.0.1:7071/dashboard/.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from llmops.cli.access import parse_duration
from shared.config import get_settings
from shared.store import build_store


def register(subparsers: argparse._SubParsersAction) -> None:
    dashboard = subparsers.add_parser("dashboard", help="serve the local dashboard (panels of the workbook)")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=7073)
    dashboard.add_argument("--since", default="6h", help="time range, e.g. 30m, 6h, 7d (default 6h)")
    dashboard.add_argument("--refresh", type=float, default=5.0, help="seconds between live updates (default 5)")
    dashboard.set_defaults(func=_dashboard)
    report = subparsers.add_parser("report", help="write the dashboard as one self-contained HTML file")
    report.add_argument("--output", type=Path, default=Path("report.html"))
    report.add_argument("--since", default="24h", help="time range, e.g. 6h, 7d (default 24h)")
    report.set_defaults(func=_report)


def _dashboard(args: argparse.Namespace) -> int:
    from llmops.dashboard.app import dashboard_app
    from llmops.serving import make_server, run, stop_on_signals

    since_s = parse_duration(args.since).total_seconds()

    async def serve() -> None:
        settings = get_settings()
        store = build_store(settings)
        await store.open()
        server = make_server(dashboard_app(store, settings, since_s=since_s, refresh_ms=int(args.refresh * 1000)),
                             args.host, args.port)
        stop_on_signals(server)
        print(f"LLMOps dashboard on http://{args.host}:{args.port}/ ({args.since}, store: {settings.store})",
              flush=True)
        try:
            await server.serve()
        finally:
            await store.close()

    run(serve())
    return 0


def _report(args: argparse.Namespace) -> int:
    from llmops.dashboard.app import write_report

    since_s = parse_duration(args.since).total_seconds()

    async def write() -> int:
        settings = get_settings()
        store = build_store(settings)
        await store.open()
        try:
            return await write_report(store, settings, args.output, since_s)
        finally:
            await store.close()

    drawn = asyncio.run(write())
    print(f"wrote {args.output} ({drawn} panels with data, last {args.since})")
    return 0
