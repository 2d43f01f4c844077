"""Fixtures of the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.store import DocumentStore
from shared.store.cosmos import CosmosDocumentStore
from shared.store.sqlite import SqliteDocumentStore
from tests.support.services import COSMOS_EMULATOR_KEY


@pytest.fixture(params=["sqlite", "cosmos"])
async def store(request, tmp_path) -> AsyncIterator[DocumentStore]:
    if request.param == "sqlite":
        adapter: DocumentStore = SqliteDocumentStore(tmp_path / "store.sqlite3")
    else:
        endpoint = request.getfixturevalue("cosmos_endpoint")
        adapter = CosmosDocumentStore(
            endpoint,
            f"db{uuid.uuid4().hex[:8]}",
            key=COSMOS_EMULATOR_KEY,
            verify_tls=False,
            create_containers=True,
        )
    await adapter.open()
    try:
        yield adapter
    finally:
        await adapter.close()
