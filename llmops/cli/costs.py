"""``llmops costs``: spend per tenant / app / deployment from the request log.

    llmops costs --since 7d                      # per tenant, app and deployment
    llmops costs --since 24h --by tenant         # per tenant only
    llmops costs --since 30d --tenant contoso --json

Costs are the ones the gateway logged per request (the deployment's price table applied to the usage
the model reported, or to the local count when a stream gave none).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from typing import Any

from llmops.cli import CliError
from llmops.cli._services import CliServices, run_with_services
from llmops.cli.access import parse_duration
from shared.store import Filter

DIMENSIONS = ("tenant", "app", "deployment")
_FIELDS = {"tenant": "tenant_id", "app": "app_id", "deployment": "deployment"}


def register(subparsers: argparse._SubParsersAction) -> None:
    costs = subparsers.add_parser("costs", help="spend and tokens per tenant/app/deployment from the request log")
    costs.add_argument("--since", default="7d", help="how far back, e.g. 90m, 24h, 7d (default 7d)")
    costs.add_argument("--by", default="tenant,app,deployment",
                       help="comma-separated grouping: any of tenant, app, deployment (default: all three)")
    costs.add_argument("--tenant", help="only this tenant")
    costs.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    costs.set_defaults(func=_costs)


def group_by(raw: str) -> list[str]:
    dims = [d.strip() for d in raw.split(",") if d.strip()]
    unknown = [d for d in dims if d not in DIMENSIONS]
    if not dims or unknown:
        raise CliError(f"--by takes a comma-separated list of {', '.join(DIMENSIONS)}; got {raw!r}")
    return dims


def summarise(records: list[dict[str, Any]], dims: list[str]) -> list[dict[str, Any]]:
    """One row per group: requests, errors, input/output tokens and cost; the most expensive first."""
    rows: dict[tuple, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "errors": 0, "input_tokens": 0,
                                                             "output_tokens": 0, "cost_usd": 0.0})
    for record in records:
        key = tuple(record.get(_FIELDS[d]) or "-" for d in dims)
        row = rows[key]
        usage = record.get("usage") or {}
        row["requests"] += 1
        row["errors"] += 1 if int(record.get("status") or 0) >= 400 else 0
        row["input_tokens"] += int(usage.get("prompt_tokens") or 0)
        row["output_tokens"] += int(usage.get("completion_tokens") or 0)
        row["cost_usd"] += float(record.get("cost_usd") or 0.0)
    out = [{**dict(zip(dims, key, strict=True)), **values} for key, values in rows.items()]
    return sorted(out, key=lambda r: (-r["cost_usd"], *(r[d] for d in dims)))


def render(rows: list[dict[str, Any]], dims: list[str]) -> str:
    headers = [*dims, "requests", "errors", "input tok", "output tok", "cost USD"]
    total = {"requests": sum(r["requests"] for r in rows), "errors": sum(r["errors"] for r in rows),
             "input_tokens": sum(r["input_tokens"] for r in rows),
             "output_tokens": sum(r["output_tokens"] for r in rows), "cost_usd": sum(r["cost_usd"] for r in rows)}
    cells = [[*(str(r[d]) for d in dims), str(r["requests"]), str(r["errors"]), str(r["input_tokens"]),
              str(r["output_tokens"]), f"{r['cost_usd']:.6f}"] for r in rows]
    cells.append(["TOTAL", *([""] * (len(dims) - 1)), str(total["requests"]), str(total["errors"]),
                  str(total["input_tokens"]), str(total["output_tokens"]), f"{total['cost_usd']:.6f}"])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    numeric = set(range(len(dims), len(headers)))

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths,
                                                                                                  strict=True)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells[:-1]), rule, line(cells[-1])])


def _costs(args: argparse.Namespace) -> int:
    since = time.time() - parse_duration(args.since).total_seconds()
    dims = group_by(args.by)

    async def action(services: CliServices) -> list[dict[str, Any]]:
        filters = [Filter("ts", ">=", since)]
        if args.tenant:
            filters.append(Filter("tenant_id", "=", args.tenant))
        return await services.store.query("request_log", filters)

    rows = summarise(run_with_services(action), dims)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no requests logged in the last {args.since}")
    else:
        print(f"Costs over the last {args.since}:\n{render(rows, dims)}")
    return 0
