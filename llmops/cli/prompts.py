"""``llmops prompts``: push prompt files as versions, inspect, diff, evaluate, promote, roll back."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import getpass
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from llmops.cli import CliError
from shared.config import get_settings
from shared.prompts.evaluation import (
    DatasetError,
    Pricing,
    Tolerances,
    dumps,
    evaluate,
    format_metrics,
    load_dataset,
    output_guardrails,
    promotion_gate,
)
from shared.prompts.files import PromptFileError, load_prompt_dir
from shared.prompts.registry import PromptRegistry, PromptRegistryError, PromptVersion
from shared.prompts.spec import parse_reference
from shared.store import StoreError, build_store


def actor() -> str:
    """Who is acting: LLMOPS_ACTOR, else the git user's e-mail, else the login name."""
    if name := os.environ.get("LLMOPS_ACTOR"):
        return name
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email or getpass.getuser()


def via() -> str:
    return "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "cli"


def with_registry(work: Callable[[PromptRegistry], Awaitable[int]]) -> int:
    async def main() -> int:
        store = build_store(get_settings())
        try:
            await store.open()
            return await work(PromptRegistry(store))
        except (PromptRegistryError, DatasetError) as exc:
            raise CliError(str(exc)) from None
        except StoreError as exc:
            raise CliError(f"store: {exc}") from None
        finally:
            await store.close()

    return asyncio.run(main())


async def find(registry: PromptRegistry, ref: str) -> PromptVersion:
    """``NAME``, ``NAME@LABEL`` or ``NAME@VERSION`` (hash, hash prefix or v<number>)."""
    try:
        name, selector = parse_reference(ref)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if selector is None:
        return await registry.resolve(name)
    labels = await registry.labels(name)
    if selector in labels:
        return await registry.resolve(name, label=selector)
    return await registry.get_version(name, selector)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _spec_yaml(version: PromptVersion) -> str:
    return yaml.safe_dump(
        version.spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True
    )


# -- commands ---------------------------------------------------------------------------------
def cmd_push(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else get_settings().prompts_dir
    try:
        files = load_prompt_dir(directory)
    except PromptFileError as exc:
        raise CliError(f"nothing pushed:\n{exc}") from None
    if not files:
        raise CliError(f"no prompt files (*.yaml) in {directory}")
    if args.dry_run:
        for prompt in files:
            print(f"ok  {prompt.spec.name}@{prompt.spec.version_hash()}  {prompt.path}")
        return 0

    async def work(registry: PromptRegistry) -> int:
        for result in await registry.push(files, actor=actor(), via=via()):
            state = "new      " if result.created else "unchanged"
            print(f"{state} {result.name}@{result.version} (v{result.number})  {result.path}")
        return 0

    return with_registry(work)


def cmd_list(args: argparse.Namespace) -> int:
    async def work(registry: PromptRegistry) -> int:
        names = await registry.names()
        if not names:
            print("no prompts pushed yet")
        for name in names:
            versions = await registry.versions(name)
            labels = await registry.labels(name)
            moved = ", ".join(
                f"{label}={'+'.join(f'{t.version}:{t.weight}%' if t.weight < 100 else t.version for t in targets)}"
                for label, targets in labels.items()
            )
            latest = versions[-1] if versions else None
            head = f"latest v{latest.number} {latest.version}" if latest else "no versions"
            print(f"{name}  ({len(versions)} versions, {head})  {moved or 'no labels'}")
        return 0

    return with_registry(work)


def cmd_show(args: argparse.Namespace) -> int:
    async def work(registry: PromptRegistry) -> int:
        version = await find(registry, args.ref)
        if args.json:
            print(
                json.dumps(
                    {
                        "name": version.name,
                        "version": version.version,
                        "number": version.number,
                        "spec": version.spec.model_dump(mode="json"),
                    },
                    indent=2,
                )
            )
            return 0
        labels = await registry.labels(version.name)
        on = [
            f"{label} ({t.weight}%)"
            for label, targets in labels.items()
            for t in targets
            if t.version == version.version
        ]
        print(f"{version.name}@{version.version}  v{version.number}")
        print(f"pushed {_when(version.created_at)} by {version.created_by} from {version.source}")
        print(f"labels: {', '.join(on) or '-'}\n")
        print(_spec_yaml(version), end="")
        return 0

    return with_registry(work)


def cmd_diff(args: argparse.Namespace) -> int:
    async def work(registry: PromptRegistry) -> int:
        a = await find(registry, f"{args.name}@{args.a}")
        b = await find(registry, f"{args.name}@{args.b}")
        lines = difflib.unified_diff(
            _spec_yaml(a).splitlines(keepends=True),
            _spec_yaml(b).splitlines(keepends=True),
            fromfile=f"{a.name}@{a.version} (v{a.number})",
            tofile=f"{b.name}@{b.version} (v{b.number})",
        )
        text = "".join(lines)
        print(text if text else f"no difference: both are {a.version}", end="" if text else "\n")
        return 0

    return with_registry(work)


def cmd_promote(args: argparse.Namespace) -> int:
    settings = get_settings()

    async def work(registry: PromptRegistry) -> int:
        target = await registry.get_version(args.name, args.version)
        decision = await promotion_gate(
            registry, registry.store, args.name, target.version, args.label, Tolerances.from_settings(settings)
        )
        if not decision.allowed and not args.force:
            raise CliError(f"refused: {decision.reason} (use --force to override; it is recorded)")
        if not decision.allowed:
            print(f"warning: forcing past the evaluation gate: {decision.reason}")
        record = await registry.move_label(
            args.name,
            args.label,
            target.version,
            weight=args.weight,
            actor=actor(),
            via=via(),
            forced=not decision.allowed,
            reason=args.reason or decision.reason,
            evaluation_id=decision.evaluation_id,
        )
        print(f"{args.name}: {args.label} -> {_targets_text(record['to'])} (was {_targets_text(record['from'])})")
        return 0

    return with_registry(work)


def _targets_text(targets: list[dict[str, Any]]) -> str:
    if not targets:
        return "nothing"
    return " + ".join(t["version"] if t["weight"] == 100 else f"{t['version']} {t['weight']}%" for t in targets)


def cmd_rollback(args: argparse.Namespace) -> int:
    async def work(registry: PromptRegistry) -> int:
        record = await registry.rollback(args.name, args.label, actor=actor(), via=via(), reason=args.reason)
        was = _targets_text(record["from"])
        print(f"{args.name}: {args.label} rolled back to {_targets_text(record['to'])} (was {was})")
        return 0

    return with_registry(work)


def cmd_audit(args: argparse.Namespace) -> int:
    async def work(registry: PromptRegistry) -> int:
        for rec in await registry.audit(args.name, limit=args.limit):
            forced = " FORCED" if rec.get("forced") else ""
            label = f" {rec['label']}:" if rec.get("label") else ""
            print(
                f"{_when(rec['at'])}  {rec['action']}{forced}{label} {_targets_text(rec.get('from') or [])} -> "
                f"{_targets_text(rec.get('to') or [])}  by {rec['actor']} via {rec['via']}"
                + (f"  ({rec['reason']})" if rec.get("reason") else "")
            )
        return 0

    return with_registry(work)


def eval_backend(args: argparse.Namespace, settings: Any) -> tuple[str, str | None, str, dict[str, str], Pricing]:
    """Endpoint, API key, API version, alias -> deployment names and prices: from the flags, or from
    the deployment registry (LLMOPS_DEPLOYMENTS_*) entry named by ``--model``."""
    from shared.deployments import load_registry

    deployment = None
    try:
        deployment = load_registry(settings).get(args.model)
    except Exception:  # no registry configured: the flags must say everything
        deployment = None
    endpoint = args.endpoint or os.environ.get("LLMOPS_PROMPT_EVAL_ENDPOINT")
    api_key = args.api_key or os.environ.get("LLMOPS_PROMPT_EVAL_API_KEY")
    names: dict[str, str] = {}
    api_version = args.api_version
    if deployment is not None and not endpoint:
        endpoint, api_version = deployment.endpoint, deployment.api_version
        api_key = api_key or (deployment.api_key if deployment.auth == "key" else None)
        names[args.model] = deployment.deployment
    if not endpoint:
        raise CliError(
            f"no model endpoint: pass --endpoint (e.g. the simulator's URL) or --model naming a configured "
            f"deployment ({args.model!r} is not one)"
        )
    pricing = Pricing(
        args.input_price if args.input_price is not None else (deployment.input_per_1m if deployment else 0.15),
        args.output_price if args.output_price is not None else (deployment.output_per_1m if deployment else 0.60),
    )
    return endpoint, api_key, api_version or "2024-10-21", names, pricing


def cmd_eval(args: argparse.Namespace) -> int:
    from shared.embeddings.azure_openai import azure_openai_client
    from shared.prompts.chat import OpenAIChatModel

    settings = get_settings()
    endpoint, api_key, api_version, names, pricing = eval_backend(args, settings)

    async def work(registry: PromptRegistry) -> int:
        from shared.guardrails.service import GuardrailService

        candidate = await find(registry, args.ref)
        guardrails = output_guardrails(GuardrailService.from_settings(settings))
        model = OpenAIChatModel(azure_openai_client(endpoint, api_version, api_key=api_key), names)
        from llmops.cli._progress import working

        try:
            with working(f"evaluating {args.ref} on {args.dataset}"):
                record = await evaluate(
                    registry,
                    candidate,
                    label=args.label,
                    dataset=load_dataset(Path(args.dataset)),
                    model=model,
                    model_alias=args.model,
                    pricing=pricing,
                    tolerances=Tolerances.from_settings(settings),
                    actor=actor(),
                    guardrail_check=guardrails,
                )
        finally:
            await model.close()
        if args.json:
            print(dumps(record))
        else:
            print(
                f"evaluation {record['id']}: {candidate.name}@{candidate.version} vs {args.label} "
                f"({record['baseline_version'] or 'nothing yet'}) on {record['candidate']['cases']} cases"
            )
            print(f"  candidate  {format_metrics(record['candidate'])}")
            if record["baseline"]:
                print(f"  baseline   {format_metrics(record['baseline'])}")
            for failure in record["candidate"]["failures"][:10]:
                print(f"  failed: {failure}")
            print("PASSED" if record["passed"] else "WORSE: " + "; ".join(record["regressions"]))
        return 0 if record["passed"] else 3

    return with_registry(work)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prompts", help="prompt registry: push, list, show, diff, eval, promote, rollback")
    sub = parser.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)

    p = sub.add_parser("push", help="store a version for each new or changed prompt file (idempotent)")
    p.add_argument("dir", nargs="?", help="directory of *.yaml prompt files or one file (default: prompts/)")
    p.add_argument("--dry-run", action="store_true", help="validate and show versions without storing")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("list", help="prompts, their versions and labels")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="one version: NAME, NAME@LABEL or NAME@VERSION")
    p.add_argument("ref")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("diff", help="differences between two versions or labels of a prompt")
    p.add_argument("name")
    p.add_argument("a", help="version (hash, prefix, v<n>) or label")
    p.add_argument("b", help="version (hash, prefix, v<n>) or label")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("promote", help="point a label at a version (after a passing evaluation)")
    p.add_argument("name")
    p.add_argument("version", help="hash, unique prefix or v<number>")
    p.add_argument("--label", required=True)
    p.add_argument("--weight", type=int, default=100, help="percent of the label's traffic (A/B split); default 100")
    p.add_argument("--force", action="store_true", help="promote without a passing evaluation (recorded)")
    p.add_argument("--reason")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("rollback", help="move a label back to what it pointed at before its last move")
    p.add_argument("name")
    p.add_argument("--label", required=True)
    p.add_argument("--reason")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("audit", help="label moves and pushes of a prompt, newest first")
    p.add_argument("name")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("eval", help="evaluate NAME@VERSION on a golden set against the label's current version")
    p.add_argument("ref", help="NAME@VERSION (or NAME@LABEL)")
    p.add_argument("--dataset", required=True, help="JSON lines: variables, input, reference, assertions")
    p.add_argument("--label", default="production", help="compare with the version this label points at")
    p.add_argument("--endpoint", help="Azure OpenAI endpoint or the simulator's URL (env LLMOPS_PROMPT_EVAL_ENDPOINT)")
    p.add_argument("--api-key", help="API key (simulator); default: Entra ID (env LLMOPS_PROMPT_EVAL_API_KEY)")
    p.add_argument("--api-version", help="with --endpoint (default 2024-10-21)")
    p.add_argument("--model", default="gpt-4o-mini", help="deployment alias when the prompt names none")
    p.add_argument("--input-price", type=float, help="USD per 1M input tokens (default: the deployment's, or 0.15)")
    p.add_argument("--output-price", type=float, help="USD per 1M output tokens (default: the deployment's, or 0.60)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)
