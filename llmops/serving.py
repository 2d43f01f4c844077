"""Running ASGI apps with uvicorn from the CLI, several in one process, stopped together by Ctrl-C.

``run(main())`` runs the servers on uvloop where the host has it (``uvicorn[standard]``), else on
asyncio's own loop; the HTTP parser is httptools. uvicorn's ``loop="uvloop"`` only applies when uvicorn
owns the loop (``uvicorn.run``); servers started inside ``asyncio.run`` would get the default loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import uvicorn

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:  # a host without it (e.g. Windows): the default loop
        return asyncio.run(main)
    return uvloop.run(main)


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner (so one Ctrl-C stops every server)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def make_server(app, host: str, port: int, *, log_level: str = "warning") -> QuietServer:
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            loop="uvloop", http="httptools", lifespan="off", timeout_graceful_shutdown=5)
    return QuietServer(config)


def stop_on_signals(*servers: uvicorn.Server) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


async def wait_started(server: uvicorn.Server, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not server.started:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.02)
