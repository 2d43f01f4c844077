from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from shared.auth import Authenticator, KeyService
from shared.config import Settings
from shared.deployments import Deployment, DeploymentRegistry
from shared.gateway import Gateway, JsonReply, Reply, StreamReply
from shared.limits import UsageLimits
from shared.observability.telemetry import Telemetry
from shared.routing import BreakerBoard, FailoverCaller, RetryPolicy, Router
from shared.store.sqlite import SqliteDocumentStore
from shared.tenants import TenantDirectory
from tests.unit.gateway.fakes import RecordingLog, ScriptedBackend

DEPLOYMENTS = [
    Deployment(alias="small", endpoint="http://east.test", deployment="small", model="m-1", tier="small",
               input_per_1m=1.0, output_per_1m=2.0),
    Deployment(alias="small-west", endpoint="http://west.test", deployment="small", model="m-1", tier="small",
               priority=1, input_per_1m=1.0, output_per_1m=2.0),
    Deployment(alias="big", endpoint="http://east.test", deployment="big", model="m-2", tier="frontier",
               input_per_1m=10.0, output_per_1m=20.0),
]


async def no_sleep(_: float) -> None:
    return None


def reader(body: Any) -> Callable[[int], Awaitable[bytes]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)

    async def read(limit: int) -> bytes:
        if len(raw) > limit:
            from shared.api.errors import ApiError

            raise ApiError.too_large(limit)
        return raw

    return read


@dataclass
class Harness:
    store: SqliteDocumentStore
    tenants: TenantDirectory
    keys: KeyService
    key: str
    backend: ScriptedBackend
    log: RecordingLog

    def gateway(self, **features: Any) -> Gateway:
        registry = DeploymentRegistry(DEPLOYMENTS, "small")
        failover = FailoverCaller(RetryPolicy(backoff_base_s=0), BreakerBoard(3, 30), rng=random.Random(1),
                                  sleep=no_sleep)
        return Gateway(settings=Settings(max_body_bytes=4096), auth=Authenticator(self.keys, self.tenants),
                       deployments=registry, backends=self.backend, request_log=self.log, telemetry=Telemetry(),
                       failover=failover, router=Router(registry, rng=random.Random(1)), **features)

    def limits(self) -> UsageLimits:
        return UsageLimits(self.store, default_output_tokens=100)

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}

    async def chat(self, gateway: Gateway, body: Any, headers: dict[str, str] | None = None,
                   model: str | None = None) -> Reply:
        return await gateway.chat(reader(body), headers if headers is not None else self.headers, model=model)

    @property
    def record(self) -> dict[str, Any]:
        assert len(self.log.records) == 1, f"expected exactly one record, got {len(self.log.records)}"
        return self.log.records[0]


def body_of(reply: Reply) -> dict[str, Any]:
    assert isinstance(reply, JsonReply)
    return orjson.loads(reply.body)


async def events_of(reply: Reply) -> list[bytes]:
    assert isinstance(reply, StreamReply)
    return [event async for event in reply.events]


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[Harness]:
    store = SqliteDocumentStore(tmp_path / "gateway.sqlite3")
    await store.open()
    tenants = TenantDirectory(store)
    keys = KeyService(store, tenants)
    await tenants.ensure_app("contoso", "mobile")
    key = (await keys.create_key("contoso", "mobile")).key
    yield Harness(store, tenants, keys, key, ScriptedBackend(), RecordingLog())
    await store.close()
