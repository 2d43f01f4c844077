"""What `make run` seeds, and that a second start keeps what the user changed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from llmops.demo import DEMO_TENANT, ensure_demo
from shared.prompts.registry import PromptRegistry
from shared.runtime import Platform
from tests.support.stack import stack_settings


def test_the_demo_is_seeded_once_and_edits_survive_a_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = stack_settings(tmp_path / "data", "http://127.0.0.1:9")
        platform = await Platform.create(settings)
        try:
            key_file = tmp_path / "data" / "dev-api-key"
            key = await ensure_demo(platform, key_file)
            assert key_file.read_text().strip() == key
            tenant = await platform.tenants.get_tenant(DEMO_TENANT)
            assert tenant is not None and sorted(tenant["apps"]) == ["crm", "mobile"]
            assert tenant["policy"]["feedback"]["retrain_after_examples"] == 30
            registry = PromptRegistry(platform.store)
            labels = await registry.labels("support-answer")
            first = (await registry.versions("support-answer"))[0]
            assert [t.version for t in labels["production"]] == [first.version]  # the HTTP example resolves

            # the user edits the demo, then starts `make run` again
            await platform.tenants.set_policy(DEMO_TENANT, None, "feedback", {"retain_transcripts": False})
            await platform.tenants.set_policy(DEMO_TENANT, "crm", "guardrails", {"policy": "default"})
            assert await ensure_demo(platform, key_file) == key
            tenant = await platform.tenants.get_tenant(DEMO_TENANT)
            assert tenant is not None and tenant["policy"]["feedback"] == {"retain_transcripts": False}
            assert tenant["apps"]["crm"]["policy"]["guardrails"] == {"policy": "default"}
            assert len(await registry.versions("support-answer")) == 1  # unchanged files create nothing

            revoked = await platform.keys.list_keys(DEMO_TENANT, "mobile")
            await platform.keys.revoke(revoked[0]["key_id"])
            assert await ensure_demo(platform, key_file) != key  # a revoked demo key is replaced
        finally:
            await platform.close()

    asyncio.run(scenario())


def test_the_crm_binding_names_an_app_that_exists() -> None:
    from shared.guardrails.policy import PolicySet

    policies = PolicySet.load()
    assert policies.bindings == {"contoso/crm": "crm-support"}
