"""``llmops package``: build the Function App deployment zip (``.funcignore`` applied, reproducible)."""

from __future__ import annotations

import argparse
from pathlib import Path

from llmops.cli import CliError
from llmops.packaging import DEFAULT_OUTPUT, PackagingError, build_package


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "package",
        help="build the Function App deployment zip",
        description="Zip the Function App (.funcignore applied, requirements.txt generated from "
        "pyproject.toml). The same tree always gives a byte-identical zip.",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"zip to write (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="repository root (default: current folder)"
    )
    parser.add_argument("--list", action="store_true", help="print every file that went into the zip")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = args.output if args.output.is_absolute() else args.root / args.output
    try:
        result = build_package(args.root, output)
    except PackagingError as exc:
        raise CliError(str(exc)) from exc
    if args.list:
        for name in result.files:
            print(name)
    print(f"{result.path}  {len(result.files)} files, {result.size_bytes} bytes, sha256 {result.sha256}")
    return 0
