"""A small HTTP/1.1 load generator for what ``hey`` cannot do: a different body per request, and the
time to the first byte and the chunk count of streamed answers.

``drive(url, headers, body_of, requests=, concurrency=)`` keeps ``concurrency`` keep-alive
connections busy until ``requests`` requests are answered; ``body_of(i)`` is the body of request
``i``. Raw asyncio streams, no client library: a request costs the load generator ~0.1 ms of CPU, so
on a 2-core machine it takes little from the server it measures. Only what the benchmarks need:
plain HTTP, ``Content-Length`` or chunked responses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.retraining.contract.metrics import percentile


@dataclass
class Sample:
    status: int
    latency_ms: float
    ttfb_ms: float  # to the first byte of the body
    events: int  # SSE ``data:`` lines in the body (0 for JSON)
    detail: str = ""  # what went wrong: the error body's start or the exception


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    duration_s: float = 0.0

    def summary(self) -> dict[str, float | int]:
        ok = [s for s in self.samples if s.status == 200 and not s.detail]
        latencies = [s.latency_ms for s in ok] or [0.0]
        ttfb = [s.ttfb_ms for s in ok] or [0.0]
        out: dict[str, float | int] = {
            "requests": len(self.samples), "errors": len(self.samples) - len(ok),
            "rps": len(self.samples) / self.duration_s if self.duration_s else 0.0,
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99), "ttfb_p50_ms": percentile(ttfb, 50),
            "ttfb_p95_ms": percentile(ttfb, 95)}
        if any(s.events for s in ok):
            out["events_p50"] = percentile([float(s.events) for s in ok], 50)
        failed = [f"{s.status}: {s.detail}" for s in self.samples if s.status != 200 or s.detail]
        if failed:
            out["failures"] = failed[:3]  # type: ignore[assignment]
        return out


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes) -> Sample:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        started = time.perf_counter()
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and value == b"chunked":
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
        ttfb = None
        events = 0
        body = b""
        if chunked:
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if ttfb is None:
                    ttfb = time.perf_counter()
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                events += data.count(b"data:")
                body = data if b'"error"' in data else body
        else:
            body = await self.reader.readexactly(length or 0)
            ttfb = time.perf_counter()
        ended = time.perf_counter()
        if close:
            self.close()
        detail = body[:200].decode("utf-8", "replace") if status != 200 or (chunked and body) else ""
        return Sample(status, (ended - started) * 1000, ((ttfb or ended) - started) * 1000, events, detail)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(url: str, headers: dict[str, str], body_of: Callable[[int], bytes], requests: int,
                 concurrency: int) -> Run:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = (f"POST {path} HTTP/1.1\r\nhost: {parts.hostname}:{parts.port}\r\ncontent-type: application/json\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "content-length: ").encode()
    run = Run()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        connection = _Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            while next_index < requests:
                index, next_index = next_index, next_index + 1
                try:
                    run.samples.append(await connection.request(head, body_of(index)))
                except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                    connection.close()
                    run.samples.append(Sample(0, 0.0, 0.0, 0, repr(exc)[:200]))
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.duration_s = time.perf_counter() - started
    return run


def drive(url: str, headers: dict[str, str], body_of: Callable[[int], bytes], *, requests: int,
          concurrency: int) -> Run:
    """``requests`` POSTs to ``url``, ``concurrency`` at a time, the body of request ``i`` being ``body_of(i)``."""
    return asyncio.run(_drive(url, headers, body_of, requests, concurrency))
