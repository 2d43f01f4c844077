"""``llmops sources``: grounding sources an app's requests can be answered from.

    llmops sources add catalog policies/catalogs/contoso-products.json --tenant contoso
    llmops sources add support-docs docs/support/ --tenant contoso --description "FAQ and policies"
    llmops sources sync catalog --tenant contoso        # re-read its paths; only changed files are re-embedded
    llmops sources list [--tenant contoso] [--json]
    llmops sources rm catalog --tenant contoso

``add`` registers the source and syncs it at once. A file that fails to parse is reported as
``file:line: problem`` and the others are synced; the command then exits with status 3, so a CI job
notices. The store and the embedder are the ones the settings name (SQLite and the local
all-MiniLM-L6-v2 by default; ``LLMOPS_STORE=cosmos``, ``LLMOPS_EMBEDDINGS=azure`` for the deployed ones).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from llmops.cli import CliError
from shared.config import get_settings
from shared.grounding.service import GroundingService, build_grounding
from shared.grounding.sources import GroundingError
from shared.grounding.sync import SyncReport
from shared.store import build_store

EXIT_PARSE_ERRORS = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    sources = subparsers.add_parser("sources", help="grounding sources: product catalogs and documents")
    commands = sources.add_subparsers(dest="sources_command", metavar="ACTION")

    add = commands.add_parser("add", help="register a source from files or folders and sync it")
    add.add_argument("name", help="source name (lowercase letters, digits, . _ -)")
    add.add_argument("paths", nargs="+", help="files or folders (.json/.csv catalogs, .md/.html/.txt/.pdf)")
    add.add_argument("--tenant", required=True)
    add.add_argument("--description", default="")
    add.add_argument("--json", action="store_true", help="print the sync report as JSON")
    add.set_defaults(func=_add)

    sync = commands.add_parser("sync", help="re-read a source's paths; unchanged files are skipped")
    sync.add_argument("name")
    sync.add_argument("--tenant", required=True)
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(func=_sync)

    listing = commands.add_parser("list", help="sources with their files, chunks and problems")
    listing.add_argument("--tenant")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    remove = commands.add_parser("rm", help="delete a source and all its chunks")
    remove.add_argument("name")
    remove.add_argument("--tenant", required=True)
    remove.set_defaults(func=_rm)
    sources.set_defaults(func=lambda args: sources.print_help() or 2)


def _with_grounding(action: Any) -> Any:
    async def main() -> Any:
        settings = get_settings()
        store = build_store(settings)
        await store.open()
        grounding = build_grounding(settings, store)
        try:
            return await action(grounding)
        except GroundingError as exc:
            raise CliError(exc.message) from None
        finally:
            await grounding.close()
            await grounding.embedder.close()
            await store.close()

    return asyncio.run(main())


def render_report(report: SyncReport) -> str:
    lines = []
    for f in report.files:
        if f.status == "failed":
            lines.append(f"  failed     {f.error} (kept {f.chunks} chunks from the last good version)")
        elif f.status == "unchanged":
            lines.append(f"  unchanged  {f.path} ({f.chunks} chunks)")
        elif f.status == "removed":
            lines.append(f"  removed    {f.path} ({f.deleted} chunks deleted)")
        else:
            lines.append(f"  {f.status:<10} {f.path}: {f.chunks} chunks, {f.embedded} embedded, {f.deleted} deleted")
    failed = len(report.failed)
    summary = f"{report.source}: revision {report.revision}, {len(report.files)} files"
    return "\n".join([summary + (f", {failed} failed" if failed else ""), *lines])


def _finish(report: SyncReport, as_json: bool) -> int:
    print(json.dumps(report.to_dict(), indent=2) if as_json else render_report(report))
    return EXIT_PARSE_ERRORS if report.failed else 0


def _add(args: argparse.Namespace) -> int:
    async def action(grounding: GroundingService) -> SyncReport:
        origins = [str(Path(p).resolve()) for p in args.paths]
        await grounding.add(args.tenant, args.name, description=args.description, origins=origins)
        try:
            return await grounding.sync_origins(args.tenant, args.name)
        except GroundingError:
            await grounding.registry.delete(args.tenant, args.name)  # nothing was synced: do not leave it half-made
            raise

    return _finish(_synced(action, f"adding and syncing {args.name}"), args.json)


def _sync(args: argparse.Namespace) -> int:
    async def action(grounding: GroundingService) -> SyncReport:
        return await grounding.sync_origins(args.tenant, args.name)

    return _finish(_synced(action, f"syncing {args.name}"), args.json)


def _synced(action: Any, description: str) -> SyncReport:
    from llmops.cli._progress import working

    with working(f"{description} (parsing, chunking, embedding)"):
        report: SyncReport = _with_grounding(action)
    return report


def _list(args: argparse.Namespace) -> int:
    async def action(grounding: GroundingService) -> list[dict[str, Any]]:
        return [r.summary() for r in await grounding.sources(args.tenant)]

    rows = _with_grounding(action)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no grounding sources" + (f" in tenant {args.tenant}" if args.tenant else ""))
        return 0
    for row in rows:
        updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["updated_at"]))
        print(f"{row['tenant']}/{row['name']}: {row['files']} files, {row['chunks']} chunks, revision "
              f"{row['revision']}, updated {updated}" + (f" - {row['description']}" if row["description"] else ""))
        for problem in row["errors"].values():
            print(f"  problem: {problem}")
    return 0


def _rm(args: argparse.Namespace) -> int:
    async def action(grounding: GroundingService) -> int:
        return await grounding.remove(args.tenant, args.name)

    deleted = _with_grounding(action)
    print(f"removed {args.tenant}/{args.name} ({deleted} chunks deleted)")
    return 0
