"""Why 2: a large prompt full of PII must not freeze the instance for the other tenants.

The PII check grew faster than linearly (1 MB: 44.8 s) and ran on the event loop, so every other
request waited for it. Now it is linear and a long text is scanned in a worker thread: small
requests of another tenant keep their latency while the big one is checked.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time

import httpx2
import orjson
import pytest

from tests.support.services import free_port
from tests.support.workers import provision, serve, simulator, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORDS = ("call me at 555-123-4567 or mail ann@example.com my name is John Smith, 12 Baker Street, order "
         "123456789 from 10.0.0.1, card 4111 1111 1111 1111, and text me").split()
SMALL = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is the refund policy?"}]}


def big_prompt(size: int) -> str:
    rng = random.Random(5)
    return " ".join(rng.choice(WORDS) for _ in range(size // 5))[:size]


def small_latencies(url: str, key: str, n: int) -> list[float]:
    out = []
    with httpx2.Client(timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            response = client.post(url, content=orjson.dumps(SMALL), headers={"authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            out.append(time.perf_counter() - started)
    return out


def test_a_large_pii_prompt_does_not_stall_other_tenants(tmp_path) -> None:
    """An ``llmops serve`` worker of its own (the simulator in another process): its event loop is the
    gateway's alone, as in production."""
    port, db = free_port(), tmp_path / "llmops.sqlite3"
    big_key, other = asyncio.run(provision(db, "contoso")), asyncio.run(provision(db, "fabrikam"))
    with simulator() as sim_port, serve(port, worker_env(tmp_path, sim_port)):
        url = f"http://127.0.0.1:{port}/api/v1/chat/completions"
        small_latencies(url, other, 3)  # warm
        baseline = statistics.median(small_latencies(url, other, 10))
        body = orjson.dumps({"model": "gpt-4o-mini", "max_tokens": 16,
                             "messages": [{"role": "user", "content": big_prompt(900_000)}]})
        result: dict = {}

        def send_big() -> None:
            started = time.perf_counter()
            result["status"] = httpx2.post(url, content=body, headers={"authorization": f"Bearer {big_key}"},
                                           timeout=120).status_code
            result["seconds"] = time.perf_counter() - started

        big = threading.Thread(target=send_big)
        big.start()
        time.sleep(0.05)
        during: list[float] = []
        while big.is_alive() and len(during) < 200:
            during.extend(small_latencies(url, other, 1))
        big.join(120)
    assert result["status"] in (200, 400, 413, 422), result  # answered, whatever the verdict
    assert during, "the big request finished before any small one was sent"
    print(f"big {result['seconds']:.2f}s; small baseline {baseline * 1000:.0f} ms, during: median "
          f"{statistics.median(during) * 1000:.0f} ms, max {max(during) * 1000:.0f} ms over {len(during)}")
    assert max(during) < 1.0  # before: every small request waited out the whole scan (tens of seconds)
