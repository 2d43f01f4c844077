"""The local event runtime: drives the app's non-HTTP functions through their registered bindings.

Azure runs these triggers for us (Cosmos DB change feed, Storage queues, timers, Event Grid). Locally,
``llmops dev`` runs this runtime instead, which calls the very same function objects with the same
binding types:
- change feed: polls the SQLite store's change sequence for each container a ``cosmosDBTrigger``
  watches and calls the function with a ``func.DocumentList`` (checkpoint kept in memory and in
  ``<data_dir>/leases.json``, so a restart resumes where it stopped — at-least-once, like the real feed);
- queues: ``queueTrigger`` functions receive ``func.QueueMessage``s; a message that keeps failing is
  retried ``maxDequeueCount`` times (host.json) and then appended to ``<data_dir>/queues/<queue>-poison.jsonl``;
- queue output bindings: each ``func.Out`` argument is a collector whose messages are enqueued after
  the function returns;
- timers: ``timerTrigger`` functions run every ``timer_interval_s`` seconds (and on demand, ``fire_timer``);
- Event Grid: ``publish_event`` calls ``eventGridTrigger`` functions with a ``func.EventGridEvent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
import azure.functions.queue as queue_binding

log = logging.getLogger(__name__)


def log_failure(what: str, exc: BaseException, then: str, *, trace: bool = True) -> None:
    """An expected retry (an exception with ``expected_retry = True``, e.g. feedback whose request record is
    not written yet) is one line; anything else a warning with its traceback when ``trace``."""
    if getattr(exc, "expected_retry", False):
        log.warning("%s: %s (expected; %s)", what, exc, then)
    elif trace:
        log.warning("%s failed; %s", what, then, exc_info=exc)
    else:
        log.warning("%s failed (%s); %s", what, exc, then)
REPO_HOST_JSON = Path(__file__).resolve().parents[1] / "host.json"


def max_dequeue_count(host_json: Path = REPO_HOST_JSON) -> int:
    try:
        return int(json.loads(host_json.read_text())["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, KeyError, ValueError):
        return 5


class OutCollector(func.Out):
    """What a ``func.Out[str]`` argument receives locally."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def set(self, val: Any) -> None:
        self.values.append(val)

    def get(self) -> Any:
        return self.values[-1] if self.values else None


class LocalTimer(func.TimerRequest):
    def __init__(self, past_due: bool = False) -> None:
        self._past_due = past_due

    @property
    def past_due(self) -> bool:
        return self._past_due


@dataclass
class IndexedFunction:
    name: str
    function: Any
    trigger: dict[str, Any]
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # arg name -> output binding


def index(functions: list) -> list[IndexedFunction]:
    indexed = []
    for function in functions:
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next((b for b in bindings if b.get("direction") == "IN" and b["type"].endswith("Trigger")), None)
        if trigger is None or trigger["type"] == "httpTrigger":
            continue
        outputs = {b["name"]: b for b in bindings if b.get("direction") == "OUT" and b["type"] != "http"}
        indexed.append(IndexedFunction(function.get_function_name(), function.get_user_function(), trigger, outputs))
    return indexed


class LocalEventRuntime:
    def __init__(self, functions: list, store: Any, data_dir: Path, *, poll_interval_s: float = 0.5,
                 timer_interval_s: float = 300.0, retry_delay_s: float = 0.5) -> None:
        self.functions = index(functions)
        self.store = store
        self.data_dir = Path(data_dir)
        self.poll_interval_s = poll_interval_s
        self.timer_interval_s = timer_interval_s
        self.retry_delay_s = retry_delay_s
        self.max_dequeue = max_dequeue_count()
        self._queue: asyncio.Queue[tuple[str, str, int]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._leases_path = self.data_dir / "leases.json"
        self._leases: dict[str, int] = self._load_leases()
        self.processed: dict[str, int] = defaultdict(int)
        self._feed_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, *, feeds: bool = True, timers: bool = True) -> None:
        """Run the queue dispatcher, and optionally follow the change feeds and tick the timers."""
        watched = {f.trigger.get("containerName") for f in self._by_type("cosmosDBTrigger")}
        for container in sorted(c for c in watched if c and feeds):
            self._tasks.append(asyncio.create_task(self._follow(container), name=f"feed-{container}"))
        self._tasks.append(asyncio.create_task(self._dispatch(), name="local-queues"))
        for timer in self._by_type("timerTrigger") if timers else ():
            self._tasks.append(asyncio.create_task(self._tick(timer), name=f"timer-{timer.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._save_leases()

    def _by_type(self, trigger_type: str) -> list[IndexedFunction]:
        return [f for f in self.functions if f.trigger["type"] == trigger_type]

    # -- leases ---------------------------------------------------------------------------
    def _load_leases(self) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in json.loads(self._leases_path.read_text()).items()}
        except (OSError, ValueError):
            return {}

    def _save_leases(self) -> None:
        self._leases_path.parent.mkdir(parents=True, exist_ok=True)
        self._leases_path.write_text(json.dumps(self._leases))

    # -- calling functions ------------------------------------------------------------------
    async def _invoke(self, target: IndexedFunction, trigger_value: Any) -> None:
        outputs = {name: OutCollector() for name in target.outputs}
        kwargs = {target.trigger["name"]: trigger_value, **outputs}
        result = target.function(**kwargs)
        if inspect.isawaitable(result):
            await result
        for name, collector in outputs.items():
            binding = target.outputs[name]
            if binding["type"] == "queue":
                for value in collector.values:
                    for message in value if isinstance(value, list) else [value]:
                        self.enqueue(binding["queueName"], message if isinstance(message, str) else json.dumps(message))
        self.processed[target.name] += 1

    # -- change feed ------------------------------------------------------------------------
    async def _follow(self, container: str) -> None:
        while True:
            try:
                await self.drain_feed(container)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_failure(f"local change feed for {container}", exc, "retrying")
            await asyncio.sleep(self.poll_interval_s)

    async def drain_feed(self, container: str) -> int:
        """Deliver every change of ``container`` not delivered yet; returns how many documents."""
        delivered = 0
        targets = [f for f in self._by_type("cosmosDBTrigger") if f.trigger.get("containerName") == container]
        async with self._feed_locks[container]:
            return delivered + await self._drain_locked(container, targets)

    async def _drain_locked(self, container: str, targets: list[IndexedFunction]) -> int:
        delivered = 0
        while True:
            docs, last = await self.store.changes(container, self._leases.get(container, 0), 100)
            if not docs:
                return delivered
            batch = func.DocumentList([func.Document.from_dict(d) for d in docs])
            for target in targets:
                await self._invoke(target, batch)  # a failure leaves the lease: the batch is redelivered
            self._leases[container] = last
            self._save_leases()
            delivered += len(docs)

    # -- queues -----------------------------------------------------------------------------
    def enqueue(self, queue: str, body: str) -> None:
        self._queue.put_nowait((queue, body, 1))

    async def _dispatch(self) -> None:
        while True:
            queue, body, attempt = await self._queue.get()
            try:
                await self._deliver(queue, body, attempt)
            except Exception:  # never let one message stop the dispatcher
                log.exception("queue %s: delivery failed", queue)
            finally:
                self._queue.task_done()

    async def _deliver(self, queue: str, body: str, attempt: int) -> None:
        targets = [f for f in self._by_type("queueTrigger") if f.trigger.get("queueName") == queue]
        try:
            # the worker's message type (with dequeue_count), as the Functions host delivers it
            message = queue_binding.QueueMessage(id=str(uuid.uuid4()), body=body.encode(), dequeue_count=attempt,
                                                 insertion_time=dt.datetime.now(dt.UTC))
            for target in targets:
                await self._invoke(target, message)
        except Exception as exc:
            if attempt >= self.max_dequeue:
                self._poison(queue, body, exc)
            else:
                log_failure(f"queue {queue}: attempt {attempt}", exc, "retrying", trace=False)
                await asyncio.sleep(self.retry_delay_s)
                self._queue.put_nowait((queue, body, attempt + 1))

    def _poison(self, queue: str, body: str, error: Exception) -> None:
        path = self.data_dir / "queues" / f"{queue}-poison.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"body": body, "error": str(error)[:500],
                                     "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}) + "\n")
        log.error("queue %s: message moved to %s after %d attempts: %s", queue, path, self.max_dequeue, error)

    def poison_messages(self, queue: str) -> list[dict[str, Any]]:
        path = self.data_dir / "queues" / f"{queue}-poison.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    async def idle(self) -> None:
        """Wait until every queued message has been handled (tests and the CLI use it)."""
        await self._queue.join()

    # -- timers and Event Grid --------------------------------------------------------------
    async def _tick(self, timer: IndexedFunction) -> None:
        while True:
            await asyncio.sleep(self.timer_interval_s)
            try:
                await self._invoke(timer, LocalTimer())
            except Exception as exc:
                log_failure(f"timer {timer.name}", exc, "it runs again on its next tick")

    async def fire_timer(self, name: str) -> None:
        timer = next(f for f in self._by_type("timerTrigger") if f.name == name)
        await self._invoke(timer, LocalTimer())

    async def publish_event(self, event_type: str, subject: str, data: dict[str, Any], topic: str = "local") -> None:
        event = func.EventGridEvent(id=str(uuid.uuid4()), data=data, topic=topic, subject=subject,
                                    event_type=event_type, event_time=dt.datetime.now(dt.UTC), data_version="1")
        for target in self._by_type("eventGridTrigger"):
            await self._invoke(target, event)
