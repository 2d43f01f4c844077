"""Resource names: one place that knows each Azure naming rule, checked before anything is created.

Names follow ``<kind>-<prefix>-<stack>`` (the Cloud Adoption Framework abbreviations). Several names are
global DNS labels (storage, Cosmos DB, Key Vault, the Function App host, the OpenAI subdomain), so
``namePrefix`` should be unique to your organisation; the stack name keeps stacks apart.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from infra.config import ConfigError

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
    def cosmos_account(self) -> str:
        return _check("cosmos", f"cosmos-{self._base}")

    @property
    def openai_account(self) -> str:
        return _check("dns_label", f"oai-{self._base}")

    @property
    def content_safety_account(self) -> str:
        return _check("dns_label", f"cs-{self._base}")

    @property
    def language_account(self) -> str:
        return _check("dns_label", f"lang-{self._base}")

    @property
    def storage_account(self) -> str:
        return _check("storage", f"st{self._compact}")

    @property
    def function_plan(self) -> str:
        return f"asp-{self._base}"

    @property
    def function_app(self) -> str:
        return _check("dns_label", f"func-{self._base}")

    @property
    def key_vault(self) -> str:
        return _check("key_vault", f"kv-{self._base}")

    @property
    def ml_workspace(self) -> str:
        return f"mlw-{self._base}"

    @property
    def ml_storage_account(self) -> str:
        return _check("storage", f"stml{self._compact}")

    @property
    def ml_key_vault(self) -> str:
        return _check("key_vault", f"kv-ml-{self._base}")

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
