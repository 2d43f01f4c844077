"""``llmops dev`` (the whole platform locally) and ``llmops simulator`` (the Azure OpenAI simulator)."""

from __future__ import annotations

import argparse
import errno
import socket
from pathlib import Path

from llmops.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    dev = subparsers.add_parser("dev", help="run the platform locally: gateway on :7071 plus the simulator")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=7071)
    dev.add_argument("--simulator-port", type=int, default=7072)
    dev.add_argument("--data-dir", type=Path, default=None,
                     help="SQLite, telemetry, the demo key (default: LLMOPS_DATA_DIR, else the checkout's .llmops/)")
    dev.add_argument("--latency", choices=("realistic", "zero"), default="realistic",
                     help="simulated model latency (default: realistic, ~19 ms per output token)")
    dev.set_defaults(func=_dev)

    serve = subparsers.add_parser("serve", help="serve the gateway alone, configured from LLMOPS_* variables")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.set_defaults(func=_serve)

    sim = subparsers.add_parser("simulator", help="run the Azure OpenAI simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=7072)
    sim.add_argument("--deployments", default="gpt-4o-mini,gpt-4o-mini-west,gpt-4o,gpt-5-mini,text-embedding-3-small",
                     help="comma-separated deployment names")
    sim.add_argument("--latency", choices=("realistic", "zero"), default="realistic")
    sim.add_argument("--tpm", type=int, default=None, help="tokens per minute per deployment (default: no limit)")
    sim.add_argument("--rpm", type=int, default=None, help="requests per minute per deployment (default: no limit)")
    sim.add_argument("--api-key", default=None, help="require this key (default: any non-empty key)")
    sim.add_argument("--seed", type=int, default=None, help="seed for fault injection")
    sim.add_argument("--answer-tokens", type=int, nargs=2, default=(20, 120), metavar=("MIN", "MAX"),
                     help="length range of a generated answer in tokens, before max_tokens (default: 20 120)")
    sim.set_defaults(func=_simulator)


    key = subparsers.add_parser("dev-key", help="print the demo key of `llmops dev` (contoso/mobile)")
    key.set_defaults(func=_dev_key)


def check_ports_free(host: str, *ports: int) -> None:
    """One clear line (exit 2) instead of a server's traceback when a port is taken, e.g. by another `make run`."""
    for port in ports:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
                raise CliError(f"port {port} on {host} is already in use (another `make run` or `llmops dev`?): "
                               f"stop it, or pick other ports with --port / --simulator-port") from None


def _data_dir(args: argparse.Namespace) -> Path:
    from llmops.localenv import default_data_dir

    return (args.data_dir or default_data_dir()).resolve()


def _dev(args: argparse.Namespace) -> int:
    check_ports_free(args.host, args.port)
    check_ports_free("127.0.0.1", args.simulator_port)
    from llmops import devhost
    from llmops.serving import run

    run(devhost.run(args.host, args.port, args.simulator_port, _data_dir(args), args.latency))
    return 0


def _dev_key(args: argparse.Namespace) -> int:
    from llmops.localenv import default_data_dir

    path = default_data_dir().resolve() / "dev-api-key"
    if not path.is_file():
        raise CliError(f"no demo key in {path}: start the local stack first with `make run` (or `llmops dev`)")
    print(path.read_text().strip())
    return 0


def _serve(args: argparse.Namespace) -> int:
    check_ports_free(args.host, args.port)
    from llmops import devhost
    from llmops.serving import run

    run(devhost.serve_gateway(args.host, args.port))
    return 0


def _simulator(args: argparse.Namespace) -> int:
    check_ports_free(args.host, args.port)
    from llmops.serving import make_server, run, stop_on_signals
    from llmops.simulator import build_simulator

    names = [n.strip() for n in args.deployments.split(",") if n.strip()]
    app = build_simulator(names, latency=args.latency, tokens_per_minute=args.tpm, requests_per_minute=args.rpm,
                          api_key=args.api_key, seed=args.seed,
                          answer_tokens=tuple(args.answer_tokens))

    async def serve() -> None:
        server = make_server(app, args.host, args.port)
        stop_on_signals(server)
        print(f"Azure OpenAI simulator on http://{args.host}:{args.port} (deployments: {', '.join(names)}; "
              f"latency: {args.latency}); control at /control/state", flush=True)
        await server.serve()

    run(serve())
    return 0
