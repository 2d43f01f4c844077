"""``llmops cache``: offline measurement of the semantic cache's decisions, and per-app threshold calibration."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from llmops.cli import CliError
from shared.config import get_settings


def read_lines(path: Path, valid: Any, requirement: str) -> list[dict[str, Any]]:
    """JSON objects, one a line (blank lines skipped); ``valid(row)`` says whether a row has its fields."""
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
        if not isinstance(item, dict) or not valid(item):
            raise CliError(f"{path}:{number}: {requirement}")
        items.append(item)
    return items


def read_pairs(path: Path) -> list[dict[str, Any]]:
    return read_lines(path, lambda item: isinstance(item.get("a"), str) and isinstance(item.get("b"), str),
                      "each line needs string fields 'a' and 'b'")


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


def _labels(items: list[dict[str, Any]], path: Path) -> list[int]:
    labels = []
    for number, item in enumerate(items, 1):
        value = item.get("label", item.get("good"))
        if value not in (0, 1, True, False):
            raise CliError(f"{path}: pair {number}: needs 'label' (0/1) or 'good' (true/false)")
        labels.append(int(value))
    return labels


def _read_feedback(path: Path) -> list[dict[str, Any]]:
    return read_lines(path, lambda row: isinstance(row.get("similarity"), int | float),
                      "each line needs a number 'similarity' (the hit's recorded score)")


def calibration_table(similarities: list[float], labels: list[int], *, min_hits: int) -> list[dict[str, Any]]:
    """Precision and recall of serving a hit at each threshold 0.30 .. 1.00 (step 0.01)."""
    positives = sum(labels)
    table = []
    for step in range(30, 101):
        threshold = step / 100
        hits = [y for s, y in zip(similarities, labels, strict=True) if s >= threshold]
        precision = sum(hits) / len(hits) if hits else None
        table.append({"threshold": threshold, "hits": len(hits), "precision": precision,
                      "recall": sum(hits) / positives if positives else None, "enough": len(hits) >= min_hits})
    return table


def pick_threshold(table: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The lowest threshold (most hits) whose precision reaches ``target`` on enough hits, and stays at
    or above it for every higher threshold with enough hits (no lucky dip)."""
    eligible = [row for row in table if row["enough"] and row["precision"] is not None]
    for index, row in enumerate(eligible):
        if all(later["precision"] >= target for later in eligible[index:]):
            return row
    return None


def cmd_calibrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    floor = settings.cache_semantic_candidate_floor if args.floor is None else args.floor
    if args.pairs:
        path = Path(args.pairs)
        items = read_pairs(path)
        labels = _labels(items, path)
        from shared.cache.factory import build_verifier
        from shared.cache.similarity import SemanticMatcher
        from shared.embeddings.port import build_embedder

        async def run() -> list[Any]:
            embedder = build_embedder(settings)
            verifier = build_verifier(settings, embedder)
            try:
                matcher = SemanticMatcher(embedder, verifier, floor=floor, threshold=1.0)
                return await matcher.compare([(item["a"], item["b"]) for item in items])
            finally:
                await verifier.close()
                await embedder.close()

        decisions = asyncio.run(run())
        # a pair below the candidate floor is never a hit, whatever its score
        similarities = [d.similarity if d.cosine >= floor else -1.0 for d in decisions]
        source = f"{len(items)} labelled pairs"
    else:
        path = Path(args.feedback)
        rows = _read_feedback(path)
        labels = _labels(rows, path)
        similarities = [float(row["similarity"]) for row in rows]
        source = f"{len(rows)} rated cache hits (measurable: thresholds at or above the one they were served at)"
    if not labels:
        raise CliError(f"{path}: no rows")
    table = calibration_table(similarities, labels, min_hits=args.min_hits)
    chosen = pick_threshold(table, args.target_precision)
    result: dict[str, Any] = {"source": source, "target_precision": args.target_precision, "floor": floor,
                              "min_hits": args.min_hits, "chosen": chosen}
    if args.table:
        result["table"] = table
    print(json.dumps(result, indent=1))
    if chosen is None:
        print(f"no threshold reaches precision {args.target_precision} on {args.min_hits}+ hits: keep the semantic "
              "tier off for this app (cache policy {\"semantic\": false}) or collect more pairs", file=sys.stderr)
        return 0
    policy = json.dumps({"semantic_threshold": chosen["threshold"]})
    print(f"threshold {chosen['threshold']}: precision {chosen['precision']:.3f}, recall {chosen['recall']:.3f} "
          f"({chosen['hits']} hits); apply: llmops tenants set-policy TENANT cache '{policy}' --app APP",
          file=sys.stderr)
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
    c = sub.add_parser(
        "calibrate",
        help="pick an app's semantic threshold for a precision target",
        description="From the app's own labelled question pairs (a, b, label 1 = same question), scored as the "
        "cache scores them, or from feedback on cached answers (similarity as recorded in the request log's "
        "cache_hit, good true/false): the lowest threshold whose hits reach the target precision.",
    )
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("--pairs", help="JSON lines with 'a', 'b' and 'label' (or 'good')")
    source.add_argument("--feedback", help="JSON lines with 'similarity' and 'good' (or 'label')")
    c.add_argument("--target-precision", type=float, default=0.97)
    c.add_argument("--min-hits", type=int, default=20, help="hits a threshold needs to count (default 20)")
    c.add_argument("--floor", type=float, help="cosine a candidate needs (default: the settings')")
    c.add_argument("--table", action="store_true", help="also print precision / recall at every threshold")
    c.set_defaults(func=cmd_calibrate)
