"""Each registered function's bindings, as the Functions host will read them."""

from __future__ import annotations

import json
import subprocess
import sys

import function_app
from llmops.devhost import registered_functions

EXPECTED_HTTP = {
    "chat_completions": ("v1/chat/completions", ["POST"]),
    "azure_chat_completions": ("openai/deployments/{deployment}/chat/completions", ["POST"]),
    "list_models": ("v1/models", ["GET"]),
    "health": ("health", ["GET"]),
    "submit_feedback": ("v1/feedback", ["POST"]),
    "unrouted": ("{*path}", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
}
RETRAIN_OUTPUT = {"direction": "OUT", "type": "queue", "name": "retrain", "queueName": "retrain-requests",
                  "connection": "AzureWebJobsStorage"}


def functions() -> dict[str, dict]:
    return {f.get_function_name(): json.loads(f.get_function_json()) for f in registered_functions(function_app.app)}


def test_http_functions_and_their_bindings() -> None:
    registered = functions()
    for name, (route, methods) in EXPECTED_HTTP.items():
        bindings = registered[name]["bindings"]
        trigger = next(b for b in bindings if b["type"] == "httpTrigger")
        assert trigger == {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": methods,
                           "authLevel": "ANONYMOUS", "route": route}
        assert {"direction": "OUT", "type": "http", "name": "$return"} in bindings
        assert registered[name]["scriptFile"] == "function_app.py"


def test_curation_is_fed_by_the_feedback_change_feed_and_outputs_to_the_retrain_queue() -> None:
    bindings = functions()["curate_feedback"]["bindings"]
    trigger = next(b for b in bindings if b["type"] == "cosmosDBTrigger")
    assert trigger == {"direction": "IN", "type": "cosmosDBTrigger", "name": "documents", "connection": "COSMOS",
                       "databaseName": "%LLMOPS_COSMOS_DATABASE%", "containerName": "feedback",
                       "leaseContainerName": "leases", "createLeaseContainerIfNotExists": False}
    assert RETRAIN_OUTPUT in bindings
    curate = next(f for f in registered_functions(function_app.app) if f.get_function_name() == "curate_feedback")
    assert curate.get_settings_dict("retry_policy") == {
        "setting_name": "retry_policy", "strategy": "exponential_backoff", "max_retry_count": "8",
        "minimum_interval": "00:00:02", "maximum_interval": "00:01:00"}


def test_retrain_sweep_timer() -> None:
    bindings = functions()["retrain_sweep"]["bindings"]
    trigger = next(b for b in bindings if b["type"] == "timerTrigger")
    assert trigger == {"direction": "IN", "type": "timerTrigger", "name": "timer",
                       "schedule": "%LLMOPS_RETRAIN_SWEEP_SCHEDULE%", "runOnStartup": False, "useMonitor": True}
    assert RETRAIN_OUTPUT in bindings


def test_retraining_and_rollout_functions() -> None:
    registered = functions()
    retrain = next(b for b in registered["retrain"]["bindings"] if b["type"] == "queueTrigger")
    assert retrain == {"direction": "IN", "type": "queueTrigger", "name": "message", "queueName": "retrain-requests",
                       "connection": "AzureWebJobsStorage"}
    events = next(b for b in registered["model_events"]["bindings"] if b["type"] == "eventGridTrigger")
    assert events == {"direction": "IN", "type": "eventGridTrigger", "name": "event"}
    # the Event Grid function only enqueues; the queue function and a timer do the work
    work = next(b for b in registered["model_events"]["bindings"] if b["type"] == "queue")
    assert work["direction"] == "OUT" and work["queueName"] == "model-events"
    handler = next(b for b in registered["model_work"]["bindings"] if b["type"] == "queueTrigger")
    assert handler["queueName"] == "model-events"
    poller = next(b for b in registered["model_operations"]["bindings"] if b["type"] == "timerTrigger")
    assert poller["schedule"] == "%LLMOPS_MODEL_OPERATIONS_SCHEDULE%"
    timer = next(b for b in registered["canary_evaluator"]["bindings"] if b["type"] == "timerTrigger")
    assert timer["schedule"] == "%LLMOPS_CANARY_EVALUATOR_SCHEDULE%" and timer["runOnStartup"] is False


def test_http_functions_are_async_and_take_the_streaming_request_type() -> None:
    import inspect

    from azurefunctions.extensions.http.fastapi import Request

    for function in registered_functions(function_app.app):
        if function.get_function_name() in EXPECTED_HTTP:
            user_function = function.get_user_function()
            assert inspect.iscoroutinefunction(user_function)
            assert inspect.signature(user_function).parameters["req"].annotation in (Request, "Request")


def test_importing_function_app_pulls_in_nothing_heavy() -> None:
    code = ("import sys, function_app; heavy = [m for m in ('azure.ai.ml', 'pulumi', 'torch', 'transformers', "
            "'numpy', 'azure.cosmos', 'azure.identity', 'azure.monitor.opentelemetry') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_catch_all_reads_the_same_routes_the_host_indexed() -> None:
    from functions.unrouted import http_bindings

    indexed = sorted((trigger["route"], trigger["methods"]) for trigger in (
        next(b for b in f["bindings"] if b["type"] == "httpTrigger") for f in functions().values()
        if any(b["type"] == "httpTrigger" for b in f["bindings"])) if trigger["route"] != "{*path}")
    assert sorted(http_bindings(function_app.app)) == indexed and len(indexed) >= 10
