"""A request's whole story, from its request-log record: what ``llmops trace REQUEST_ID`` and the
dashboard's request page show.

``request_story(record)`` turns one stored record (``shared.request_record``) into ordered sections:
the outcome, the route decision and every attempt, the prompt version, the guardrail verdicts with
their scores, the cache status, tokens, cost and timings, and the trace id the span carries in
Azure Monitor (Application Insights' ``OperationId``). ``azure_links`` fills the link templates
that open the same request in Azure: a Log Analytics query over its span, traces and business
events, and the workbook's request panel (parameter ``RequestId``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.observability import names as n

# The Logs blade deep link: the workspace's resource id and the URL-encoded KQL go into the path.
LOGS_LINK_TEMPLATE = ("https://portal.azure.com/#blade/Microsoft_Azure_Monitoring_Logs/LogsBlade/resourceId/"
                      "{resource_id}/source/LogsBlade.AnalyticsShareLinkToQuery/query/{query}/timespan/{timespan}")
# The deployed workbook with its request panel's parameter set (``infra.workbook_build``).
WORKBOOK_LINK_TEMPLATE = "{workbook_url}?RequestId={request_id}"
REQUEST_ID_PARAMETER = "RequestId"


def story_kql(request_id: str, trace_id: str | None = None) -> str:
    """Everything Application Insights holds about one request: its span, logs and business events."""
    safe_id = request_id.replace('"', "")
    match = f'tostring(Properties["{n.LLMOPS_REQUEST_ID}"]) == "{safe_id}"'
    if trace_id:
        match += f' or OperationId == "{trace_id.replace(chr(34), "")}"'
    return "\n".join([
        "union AppDependencies, AppTraces, AppRequests",
        f"| where {match}",
        "| project TimeGenerated, Type, Name, DurationMs, Success, ResultCode, Message, OperationId, Properties",
        "| order by TimeGenerated asc",
    ])


def azure_links(request_id: str, trace_id: str | None, *, workspace_resource_id: str | None = None,
                workbook_url: str | None = None, timespan: str = "P7D") -> dict[str, str]:
    """The portal links for one request; a template with ``{placeholders}`` where the ids are unknown."""
    query = urllib.parse.quote(story_kql(request_id, trace_id), safe="")
    resource = urllib.parse.quote(workspace_resource_id, safe="") if workspace_resource_id else "{resource_id}"
    return {
        "logs": LOGS_LINK_TEMPLATE.format(resource_id=resource, query=query, timespan=timespan),
        "workbook": WORKBOOK_LINK_TEMPLATE.format(workbook_url=workbook_url or "{workbook_url}",
                                                  request_id=urllib.parse.quote(request_id, safe="")),
    }


@dataclass
class Section:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, label: str, value: Any) -> None:
        if value is None or value == "" or value == [] or value == {}:
            return
        self.rows.append((label, _text(value)))


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    return str(value)


def _ms(value: Any) -> str | None:
    return None if value is None else f"{float(value):.1f} ms"


def request_story(record: Mapping[str, Any], *, feedback: Sequence[Mapping[str, Any]] = (),
                  events: Sequence[Mapping[str, Any]] = ()) -> list[Section]:
    """The record as ordered sections of (label, value) rows, then what users said about the answer and
    what the app reported came of it; absent facts are left out."""
    summary = Section("request")
    for label, key in (("id", "id"), ("tenant", "tenant_id"), ("app", "app_id"), ("operation", "operation"),
                       ("received", "created_at"), ("status", "status"), ("outcome", "outcome"),
                       ("error", "error_code"), ("message", "error_message"), ("streamed", "streamed"),
                       ("stream end", "stream_end"), ("trace id", "trace_id")):
        summary.add(label, record.get(key))

    route = Section("route")
    decision = record.get("route") or {}
    route.add("requested model", record.get("requested_model"))
    for key in ("mode", "tier", "reason", "score", "plan", "canary_of"):
        route.add(key, decision.get(key))
    route.add("answered by", record.get("deployment"))
    route.add("rollout", record.get("rollout_id"))
    for index, attempt in enumerate(record.get("attempts") or [], start=1):
        outcome = attempt.get("error") or attempt.get("status")
        route.add(f"attempt {index}", f"{attempt.get('deployment')}: {outcome} in {_ms(attempt.get('latency_ms'))}")

    prompt = Section("prompt")
    spec = record.get("prompt") or {}
    for key in ("name", "version", "label", "variant"):
        prompt.add(key, spec.get(key))
    conversation = record.get("conversation") or {}
    prompt.add("conversation", conversation.get("id"))
    grounding = record.get("grounding") or {}
    prompt.add("grounding sources", grounding.get("sources"))
    prompt.add("passages", len(grounding.get("passages") or []) or None)

    guardrails = Section("guardrails")
    guardrails.add("policy", record.get("guardrails_policy"))
    for verdict in record.get("guardrails") or []:
        threshold = verdict.get("threshold")
        limit = f" (threshold {threshold})" if threshold is not None else ""
        guardrails.add(f"{verdict.get('stage')}/{verdict.get('check')}",
                       f"{verdict.get('action')}: score {verdict.get('score')}{limit}")

    cache = Section("cache")
    cache.add("status", record.get("cache"))
    hit = record.get("cache_hit") or {}
    for key in ("entry", "similarity", "saved_tokens"):
        cache.add(key, hit.get(key))

    usage = Section("tokens and cost")
    tokens = record.get("usage") or {}
    for label, key in (("input", "prompt_tokens"), ("cached input", "cached_tokens"), ("output", "completion_tokens"),
                       ("total", "total_tokens")):
        usage.add(label, tokens.get(key))
    usage.add("estimated", record.get("usage_estimated") or None)
    usage.add("cost USD", f"{float(record.get('cost_usd') or 0.0):.6f}")
    usage.add("finish", record.get("finish_reasons"))

    timings = Section("timings")
    for label, key in (("total", "latency_ms"), ("gateway overhead", "overhead_ms"),
                       ("backend", "backend_latency_ms"), ("first token", "ttft_ms")):
        timings.add(label, _ms(record.get(key)))
    said = Section("feedback")
    for doc in feedback:
        comment = f" \"{doc['comment']}\"" if doc.get("comment") else ""
        said.add(str(doc.get("user") or "anonymous"), f"{doc.get('rating')} (score {doc.get('score')}){comment}")
    outcome = Section("business events")
    for event in events:
        value = f" value {event['value']}" if event.get("value") is not None else ""
        outcome.add(str(event.get("type")), f"{event.get('created_at')}{value}")
    return [s for s in (summary, route, prompt, guardrails, cache, usage, timings, said, outcome) if s.rows]


def render_story(sections: list[Section], links: Mapping[str, str]) -> str:
    width = max((len(label) for s in sections for label, _ in s.rows), default=0)
    lines: list[str] = []
    for section in sections:
        lines.append(f"== {section.title}")
        lines.extend(f"  {label.ljust(width)}  {value}" for label, value in section.rows)
    lines.append("== in Azure Monitor")
    lines.extend(f"  {name.ljust(width)}  {link}" for name, link in links.items())
    return "\n".join(lines)
