"""Start the local stand-ins for Azure services from the repo's own files (tests/services)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"
COSMOS_EMULATOR_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"service exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def stop(proc: subprocess.Popen, timeout_s: float) -> None:
    """Terminate a service process (kill it if it does not stop in time) and close its pipes."""
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@contextmanager
def running_process(command: list[str], port: int, *, env: dict[str, str] | None = None, cwd: Path | None = None,
                    timeout_s: float = 60.0) -> Iterator[subprocess.Popen]:
    """A server process started from the repo, yielded once it listens on ``port``; stopped on exit."""
    proc = subprocess.Popen(command, cwd=cwd or SERVICES_DIR.parents[1], env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout_s, proc)
        yield proc
    finally:
        stop(proc, 15)


def _require_node_modules() -> None:
    if shutil.which("node") is None:
        raise RuntimeError("node is not installed: the integration tests need Node.js 20")
    if not (SERVICES_DIR / "node_modules" / "@vercel" / "cosmosdb-server").is_dir():
        raise RuntimeError("test services are not installed: run `make services` (npm ci in tests/services)")


@contextmanager
def cosmos_server() -> Iterator[str]:
    """The Cosmos DB API server (@vercel/cosmosdb-server) on a free port; yields its endpoint."""
    _require_node_modules()
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(SERVICES_DIR / "cosmos_server.js"), str(port)],
        cwd=SERVICES_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NODE_TLS_REJECT_UNAUTHORIZED": "0"},
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"https://127.0.0.1:{port}"
    finally:
        stop(proc, 5)


AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@contextmanager
def azurite_blob(workdir: Path) -> Iterator[str]:
    """Azurite's blob service on a free port (data in ``workdir``); yields its connection string."""
    _require_node_modules()
    port = free_port()
    command = ["node", str(SERVICES_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"),
               "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(workdir), "--silent",
               "--skipApiVersionCheck", "--disableTelemetry", "--loose"]
    with running_process(command, port, cwd=SERVICES_DIR):
        yield (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
               f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")
