"""``llmops tenants ...`` and ``llmops keys ...``: tenants, apps, policies and client API keys."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llmops.cli import CliError
from llmops.cli._services import CliServices, run_with_services
from shared.policies import SECTION_MODELS, PolicyError, validate_section
from shared.tenants import TenantError, effective_policy

_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise CliError(f"invalid duration {text!r}: use e.g. 90s, 30m, 24h, 7d")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def register(subparsers: argparse._SubParsersAction) -> None:
    tenants = subparsers.add_parser("tenants", help="manage tenants, apps and policies")
    t_sub = tenants.add_subparsers(dest="tenants_command", required=True)
    p = t_sub.add_parser("create", help="create a tenant")
    p.add_argument("tenant")
    p.add_argument("--name")
    p.set_defaults(func=_tenant_create)
    p = t_sub.add_parser("add-app", help="add a client app to a tenant (creates the tenant if needed)")
    p.add_argument("tenant")
    p.add_argument("app")
    p.set_defaults(func=_tenant_add_app)
    p = t_sub.add_parser("list", help="list tenants and apps")
    p.set_defaults(func=_tenant_list)
    p = t_sub.add_parser("show", help="a tenant's policy and each app's effective policy (tenant + app overrides)")
    p.add_argument("tenant")
    p.add_argument("--app", help="only this app")
    p.set_defaults(func=_tenant_show)
    p = t_sub.add_parser("set-policy", help="set one policy section (JSON) on a tenant or one of its apps")
    p.add_argument("tenant")
    p.add_argument("section", help=" | ".join(sorted(SECTION_MODELS)))
    p.add_argument("value", help="the section as JSON, e.g. '{\"requests_per_minute\": 600}'")
    p.add_argument("--app")
    p.set_defaults(func=_tenant_set_policy)

    keys = subparsers.add_parser("keys", help="manage client API keys")
    k_sub = keys.add_subparsers(dest="keys_command", required=True)
    p = k_sub.add_parser("create", help="issue a key for an app (printed once)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--app", required=True)
    p.add_argument("--name")
    p.add_argument("--expires-in", help="e.g. 90d")
    p.set_defaults(func=_key_create)
    p = k_sub.add_parser("list", help="list keys (never the secrets)")
    p.add_argument("--tenant")
    p.add_argument("--app")
    p.set_defaults(func=_key_list)
    p = k_sub.add_parser("revoke", help="revoke a key by its key id")
    p.add_argument("key_id")
    p.set_defaults(func=_key_revoke)
    p = k_sub.add_parser("rotate", help="issue a new key and retire the old one (optionally after a grace period)")
    p.add_argument("key_id")
    p.add_argument("--grace", default="0s", help="how long the old key keeps working, e.g. 24h (default: 0s)")
    p.set_defaults(func=_key_rotate)


def _run(args, action) -> int:
    try:
        run_with_services(action)
    except TenantError as exc:
        raise CliError(str(exc)) from None
    return 0


def _tenant_create(args) -> int:
    async def action(s: CliServices) -> None:
        doc = await s.tenants.create_tenant(args.tenant, args.name)
        print(f"created tenant {doc['id']}")

    return _run(args, action)


def _tenant_add_app(args) -> int:
    async def action(s: CliServices) -> None:
        await s.tenants.ensure_app(args.tenant, args.app)
        print(f"app {args.tenant}/{args.app} is ready; issue a key with: llmops keys create --tenant {args.tenant} "
              f"--app {args.app}")

    return _run(args, action)


def _tenant_list(args) -> int:
    async def action(s: CliServices) -> None:
        for doc in await s.tenants.list_tenants():
            apps = ", ".join(sorted(doc.get("apps") or {})) or "(no apps)"
            print(f"{doc['id']:<20} apps: {apps}   policy: {json.dumps(doc.get('policy') or {})}")

    return _run(args, action)


def _tenant_show(args) -> int:
    async def action(s: CliServices) -> None:
        doc = await s.tenants.get_tenant(args.tenant)
        if doc is None:
            raise TenantError(f"unknown tenant {args.tenant!r} (llmops tenants list shows them)")
        apps = sorted(doc.get("apps") or {})
        if args.app and args.app not in apps:
            raise TenantError(f"unknown app {args.app!r} in tenant {args.tenant!r} (apps: {', '.join(apps) or 'none'})")
        print(f"tenant {doc['id']} ({doc.get('name') or doc['id']}): policy {json.dumps(doc.get('policy') or {})}")
        for app in [args.app] if args.app else apps:
            own = ((doc.get("apps") or {}).get(app) or {}).get("policy") or {}
            print(f"app {doc['id']}/{app}: effective policy (sections set on the app: "
                  f"{', '.join(sorted(own)) or 'none'})")
            print(json.dumps(effective_policy(doc, app), indent=2, sort_keys=True))

    return _run(args, action)


def guardrail_policy_names(directory: Path) -> list[str]:
    """The ``name`` of every guardrail policy file in ``directory`` (what the gateway loads at start)."""
    import yaml

    names = []
    for path in sorted(directory.glob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            names.append(data["name"])
    return names


def check_references(section: str, parsed: BaseModel) -> None:
    """Names a section refers to must exist: guardrail policies, deployment aliases (as the gateway sees them)."""
    from shared.config import get_settings
    from shared.deployments import DeploymentConfigError, load_registry

    settings = get_settings()
    policy: Any = getattr(parsed, "policy", None) if section == "guardrails" else None
    if policy:
        directory = settings.resolved_guardrails_policy_dir
        names = guardrail_policy_names(directory)
        if policy not in names:
            raise CliError(f"policy section 'guardrails': no guardrail policy named {policy!r} "
                           f"(policies in {directory}: {', '.join(names) or 'none'})")
    pin: Any = getattr(parsed, "pin", None) if section == "routing" else None
    if pin:
        try:
            aliases = [d.alias for d in load_registry(settings).chat_deployments()]
        except DeploymentConfigError as exc:
            raise CliError(f"cannot check routing.pin {pin!r} against the deployments: {exc}") from None
        if aliases and pin not in aliases:
            raise CliError(f"policy section 'routing': pin {pin!r} names no deployment "
                           f"(deployments: {', '.join(sorted(aliases))})")


def _tenant_set_policy(args) -> int:
    try:
        value = json.loads(args.value)
    except json.JSONDecodeError as exc:
        raise CliError(f"the policy value is not valid JSON: {exc}") from None
    try:
        parsed = validate_section(args.section, value)
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    check_references(args.section, parsed)

    async def action(s: CliServices) -> None:
        await s.tenants.set_policy(args.tenant, args.app, args.section, value)
        print(f"set {args.section} on {args.tenant}{'/' + args.app if args.app else ''}")

    return _run(args, action)


def _key_create(args) -> int:
    expires = datetime.now(UTC) + parse_duration(args.expires_in) if args.expires_in else None

    async def action(s: CliServices) -> None:
        issued = await s.keys.create_key(args.tenant, args.app, name=args.name, expires_at=expires)
        print(f"key id: {issued.key_id}\nkey:    {issued.key}\n(store it now: it is not shown again)")

    return _run(args, action)


def _key_list(args) -> int:
    async def action(s: CliServices) -> None:
        rows = await s.keys.list_keys(args.tenant, args.app)
        print(f"{'KEY ID':<18} {'NAME':<20} {'TENANT/APP':<24} {'HINT':<22} {'CREATED':<26} STATE")
        for row in rows:
            state = "active" if row["active"] else ("revoked" if row["revoked_at"] else "expired")
            if row["active"] and row["expires_at"]:
                state = f"active until {row['expires_at']}"
            print(f"{row['key_id']:<18} {row.get('name') or '-':<20} {row['tenant_id'] + '/' + row['app_id']:<24} "
                  f"{row['hint']:<22} {row['created_at']:<26} {state}")

    return _run(args, action)


def _key_revoke(args) -> int:
    async def action(s: CliServices) -> None:
        await s.keys.revoke(args.key_id)
        print(f"revoked {args.key_id} (running gateways stop accepting it within the auth cache TTL)")

    return _run(args, action)


def _key_rotate(args) -> int:
    grace = parse_duration(args.grace)

    async def action(s: CliServices) -> None:
        issued = await s.keys.rotate(args.key_id, grace=grace)
        print(f"new key id: {issued.key_id}\nnew key:    {issued.key}\n"
              f"old key {args.key_id} {'revoked now' if not grace else f'expires in {args.grace}'}")

    return _run(args, action)
