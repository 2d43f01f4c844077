"""``llmops guard``: run a guardrail check over a JSON-lines file, offline, and validate policies.

    llmops guard scan --check pii --input texts.jsonl --output scored.jsonl
    llmops guard scan --check groundedness --input qa.jsonl --output scored.jsonl
    llmops guard policies [--dir policies/guardrails]

Input lines carry ``text`` (groundedness: ``context`` and ``answer``, optionally ``question``).
Each output line is the input line plus ``score`` (0..1, higher = more likely a violation) and
``flagged`` (the default policy's decision: its threshold for that check, or 0.5 where the default
policy does not run the check); ``pii`` adds ``spans`` ([{"type", "start", "end"}], Presidio's type names).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from llmops.cli import CliError

SCAN_CHECKS = ("pii", "injection", "toxicity", "groundedness")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("guard", help="guardrails: scan files offline, validate policies")
    commands = parser.add_subparsers(dest="guard_command", metavar="COMMAND")
    scan = commands.add_parser("scan", help="score each line of a JSON-lines file with one check")
    scan.add_argument("--check", required=True, choices=SCAN_CHECKS)
    scan.add_argument(
        "--input", required=True, type=Path, help="JSON lines with 'text' (groundedness: context, answer)"
    )
    scan.add_argument("--output", required=True, type=Path, help="JSON lines: input + score, flagged (+ spans)")
    scan.add_argument("--policy-dir", type=Path, default=None, help="policy directory (default: the settings')")
    scan.set_defaults(func=_scan)
    policies = commands.add_parser("policies", help="load and validate every policy, list their checks")
    policies.add_argument("--dir", type=Path, default=None)
    policies.set_defaults(func=_policies)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _policy_set(directory: Path | None):
    from shared.config import get_settings
    from shared.guardrails.policy import PolicyError, PolicySet

    settings = get_settings()
    try:
        return PolicySet.load(
            directory or settings.resolved_guardrails_policy_dir, default=settings.guardrails_default_policy
        )
    except PolicyError as exc:
        raise CliError(str(exc)) from exc


def _policies(args: argparse.Namespace) -> int:
    policy_set = _policy_set(args.dir)
    for name, policy in sorted(policy_set.policies.items()):
        marker = " (default)" if name == policy_set.default else ""
        print(f"{name}{marker}: {policy.description}")
        for stage, rules in (("input", policy.input_rules), ("output", policy.output_rules)):
            for bound in rules:
                print(f"  {stage:6} {bound.name:15} {bound.rule.action!s:7} threshold {bound.rule.threshold}")
    for key, name in sorted(policy_set.bindings.items()):
        print(f"binding {key} -> {name}")
    return 0


def _threshold(check: str, directory: Path | None) -> float:
    policy = _policy_set(directory)
    default = policy.policies[policy.default]
    for bound in default.input_rules + default.output_rules:
        if bound.name == check:
            return bound.rule.threshold
    return 0.5


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise CliError(f"input file {path} not found")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise CliError(f"{path}:{number}: each line must be a JSON object")
            rows.append(row)
    return rows


def _require(row: dict[str, Any], field: str, path: Path, number: int) -> str:
    value = row.get(field)
    if not isinstance(value, str):
        raise CliError(f"{path}:{number}: field {field!r} (a string) is required for this check")
    return value


def scorer(check: str):
    """A function row -> (score, extra fields) for one check (the same code the gateway runs)."""
    if check == "pii":
        from shared.guardrails.pii import ALL_TYPES, PiiScanner

        scanner = PiiScanner(ALL_TYPES)

        def score_pii(row: dict[str, Any]) -> tuple[float, dict]:
            spans = scanner.scan(row["text"])
            return (1.0 if spans else 0.0), {"spans": [s.to_record() for s in spans]}

        return score_pii
    if check == "injection":
        from shared.guardrails.injection import InjectionDetector

        detector = InjectionDetector()
        return lambda row: (detector.score(row["text"])[0], {})
    if check == "toxicity":
        from shared.guardrails.toxicity import ToxicityDetector

        toxicity = ToxicityDetector()  # each line read as the input check reads a user's turn
        return lambda row: (toxicity.score(row["text"], full_for_one_window=True)[0], {})
    from shared.guardrails.groundedness import GroundednessScorer

    grounded = GroundednessScorer()
    return lambda row: (grounded.score(row["answer"], row["context"], row.get("question"))[0], {})


def _scan(args: argparse.Namespace) -> int:
    rows = _read_lines(args.input)
    fields = ("context", "answer") if args.check == "groundedness" else ("text",)
    for number, row in enumerate(rows, 1):
        for field in fields:
            _require(row, field, args.input, number)
    threshold = _threshold(args.check, args.policy_dir)
    from shared.config import get_settings
    from shared.guardrails.service import limit_blas_threads

    limit_blas_threads(get_settings().guardrails_blas_threads)
    score = scorer(args.check)
    flagged = 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    from llmops.cli._progress import track

    with args.output.open("w", encoding="utf-8") as out:
        for row in track(rows, f"{args.check} scan"):
            value, extra = score(row)
            is_flagged = value >= threshold and value > 0
            flagged += is_flagged
            out.write(
                json.dumps(
                    {**row, "score": round(float(value), 6), "flagged": bool(is_flagged), **extra}, ensure_ascii=False
                )
                + "\n"
            )
    print(
        f"{args.check}: {len(rows)} lines, {flagged} flagged (threshold {threshold}) -> {args.output}", file=sys.stderr
    )
    return 0
