"""The local host: serves the very function objects ``function_app.py`` registers, like Azure does.

Azure Functions Core Tools cannot be installed offline, so ``llmops dev`` reads each HTTP function's
binding (route, methods) from ``get_function_json()`` and mounts the user function unchanged on a
Starlette app under ``/api/...``, served by uvicorn on 127.0.0.1:7071. Beside it runs the Azure
OpenAI simulator with a small and a frontier deployment; state lives in SQLite under ``.llmops/``.
A demo tenant (``contoso``, apps ``mobile`` and ``crm``) and a key are created on first start.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.routing import Route

from llmops.demo import DEMO_TENANT, ensure_demo
from llmops.events import LocalEventRuntime
from llmops.localenv import checkout_root, write_dev_settings
from llmops.serving import make_server, stop_on_signals, wait_started
from llmops.simulator import build_simulator
from shared.config import get_settings, reset_settings_cache
from shared.runtime import Platform, set_platform

SIMULATOR_KEY = "simulator-key"
# The laptop profile of the closed loop: a canary is judged every 15 s and promoted after 10 requests over a
# minute with no regression (Azure's defaults: 200 requests over an hour, judged every 5 minutes), and takes
# half of its target's traffic, so the README's walkthrough reaches a promotion in a few minutes.
LOCAL_LOOP_PROFILE = {
    "LLMOPS_CANARY_SHARE": "0.5",
    "LLMOPS_CANARY_MIN_REQUESTS": "10",
    "LLMOPS_CANARY_MIN_DURATION_S": "60",
    "LLMOPS_CANARY_MIN_FEEDBACK": "5",
}
LOCAL_TIMER_INTERVAL_S = 15.0


_indexed: dict[int, list] = {}


def registered_functions(function_app) -> list:
    """``function_app.get_functions()``, once per app: like the Functions host, which indexes an app once
    (the SDK refuses a second indexing of the same app object)."""
    key = id(function_app)
    if key not in _indexed:
        _indexed[key] = function_app.get_functions()
    return _indexed[key]


def http_routes(function_app) -> list[Route]:
    """Starlette routes for every HTTP-triggered function of a ``func.FunctionApp``."""
    routes = []
    for function in registered_functions(function_app):
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next((b for b in bindings if b.get("type") == "httpTrigger"), None)
        if trigger is None:
            continue
        methods = [m.upper() for m in trigger.get("methods") or ["GET", "POST"]]
        # a Functions catch-all ``{*name}`` is Starlette's ``{name:path}``; the host tries it after every other route
        route = re.sub(r"\{\*(\w+)\}", r"{\1:path}", trigger["route"].lstrip("/"))
        routes.append(Route("/api/" + route, function.get_user_function(), methods=methods))
    routes.sort(key=lambda route: ":path}" in route.path)  # catch-alls last, as the host orders them
    return routes


def event_runtime(platform: Platform) -> LocalEventRuntime:
    """The local stand-in for Azure's triggers, over the same function objects."""
    import function_app

    return LocalEventRuntime(registered_functions(function_app.app), platform.store, platform.settings.data_dir,
                             timer_interval_s=LOCAL_TIMER_INTERVAL_S)


def gateway_app() -> Starlette:
    """The function app's HTTP functions as one ASGI app (``import function_app`` as the host does)."""
    import function_app

    return Starlette(routes=http_routes(function_app.app))


async def serve_gateway(host: str, port: int) -> None:
    """Serve the gateway alone with the settings from the environment (``llmops serve``)."""
    server = make_server(gateway_app(), host, port)
    stop_on_signals(server)
    platform = await Platform.create(get_settings())
    set_platform(platform)
    try:
        print(f"LLMOps gateway on http://{host}:{port}/api ({len(platform.deployments)} deployments, "
              f"store: {platform.settings.store})", flush=True)
        await server.serve()
    finally:
        await platform.close()
        set_platform(None)


def local_deployments(simulator_url: str) -> list[dict]:
    common = {"endpoint": simulator_url, "api_version": "2024-10-21", "auth": "key", "api_key": SIMULATOR_KEY}
    return [
        {**common, "alias": "gpt-4o-mini", "deployment": "gpt-4o-mini", "model": "gpt-4o-mini", "tier": "small",
         "input_per_1m": 0.15, "cached_input_per_1m": 0.075, "output_per_1m": 0.60, "region": "local-east"},
        # the same model in a second "region": the small pool's failover target (priority 1)
        {**common, "alias": "gpt-4o-mini-west", "deployment": "gpt-4o-mini-west", "model": "gpt-4o-mini",
         "tier": "small", "priority": 1, "region": "local-west",
         "input_per_1m": 0.15, "cached_input_per_1m": 0.075, "output_per_1m": 0.60},
        {**common, "alias": "gpt-4o", "deployment": "gpt-4o", "model": "gpt-4o", "tier": "frontier",
         "input_per_1m": 2.50, "cached_input_per_1m": 1.25, "output_per_1m": 10.00},
        # a reasoning-family model (it takes max_completion_tokens, only the default temperature) on Azure's
        # v1 API, in its own tier: only requests naming it reach it, so "auto" routing is unchanged
        {**common, "alias": "gpt-5-mini", "deployment": "gpt-5-mini", "model": "gpt-5-mini", "tier": "reasoning",
         "api_version": "v1", "input_per_1m": 0.25, "cached_input_per_1m": 0.025, "output_per_1m": 2.00},
        {**common, "alias": "text-embedding-3-small", "deployment": "text-embedding-3-small",
         "model": "text-embedding-3-small", "tier": "embeddings", "input_per_1m": 0.02, "output_per_1m": 0.0},
    ]


def apply_local_defaults(data_dir: Path, simulator_url: str) -> None:
    """Embedded defaults as environment variables; anything the user exported already wins. The result is
    written to ``<data_dir>/dev-settings.json``, where the other ``llmops`` commands read it (``llmops.localenv``)."""
    defaults = {
        "LLMOPS_ENVIRONMENT": "local",
        "LLMOPS_DATA_DIR": str(data_dir),
        "LLMOPS_STORE": "sqlite",
        "LLMOPS_DEPLOYMENTS_JSON": json.dumps(local_deployments(simulator_url)),
        "LLMOPS_DEFAULT_DEPLOYMENT": "gpt-4o-mini",
        "LLMOPS_TELEMETRY_LOCAL_EXPORTER": "file",
        # fine-tuned candidates are "served" by the simulator's OpenAI-compatible route
        "LLMOPS_SERVING_LOCAL_BASE_URL": f"{simulator_url}/v1",
        "LLMOPS_SERVING_LOCAL_API_KEY": SIMULATOR_KEY,
        **LOCAL_LOOP_PROFILE,
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    write_dev_settings(data_dir, {key: os.environ[key] for key in defaults})
    reset_settings_cache()


def banner(base_url: str, key: str, key_file: Path) -> str:
    body = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}).decode()
    grounded = orjson.dumps({"model": "gpt-4o-mini", "grounding": {"source": "catalog", "top_k": 2}, "messages": [
        {"role": "user", "content": "How much does the Contoso CX-500 cost?"}]}).decode()
    return f"""
LLMOps gateway is up: {base_url}/api  (Azure OpenAI simulator: small=gpt-4o-mini (+ gpt-4o-mini-west), frontier=gpt-4o,
reasoning=gpt-5-mini)
Demo tenant '{DEMO_TENANT}', app 'mobile'; its key is in {key_file}

Try it with curl:
  curl -s {base_url}/api/v1/chat/completions -H "Authorization: Bearer $(cat {key_file})" \\
    -H "Content-Type: application/json" -d '{body}'

Or with the OpenAI Python SDK:
  from openai import OpenAI
  client = OpenAI(base_url="{base_url}/api/v1", api_key=open("{key_file}").read().strip())
  print(client.chat.completions.create(model="auto",
        messages=[{{"role": "user", "content": "Hello!"}}]).choices[0].message.content)

A CRM question answered from the registered catalog, with citations (x-llmops-citations, "citations"):
  curl -si {base_url}/api/v1/chat/completions -H "Authorization: Bearer $(cat {key_file})" \\
    -H "Content-Type: application/json" -d '{grounded}'

Dashboard: {base_url}/dashboard/   (llmops trace REQUEST_ID tells one request's story)
Health: {base_url}/api/health   Models: {base_url}/api/v1/models   Telemetry: {get_settings().telemetry_dir}/
{cli_hint()}
Press Ctrl-C to stop.
"""


def cli_hint() -> str:
    """How to get ``llmops`` on the PATH for this checkout (the banner's last lines)."""
    root = checkout_root()
    if root is None:
        return "The CLI: llmops --help"
    return (f"The CLI, in another terminal: source {root}/.venv/bin/activate   (then: llmops --help; "
            f"llmops completion bash)\n  or, from any directory without activating: {root}/llmops.sh --help")


async def run(host: str, port: int, simulator_port: int, data_dir: Path, latency: str) -> None:
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    apply_local_defaults(data_dir, simulator_url)
    simulator = make_server(build_simulator(latency=latency, api_key=SIMULATOR_KEY), "127.0.0.1", simulator_port)
    app = gateway_app()
    gateway = make_server(app, host, port)
    stop_on_signals(simulator, gateway)
    platform = await Platform.create(get_settings())
    set_platform(platform)
    from llmops.dashboard.app import dashboard_app  # the operators' page beside the API (llmops dashboard)

    app.mount("/dashboard", dashboard_app(platform.store, platform.settings,
                                          breakers=platform.gateway.failover.breakers.states))
    events = event_runtime(platform)
    platform.event_sink = events.publish_event
    try:
        events.start()
        sim_task = asyncio.create_task(simulator.serve())
        await wait_started(simulator)
        key = await ensure_demo(platform, data_dir / "dev-api-key")
        gateway_task = asyncio.create_task(gateway.serve())
        await wait_started(gateway)
        print(banner(f"http://{host}:{port}", key, data_dir / "dev-api-key"), flush=True)
        await asyncio.gather(gateway_task, sim_task)
    finally:
        simulator.should_exit = gateway.should_exit = True
        await events.stop()
        await platform.close()
        set_platform(None)
        print("llmops dev: stopped cleanly (request log flushed).", flush=True)
