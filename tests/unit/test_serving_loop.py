"""``llmops.serving.run``: the local servers' event loop is uvloop where the host has it."""

from __future__ import annotations

import asyncio

import pytest

from llmops.serving import run


def test_run_returns_the_result_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(main()).startswith(uvloop.__name__)
