"""The ``llmops`` command line. Each command group lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func`` on it.

A user's mistake (bad input, a missing file, an unknown name, a package group that is not installed) is
one line on stderr and exit status 2; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

# Command-group modules under llmops.cli, in the order ``llmops --help`` lists them.

GROUPS: tuple[str, ...] = ("server", "access", "package", "pipeline", "costs", "loop", "guard", "prompts", "cache",
                          "sources", "trace", "dashboard", "completion")

USER_ERROR = 2


class CliError(Exception):
    """An error the CLI reports as one line and exit status 2 (bad input, missing file, ...)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmops", description="LLMOps platform on Azure Functions")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"llmops.cli.{group}").register(subparsers)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the user asked for something wrong (never a bug of the platform)."""
    from pydantic import ValidationError

    from shared.extras import MissingExtra
    from shared.policies import PolicyError
    from shared.prompts.registry import PromptRegistryError
    from shared.tenants import TenantError

    return (CliError, MissingExtra, TenantError, PolicyError, PromptRegistryError, ValidationError,
            FileNotFoundError, NotADirectoryError, PermissionError)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return USER_ERROR
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except _user_errors() as exc:
        if args.debug:
            traceback.print_exc()
        print(f"llmops: error: {_one_line(exc)}", file=sys.stderr)
        return USER_ERROR
    except Exception as exc:
        if args.debug:
            raise
        print(f"llmops: unexpected error ({type(exc).__name__}): {_one_line(exc)} (--debug shows the traceback)",
              file=sys.stderr)
        return 1


def entry() -> int:
    """The ``llmops`` console script: the checkout's settings (data dir, the local stack's deployments), then main."""
    from llmops.localenv import apply_cli_environment

    argv = sys.argv[1:]
    apply_cli_environment(argv)
    return main(argv)
