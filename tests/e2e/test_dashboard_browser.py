"""The local dashboard in a real headless browser (Chromium): local traffic through the gateway plus a
replayed workload, the drift monitors' timer, then the page: every panel draws data; a screenshot is
kept under .llmops/artifacts/. ``llmops report`` writes the same page as one self-contained file."""

from __future__ import annotations

import asyncio
import re
import shutil
import time

import httpx2
import openai
import pytest

from llmops.cli import main
from llmops.dashboard.app import dashboard_app
from llmops.serving import make_server, wait_started
from llmops.synthetic_traffic import Shift, TrafficModel, generate
from shared.config import Settings, reset_settings_cache
from shared.observability.panels import PANELS
from shared.observability.telemetry import setup_telemetry
from tests.support.browser import ARTIFACTS, rendered_dom, screenshot
from tests.support.services import free_port
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
PANEL = re.compile(r'<section class="panel[^"]*" id="panel-([a-z0-9-]+)" data-chart="[a-z]+" data-points="(\d+)"')


@pytest.fixture(scope="module")
def traffic(stack: Stack) -> Stack:
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/api/v1", api_key=stack.key, max_retries=0)
    ids = []
    for question in ("Where is my order?", "How do I reset my router?", "My email is ana@example.com, help"):
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": question}])
        ids.append(raw.headers["x-request-id"])
    headers = {"authorization": f"Bearer {stack.key}"}
    assert httpx2.post(f"{stack.gateway_url}/api/v1/events", json={"type": "task_completed", "request_id": ids[0]},
                       headers=headers).status_code == 202
    assert httpx2.post(f"{stack.gateway_url}/api/v1/feedback", json={"request_id": ids[1], "rating": "up"},
                       headers=headers).status_code == 202
    now = time.time()
    records, feedback = generate(now - 6 * 3600, now - 1, model=TrafficModel(requests_per_hour=120),
                                 shifts=(Shift(now - 3600, {"refusal_rate": 0.3}),), seed=21,
                                 tenant_id="replay-co", app_id="web")

    async def seed() -> None:
        await stack.platform.tenants.ensure_app("replay-co", "web")
        await stack.platform.tenants.set_policy("replay-co", "web", "monitors", {"topic_drift": {"max_texts": 40}})
        await stack.platform.store.upsert_many("request_log", records)
        await stack.platform.store.upsert_many("feedback", feedback)
        await stack.platform.store.upsert("training_runs", {
            "id": "run-replay-1", "dataset_id": "replay-co.web", "status": "succeeded", "submitted_at": now - 600})

    stack.flush_log()
    stack.call(seed())
    stack.events.enqueue("retrain-requests", "not a retrain request")  # retried, then poisoned
    stack.call(stack.events.idle(), timeout=60)
    stack.call(stack.events.fire_timer("drift_monitors"), timeout=120)
    return stack


@pytest.fixture(scope="module")
def dashboard_url(traffic: Stack):
    port = free_port()
    server = make_server(dashboard_app(traffic.platform.store, traffic.platform.settings, refresh_ms=2000,
                                       breakers=traffic.platform.gateway.failover.breakers.states),
                         "127.0.0.1", port)

    async def start() -> None:
        asyncio.get_running_loop().create_task(server.serve())
        await wait_started(server)

    traffic.call(start())
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True


def drawn_panels(dom: str) -> dict[str, int]:
    assert 'data-ready="1"' in dom, "the page's script never finished rendering"
    return {key: int(points) for key, points in PANEL.findall(dom)}


def test_every_panel_draws_local_data_in_the_browser(dashboard_url: str, traffic: Stack, tmp_path) -> None:
    client = openai.OpenAI(base_url=f"{traffic.gateway_url}/api/v1", api_key=traffic.key, max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])  # a breaker
    dom = rendered_dom(dashboard_url, tmp_path / "profile")
    drawn = drawn_panels(dom)
    assert set(drawn) == {p.key for p in PANELS}
    empty = sorted(key for key, points in drawn.items() if points == 0)
    # the serving GPUs are Azure ML's in Azure; locally the host's, and this host may have none
    no_gpu = [] if shutil.which("nvidia-smi") else ["serving-gpu"]
    assert empty == no_gpu, f"panels without data: {empty}"
    assert dom.count("<canvas") == sum(1 for p in PANELS if p.chart != "table")
    shot = screenshot(dashboard_url, ARTIFACTS / "dashboard.png", tmp_path / "profile2")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_live_data_and_a_request_page(dashboard_url: str, traffic: Stack) -> None:
    payload = httpx2.get(dashboard_url + "data.json").json()
    assert [f["key"] for f in payload["figures"]] == [p.key for p in PANELS]
    story = payload["figures"][[p.key for p in PANELS].index("request-story")]["data"]["rows"][0][0]
    page = httpx2.get(f"{dashboard_url}requests/{story}")
    assert page.status_code == 200 and "tokens and cost" in page.text and "LogsBlade" in page.text
    assert httpx2.get(f"{dashboard_url}requests/nope").status_code == 404
    assert httpx2.get(dashboard_url + "static/chart.umd.min.js").text.startswith("/*!\n * Chart.js")


def test_the_report_is_one_self_contained_file(traffic: Stack, tmp_path, monkeypatch, capsys) -> None:
    # the report runs apart from the gateway: breaker states come from the gateway's local metrics file
    client = openai.OpenAI(base_url=f"{traffic.gateway_url}/api/v1", api_key=traffic.key, max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    exporter = setup_telemetry(Settings(data_dir=traffic.data_dir, telemetry_local_exporter="file"))
    exporter.observe_breakers(traffic.platform.gateway.failover.breakers.states)
    exporter.shutdown()
    monkeypatch.setenv("LLMOPS_DATA_DIR", str(traffic.data_dir))
    monkeypatch.setenv("LLMOPS_STORE", "sqlite")
    reset_settings_cache()
    try:
        output = tmp_path / "report.html"
        assert main(["report", "--output", str(output), "--since", "12h"]) == 0
    finally:
        reset_settings_cache()
    with_data = len(PANELS) - (0 if shutil.which("nvidia-smi") else 1)
    assert f"{with_data} panels with data" in capsys.readouterr().out
    text = output.read_text()
    assert "<script src=" not in text and "fetch(" in text and "const LIVE = false" in text
    drawn = drawn_panels(rendered_dom(output.as_uri(), tmp_path / "profile"))
    no_gpu = set() if shutil.which("nvidia-smi") else {"serving-gpu"}
    assert set(drawn) == {p.key for p in PANELS} and {k for k, v in drawn.items() if not v} == no_gpu
