"""Guardrail policies: YAML files in ``policies/guardrails/``, loaded and validated at start.

A policy lists the checks that run on input and on output, each with a threshold (score at or
above it triggers) and an action (``block``, ``redact``, ``flag``) and the check's own options::

    name: crm-support
    input:
      - {check: pii, action: redact}
      - {check: injection, action: block, threshold: 0.5}
    output:
      - {check: groundedness, action: flag, threshold: 0.6}
      - {check: product_claims, action: block, options: {catalog: catalogs/acme.json}}

Which policy an app gets: the app's ``policy["guardrails"]`` section (``{"policy": "crm-support"}``
or just ``"crm-support"``, optionally with ``topics: {allowed: [...], blocked: [...]}`` overriding
the policy's topic check), else ``bindings.yaml`` (``"tenant/app"``, ``"tenant/*"`` -> policy
name), else the ``default`` policy. Any error (unknown check, check on the wrong stage, unknown
option, missing catalog) fails the load with the file and rule named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.guardrails.catalog import check_class
from shared.guardrails.checks import Check
from shared.guardrails.verdicts import Action, Stage

REPO_POLICY_DIR = Path(__file__).resolve().parents[2] / "policies" / "guardrails"
BINDINGS_FILE = "bindings.yaml"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the rule."""


class CheckRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str
    action: Action = Action.FLAG
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    options: dict[str, Any] = Field(default_factory=dict)
    # local | azure | auto (azure when the check has an adapter and its Azure service is configured)
    provider: str = "auto"

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in ("local", "azure", "auto"):
            raise ValueError("provider must be local, azure or auto")
        return value


class PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    input: list[CheckRule] = Field(default_factory=list)
    output: list[CheckRule] = Field(default_factory=list)


class AppGuardrails(BaseModel):
    """An app's ``policy["guardrails"]`` section."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = None
    enabled: bool = True
    topics: dict[str, list[str]] | None = None  # {"allowed": [...], "blocked": [...]}
    # Input checks that only judge (block/flag) run while the model is already working on the request;
    # a block cancels the call and discards its answer. Redactions always run first, since they change
    # what the model sees. Set to false when nothing flagged may reach the model at all.
    concurrent_input_checks: bool = True

    @classmethod
    def parse(cls, section: object) -> AppGuardrails:
        if section is None:
            return cls()
        if isinstance(section, str):
            return cls(policy=section)
        try:
            return cls.model_validate(section)
        except ValidationError as exc:
            raise PolicyError(f"bad guardrails section in the app policy: {exc.errors()[0]['msg']}") from exc


class BoundRule:
    """A validated rule with its check built."""

    def __init__(self, rule: CheckRule, stage: Stage, check: Check) -> None:
        self.rule = rule
        self.stage = stage
        self.check = check

    @property
    def name(self) -> str:
        return self.rule.check


class GuardrailPolicy:
    def __init__(self, name: str, description: str, input_rules: list[BoundRule], output_rules: list[BoundRule]):
        self.name = name
        self.description = description
        self.input_rules = input_rules
        self.output_rules = output_rules

    def rules(self, stage: Stage) -> list[BoundRule]:
        return self.input_rules if stage is Stage.INPUT else self.output_rules


def build_policy(data: dict[str, Any], *, source: str, base_dir: Path,
                 azure: Mapping[str, Any] | None = None) -> GuardrailPolicy:
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"{source}: {where}: {first['msg']}") from exc
    bound: dict[Stage, list[BoundRule]] = {Stage.INPUT: [], Stage.OUTPUT: []}
    for stage, rules in ((Stage.INPUT, document.input), (Stage.OUTPUT, document.output)):
        for index, rule in enumerate(rules):
            where = f"{source}: {stage}[{index}] ({rule.check})"
            bound[stage].append(BoundRule(rule, stage, _build_check(rule, stage, where, base_dir, azure)))
    return GuardrailPolicy(document.name, document.description, bound[Stage.INPUT], bound[Stage.OUTPUT])


def _build_check(rule: CheckRule, stage: Stage, where: str, base_dir: Path, azure: Mapping[str, Any] | None) -> Check:
    try:
        cls = check_class(rule.check)
    except KeyError as exc:
        raise PolicyError(f"{where}: {exc.args[0]}") from None
    if stage not in cls.stages:
        raise PolicyError(f"{where}: check {rule.check!r} runs on {', '.join(sorted(cls.stages))} only")
    if rule.action not in cls.actions:
        raise PolicyError(
            f"{where}: action '{rule.action}' is not available for {rule.check!r} "
            f"(use one of {', '.join(sorted(cls.actions))})"
        )
    try:
        options = cls.Options.model_validate(rule.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicyError(f"{where}: options.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    client = (azure or {}).get(cls.azure_service) if cls.azure_service else None
    use_azure = client if rule.provider != "local" else None
    if rule.provider == "azure" and client is None:
        if cls.azure_service is None:
            raise PolicyError(f"{where}: check {rule.check!r} has no Azure adapter")
        setting = f"LLMOPS_{cls.azure_service.upper()}_ENDPOINT"
        raise PolicyError(f"{where}: provider 'azure' needs the {cls.azure_service} service ({setting})")
    try:
        return cls(options, base_dir=base_dir, azure=use_azure)
    except (ValueError, FileNotFoundError) as exc:
        raise PolicyError(f"{where}: {exc}") from exc


class PolicySet:
    """Every policy in a directory plus the tenant/app bindings."""

    def __init__(self, policies: dict[str, GuardrailPolicy], bindings: dict[str, str], default: str) -> None:
        if default not in policies:
            raise PolicyError(f"the default guardrail policy {default!r} is not defined (have: {sorted(policies)})")
        for key, name in bindings.items():
            if name not in policies:
                raise PolicyError(f"{BINDINGS_FILE}: {key!r} refers to unknown policy {name!r}")
        self.policies = policies
        self.bindings = bindings
        self.default = default

    @classmethod
    def load(
        cls, directory: Path = REPO_POLICY_DIR, *, default: str = "default", azure: Mapping[str, Any] | None = None
    ) -> PolicySet:
        """``azure``: the configured Azure service clients by name (see ``azure_services_from_settings``)."""
        if not directory.is_dir():
            raise PolicyError(f"guardrail policy directory {directory} does not exist")
        policies: dict[str, GuardrailPolicy] = {}
        bindings: dict[str, str] = {}
        base_dir = directory.parent  # options such as catalog paths are relative to policies/
        for path in sorted(directory.glob("*.y*ml")):
            data = _read_yaml(path)
            if path.name == BINDINGS_FILE:
                if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                    raise PolicyError(f"{path}: bindings must map 'tenant/app' to a policy name")
                bindings = {str(k): v for k, v in data.items()}
                continue
            if not isinstance(data, dict):
                raise PolicyError(f"{path}: a policy file must be a mapping")
            policy = build_policy(data, source=str(path), base_dir=base_dir, azure=azure)
            if policy.name in policies:
                raise PolicyError(f"{path}: policy name {policy.name!r} is defined twice")
            policies[policy.name] = policy
        return cls(policies, bindings, default)

    def resolve(self, tenant_id: str, app_id: str, section: AppGuardrails) -> GuardrailPolicy:
        name = section.policy or self.bindings.get(f"{tenant_id}/{app_id}") or self.bindings.get(f"{tenant_id}/*")
        name = name or self.default
        try:
            return self.policies[name]
        except KeyError:
            raise PolicyError(f"app {tenant_id}/{app_id} refers to unknown guardrail policy {name!r}") from None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
