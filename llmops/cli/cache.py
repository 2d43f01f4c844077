"""``llmops cache``: offline measurement of the semantic cache's decisions."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from llmops.cli import CliError
from shared.config import get_settings


def read_pairs(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read: {exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise CliError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(item, dict) or not isinstance(item.get("a"), str) or not isinstance(item.get("b"), str):
            raise CliError(f"{path}:{number}: each line needs string fields 'a' and 'b'")
        items.append(item)
    return items


def cmd_similarity(args: argparse.Namespace) -> int:
    from shared.cache.factory import build_verifier
    from shared.cache.similarity import SemanticMatcher
    from shared.embeddings.port import build_embedder

    settings = get_settings()
    items = read_pairs(Path(args.input))
    threshold = settings.cache_semantic_threshold if args.threshold is None else args.threshold
    floor = settings.cache_semantic_candidate_floor if args.floor is None else args.floor

    async def run() -> list[Any]:
        embedder = build_embedder(settings)
        verifier = None if args.no_verifier else build_verifier(settings, embedder)
        try:
            matcher = SemanticMatcher(embedder, verifier, floor=floor, threshold=threshold)
            return await matcher.compare([(item["a"], item["b"]) for item in items])
        finally:
            if verifier is not None:
                await verifier.close()
            await embedder.close()

    decisions = asyncio.run(run())
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        for item, decision in zip(items, decisions, strict=True):
            row = {
                **item,
                "similarity": round(decision.similarity, 6),
                "hit": decision.hit,
                "cosine": round(decision.cosine, 6),
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    hits = sum(d.hit for d in decisions)
    print(f"{len(decisions)} pairs, {hits} hits at threshold {threshold} (candidate floor {floor})", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cache", help="response cache tools")
    sub = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    p = sub.add_parser(
        "similarity",
        help="score question pairs as the semantic cache would",
        description="Each input line has 'a' (a cached question) and 'b' (a new one). Each output line adds "
        "'similarity' (0..1), 'hit' (would the cache answer b with a's answer) and 'cosine'.",
    )
    p.add_argument("--input", required=True, help="JSON lines with 'a' and 'b'")
    p.add_argument("--output", required=True, help="JSON lines out ('-' for stdout)")
    p.add_argument(
        "--threshold", type=float, help="verifier score a hit needs (default: LLMOPS_CACHE_SEMANTIC_THRESHOLD)"
    )
    p.add_argument(
        "--floor", type=float, help="cosine a candidate needs (default: LLMOPS_CACHE_SEMANTIC_CANDIDATE_FLOOR)"
    )
    p.add_argument("--no-verifier", action="store_true", help="cosine only (for comparison)")
    p.set_defaults(func=cmd_similarity)
