"""The local event runtime drives functions through their real bindings: change feed, queues, timers."""

from __future__ import annotations

import json

import azure.functions as func

from llmops.events import LocalEventRuntime
from shared.store.sqlite import SqliteDocumentStore


def build_app(calls: dict[str, list]) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.function_name("on_feedback")
    @app.cosmos_db_trigger(arg_name="docs", connection="COSMOS", database_name="db", container_name="feedback",
                           lease_container_name="leases")
    @app.queue_output(arg_name="out", queue_name="work", connection="AzureWebJobsStorage")
    async def on_feedback(docs: func.DocumentList, out: func.Out[str]) -> None:
        calls["feed"].append([d["id"] for d in docs])
        out.set(json.dumps({"ids": [d["id"] for d in docs]}))

    @app.function_name("worker")
    @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
    async def worker(msg: func.QueueMessage) -> None:
        body = json.loads(msg.get_body())
        calls["queue"].append((body["ids"], msg.dequeue_count))
        if "poison" in body["ids"]:
            raise RuntimeError("cannot handle this one")

    @app.function_name("tick")
    @app.timer_trigger(arg_name="timer", schedule="0 */5 * * * *")
    def tick(timer: func.TimerRequest) -> None:
        calls["timer"].append(timer.past_due)

    @app.function_name("events")
    @app.event_grid_trigger(arg_name="event")
    def events(event: func.EventGridEvent) -> None:
        calls["grid"].append((event.event_type, event.get_json()))

    return app


async def test_change_feed_queue_timer_and_event_grid(tmp_path) -> None:
    calls: dict[str, list] = {"feed": [], "queue": [], "timer": [], "grid": []}
    store = SqliteDocumentStore(tmp_path / "s.sqlite3")
    await store.open()
    runtime = LocalEventRuntime(build_app(calls).get_functions(), store, tmp_path, retry_delay_s=0.01)
    runtime.start(feeds=False, timers=False)  # the test drains the feed itself
    try:
        await store.upsert("feedback", {"id": "a", "tenant_id": "t"})
        await store.upsert("feedback", {"id": "b", "tenant_id": "t"})
        assert await runtime.drain_feed("feedback") == 2
        assert await runtime.drain_feed("feedback") == 0  # the lease moved on
        await runtime.idle()
        assert calls["feed"] == [["a", "b"]]
        assert calls["queue"] == [(["a", "b"], 1)]

        await store.upsert("feedback", {"id": "poison", "tenant_id": "t"})
        await runtime.drain_feed("feedback")
        await runtime.idle()
        attempts = [count for ids, count in calls["queue"] if ids == ["poison"]]
        assert attempts == [1, 2, 3, 4, 5]  # host.json maxDequeueCount
        poisoned = runtime.poison_messages("work")
        assert len(poisoned) == 1 and "poison" in poisoned[0]["body"] and "cannot handle" in poisoned[0]["error"]

        await runtime.fire_timer("tick")
        await runtime.publish_event("Microsoft.MachineLearningServices.ModelRegistered", "models/x", {"name": "x"})
        assert calls["timer"] == [False]
        assert calls["grid"] == [("Microsoft.MachineLearningServices.ModelRegistered", {"name": "x"})]
    finally:
        await runtime.stop()
    restarted = LocalEventRuntime(build_app(calls).get_functions(), store, tmp_path)
    assert await restarted.drain_feed("feedback") == 0  # the checkpoint survives a restart
    await store.close()
