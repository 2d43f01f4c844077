"""Resource names: one place that knows each Azure naming rule, checked before anything is created.

Names follow ``<kind>-<prefix>-<stack>`` (the Cloud Adoption Framework abbreviations). Global names
(DNS labels: storage, Cosmos DB, Key Vault, the Function App host, the Cognitive Services subdomains)
also end in the stack's **suffix**: five random lowercase letters and digits made once per stack by
the ``random`` provider and kept in the Pulumi state (``llmops:nameSuffix`` pins one instead). So two
organisations with the same prefix do not collide, and a stack destroyed and created again gets new
names rather than meeting its own soft-deleted Key Vault or Cognitive Services account (purge steps
in infra/README.md). The rules are checked up front with a placeholder of the suffix's length.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pulumi

from infra.config import ConfigError

SUFFIX_LENGTH = 5

# A fixed namespace so that generated GUIDs (role assignments, the workbook) are stable per stack.
NAME_NAMESPACE = uuid.UUID("6f1c1c1e-5b0e-4d51-9a6b-2f3e6b1c9d40")

_RULES: dict[str, tuple[int, str, str]] = {
    # kind: (max length, regex, what is allowed)
    "storage": (24, r"^[a-z0-9]{3,24}$", "3-24 lowercase letters and digits"),
    "key_vault": (24, r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", "3-24 letters, digits and hyphens"),
    "cosmos": (44, r"^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$", "3-44 lowercase letters, digits and hyphens"),
    "dns_label": (60, r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$", "2-60 lowercase letters, digits and hyphens"),
    "compute": (16, r"^[a-zA-Z][a-zA-Z0-9-]{1,14}[a-zA-Z0-9]$", "3-16 letters, digits and hyphens"),
    "short": (12, r"^[a-zA-Z0-9]{1,12}$", "1-12 letters and digits"),
}


def stack_slug(stack: str) -> str:
    """The stack name reduced to what every Azure name accepts (lowercase letters and digits)."""
    slug = re.sub(r"[^a-z0-9]", "", stack.lower())
    if not slug:
        raise ConfigError(f"stack name {stack!r} has no letters or digits to build resource names from")
    return slug


def stable_guid(*parts: str) -> str:
    """A GUID that is the same on every run for the same parts (Azure wants GUIDs for some names)."""
    return str(uuid.uuid5(NAME_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class Names:
    prefix: str
    stack: str
    # the global names' suffix: a string (pinned, or "" for none) or the random provider's result
    suffix: str | pulumi.Output[str] = ""

    def _global(self, kind: str, build: Callable[[str], str]) -> pulumi.Input[str]:
        """A global name: ``build(suffix)`` with the suffix joined by ``-`` (or nothing where no hyphen
        is allowed), checked against ``kind``'s rule; an ``Output`` when the suffix is one."""
        if isinstance(self.suffix, str):
            return _check(kind, build(self.suffix))
        _check(kind, build("x" * SUFFIX_LENGTH))  # fails now, before anything is created
        return self.suffix.apply(lambda suffix: _check(kind, build(suffix)))

    def _dashed(self, kind: str, stem: str) -> pulumi.Input[str]:
        return self._global(kind, lambda suffix: f"{stem}-{suffix}" if suffix else stem)

    @property
    def _base(self) -> str:
        return f"{self.prefix}-{stack_slug(self.stack)}"

    @property
    def _compact(self) -> str:
        return f"{self.prefix}{stack_slug(self.stack)}"

    # --- resources ------------------------------------------------------------------
    @property
    def resource_group(self) -> str:
        return f"rg-{self._base}"

    @property
    def log_analytics(self) -> str:
        return f"log-{self._base}"

    @property
    def app_insights(self) -> str:
        return f"appi-{self._base}"

    @property
    def action_group(self) -> str:
        return f"ag-{self._base}"

    @property
    def action_group_short(self) -> str:
        return _check("short", self._compact[:12])

    @property
    def cosmos_account(self) -> pulumi.Input[str]:
        return self._dashed("cosmos", f"cosmos-{self._base}")

    @property
    def openai_account(self) -> pulumi.Input[str]:
        return self._dashed("dns_label", f"oai-{self._base}")

    @property
    def content_safety_account(self) -> pulumi.Input[str]:
        return self._dashed("dns_label", f"cs-{self._base}")

    @property
    def language_account(self) -> pulumi.Input[str]:
        return self._dashed("dns_label", f"lang-{self._base}")

    @property
    def storage_account(self) -> pulumi.Input[str]:
        return self._global("storage", lambda suffix: f"st{self._compact}{suffix}")

    @property
    def function_plan(self) -> str:
        return f"asp-{self._base}"

    @property
    def function_app_stem(self) -> str:
        """The Function App's name without the suffix: what its role-assignment GUIDs are made from."""
        return f"func-{self._base}"

    @property
    def function_app(self) -> pulumi.Input[str]:
        return self._dashed("dns_label", self.function_app_stem)

    @property
    def key_vault(self) -> pulumi.Input[str]:
        return self._dashed("key_vault", f"kv-{self._base}")

    @property
    def ml_workspace(self) -> str:
        return f"mlw-{self._base}"

    @property
    def ml_storage_account(self) -> pulumi.Input[str]:
        return self._global("storage", lambda suffix: f"stml{self._compact}{suffix}")

    @property
    def ml_key_vault(self) -> pulumi.Input[str]:
        return self._dashed("key_vault", f"kvml-{self._compact}")

    @property
    def gpu_cluster(self) -> str:
        return _check("compute", "gpu-cluster")

    @property
    def ml_event_topic(self) -> str:
        return f"evgt-{self._base}-ml"

    @property
    def workbook(self) -> str:
        return stable_guid(self._base, "workbook")

    def validate(self) -> Names:
        """Compute every name once so that a too-long prefix fails before deployment starts."""
        for attribute in dir(type(self)):
            if isinstance(getattr(type(self), attribute), property):
                getattr(self, attribute)
        return self


def _check(kind: str, name: str) -> str:
    max_length, pattern, allowed = _RULES[kind]
    if not re.fullmatch(pattern, name):
        raise ConfigError(
            f"resource name {name!r} breaks Azure's naming rule ({allowed}, at most {max_length}): "
            f"choose a shorter llmops:namePrefix or stack name"
        )
    return name
