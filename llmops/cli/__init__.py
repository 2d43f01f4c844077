"""The ``llmops`` command line. Each command group lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func`` on it."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command-group modules under llmops.cli, in the order ``llmops --help`` lists them.

GROUPS: tuple[str, ...] = ("server", "access", "package", "pipeline", "costs", "loop", "guard", "prompts", "cache",
                          "sources", "trace", "dashboard")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmops", description="LLMOps platform on Azure Functions")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"llmops.cli.{group}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"llmops: error: {exc}", file=sys.stderr)
        return 1


class CliError(Exception):
    """An error the CLI reports as one line and exit status 1 (bad input, missing file, ...)."""
