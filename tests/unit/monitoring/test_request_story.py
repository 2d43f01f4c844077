"""A request's story: every part of the record in its section, and the Azure links."""

from __future__ import annotations

import urllib.parse

from shared.observability.story import azure_links, render_story, request_story, story_kql

RECORD = {
    "id": "req-1", "tenant_id": "contoso", "app_id": "mobile", "operation": "chat", "status": 200,
    "outcome": "ok", "created_at": "2026-12-02T10:00:00Z", "trace_id": "ab" * 16, "requested_model": "auto",
    "deployment": "gpt-4o-mini-west", "route": {"mode": "auto", "tier": "small", "reason": "simple", "score": 0.21,
                                                "plan": ["gpt-4o-mini", "gpt-4o-mini-west"]},
    "attempts": [{"deployment": "gpt-4o-mini", "latency_ms": 12.5, "status": 429, "error": "rate_limited"},
                 {"deployment": "gpt-4o-mini-west", "latency_ms": 40.0, "status": 200}],
    "prompt": {"name": "support", "version": "3", "label": "prod"},
    "guardrails_policy": "default",
    "guardrails": [{"check": "pii", "stage": "input", "score": 0.91, "threshold": 0.5, "action": "redact"},
                   {"check": "toxicity", "stage": "output", "score": 0.02, "threshold": 0.8, "action": "pass"}],
    "cache": "miss", "usage": {"prompt_tokens": 30, "completion_tokens": 12, "cached_tokens": 0, "total_tokens": 42},
    "cost_usd": 0.0000117, "latency_ms": 61.0, "overhead_ms": 8.5, "backend_latency_ms": 52.5,
}


def test_story_has_route_attempts_prompt_verdicts_cache_tokens_cost_timings() -> None:
    sections = {s.title: dict(s.rows) for s in request_story(RECORD)}
    assert sections["request"]["trace id"] == "ab" * 16 and sections["request"]["outcome"] == "ok"
    assert sections["route"]["reason"] == "simple" and sections["route"]["plan"] == "gpt-4o-mini, gpt-4o-mini-west"
    assert sections["route"]["attempt 1"] == "gpt-4o-mini: rate_limited in 12.5 ms"
    assert sections["route"]["attempt 2"] == "gpt-4o-mini-west: 200 in 40.0 ms"
    assert sections["prompt"] == {"name": "support", "version": "3", "label": "prod"}
    assert sections["guardrails"]["input/pii"] == "redact: score 0.91 (threshold 0.5)"
    assert sections["guardrails"]["output/toxicity"].startswith("pass: score 0.02")
    assert sections["cache"] == {"status": "miss"}
    assert sections["tokens and cost"]["total"] == "42" and sections["tokens and cost"]["cost USD"] == "0.000012"
    assert sections["timings"] == {"total": "61.0 ms", "gateway overhead": "8.5 ms", "backend": "52.5 ms"}


def test_a_failed_request_keeps_only_what_it_has() -> None:
    sections = request_story({"id": "x", "tenant_id": "_unauthenticated", "status": 401, "outcome": "auth_error",
                              "error_code": "invalid_api_key", "latency_ms": 1.0, "overhead_ms": 1.0})
    titles = [s.title for s in sections]
    assert titles == ["request", "tokens and cost", "timings"]
    assert dict(sections[0].rows)["error"] == "invalid_api_key"


def test_links_are_templates_until_the_ids_are_known() -> None:
    template = azure_links("req-1", "ab" * 16)
    assert "{resource_id}" in template["logs"] and template["workbook"] == "{workbook_url}?RequestId=req-1"
    workspace = "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w"
    filled = azure_links("req-1", "ab" * 16, workspace_resource_id=workspace,
                         workbook_url="https://portal.azure.com/#resource/wb/workbook")
    assert urllib.parse.quote(workspace, safe="") in filled["logs"]
    assert urllib.parse.quote(story_kql("req-1", "ab" * 16), safe="") in filled["logs"]
    assert 'OperationId == "' + "ab" * 16 + '"' in story_kql("req-1", "ab" * 16)
    text = render_story(request_story(RECORD), filled)
    assert "== guardrails" in text and "workbook" in text and text.count("==") == 8


def test_quotes_cannot_break_out_of_the_query() -> None:
    assert '"x" or 1==1' not in story_kql('x" or 1==1')
