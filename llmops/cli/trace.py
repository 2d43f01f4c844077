"""``llmops trace REQUEST_ID``: one request's whole story from the request log.

    llmops trace 3f2a...                  # route, attempts, prompt, guardrails, cache, tokens, cost, timings
    llmops trace 3f2a... --tenant contoso # only look in this tenant's log
    llmops trace 3f2a... --json           # the story and the stored record as JSON

It ends with the links that open the same request in Azure Monitor (the trace id is the span's
``OperationId``); they are templates until ``LLMOPS_MONITOR_WORKSPACE_ID`` and
``LLMOPS_MONITOR_WORKBOOK_URL`` are set. An unknown id is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmops.cli._services import run_with_services
from shared.config import get_settings
from shared.observability.story import azure_links, render_story, request_story
from shared.store import DocumentStore, Filter

NOT_FOUND_EXIT = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    trace = subparsers.add_parser("trace", help="a request's whole story from the request log")
    trace.add_argument("request_id", help="the x-request-id of the request")
    trace.add_argument("--tenant", help="only look in this tenant's requests")
    trace.add_argument("--json", action="store_true", help="print the story and the record as JSON")
    trace.set_defaults(func=_trace)


async def find_story(store: DocumentStore, request_id: str, tenant: str | None = None
                     ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The request's record, the feedback on it and the business events about it (same tenant)."""
    filters = [Filter("id", "=", request_id)]
    if tenant:
        filters.append(Filter("tenant_id", "=", tenant))
    rows = await store.query("request_log", filters, limit=1)
    if not rows:
        return None
    about = [Filter("tenant_id", "=", rows[0]["tenant_id"]), Filter("request_id", "=", request_id)]
    return rows[0], await store.query("feedback", about), await store.query("business_events", about)


def _trace(args: argparse.Namespace) -> int:
    found = run_with_services(lambda services: find_story(services.store, args.request_id, args.tenant))
    if found is None:
        where = f" for tenant {args.tenant!r}" if args.tenant else ""
        print(f"llmops: error: no request {args.request_id!r} in the request log{where}", file=sys.stderr)
        return NOT_FOUND_EXIT
    record, feedback, events = found
    settings = get_settings()
    links = azure_links(record["id"], record.get("trace_id"), workspace_resource_id=settings.monitor_workspace_id,
                        workbook_url=settings.monitor_workbook_url)
    sections = request_story(record, feedback=feedback, events=events)
    if args.json:
        story = {s.title: dict(s.rows) for s in sections}
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        print(json.dumps({"story": story, "links": links, "record": public}, indent=2, default=str))
    else:
        print(render_story(sections, links))
    return 0
