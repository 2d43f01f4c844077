"""The demo ``llmops dev`` seeds: tenant ``contoso`` (apps ``mobile`` and ``crm``), its policies, the product
catalog as a grounding source, the repository's prompts with a first ``production`` label, and a key.

Everything is seeded only when absent: a second ``make run`` keeps whatever the user changed (policies set
with ``llmops tenants set-policy``, labels moved with ``llmops prompts promote``, a revoked key is replaced).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.runtime import Platform

DEMO_TENANT = "contoso"
DEMO_APPS = ("mobile", "crm")
REPO = Path(__file__).resolve().parents[1]
DEMO_CATALOG = REPO / "policies" / "catalogs" / "contoso-products.json"
DEMO_PROMPTS = REPO / "prompts"
# The demo opts in to the feedback loop (transcripts kept, a retrain after 30 new examples), so the
# walkthrough's feedback becomes training data; production apps keep the defaults (off, 200).
DEMO_TENANT_POLICY: dict[str, Any] = {
    "feedback": {"retain_transcripts": True, "retrain_after_examples": 30, "validation_share": 0.3},
}
PRODUCTION = "production"


async def ensure_demo(platform: Platform, key_file: Path) -> str:
    """Seed what is missing; return the demo key of ``contoso/mobile`` (kept in ``key_file`` across restarts)."""
    new_tenant = await platform.tenants.get_tenant(DEMO_TENANT) is None
    for app in DEMO_APPS:
        await platform.tenants.ensure_app(DEMO_TENANT, app)
    if new_tenant:
        for section, value in DEMO_TENANT_POLICY.items():
            await platform.tenants.set_policy(DEMO_TENANT, None, section, value)
    await ensure_demo_grounding(platform)
    await ensure_demo_prompts(platform)
    return await ensure_demo_key(platform, key_file)


async def ensure_demo_key(platform: Platform, key_file: Path) -> str:
    if key_file.exists():
        key = key_file.read_text().strip()
        if await platform.keys.authenticate({"authorization": f"Bearer {key}"}) is not None:
            return key
    issued = await platform.keys.create_key(DEMO_TENANT, "mobile", name="dev key")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(issued.key + "\n")
    key_file.chmod(0o600)
    return issued.key


async def ensure_demo_grounding(platform: Platform) -> None:
    """The demo catalog as grounding source ``catalog`` of ``contoso`` (synced: unchanged files cost nothing).
    The CRM app's guardrails (crm-support) come from ``policies/guardrails/bindings.yaml``."""
    grounding = platform.grounding()
    if await grounding.registry.get(DEMO_TENANT, "catalog") is None:
        await grounding.add(DEMO_TENANT, "catalog", description="Contoso product catalog (demo)",
                            origins=[str(DEMO_CATALOG)])
    await grounding.sync_origins(DEMO_TENANT, "catalog")


async def ensure_demo_prompts(platform: Platform) -> None:
    """Push ``prompts/*.yaml`` (unchanged files create nothing) and label the first version of each prompt
    that has no ``production`` label yet, so ``{"prompt": {"name": ..., "label": "production"}}`` answers."""
    from shared.prompts.files import load_prompt_dir
    from shared.prompts.registry import PromptRegistry

    if not DEMO_PROMPTS.is_dir():
        return
    registry = PromptRegistry(platform.store)
    for result in await registry.push(load_prompt_dir(DEMO_PROMPTS), actor="llmops dev", via="demo"):
        if PRODUCTION not in await registry.labels(result.name):
            await registry.move_label(result.name, PRODUCTION, result.version, actor="llmops dev", via="demo",
                                      reason="demo seed: the first version of the repository's prompt")
