"""``infra/__main__.py`` as the Pulumi CLI runs it: config from the engine, outputs exported."""

from __future__ import annotations

import json
import runpy
from typing import Any

import pulumi
import pytest

from tests.infra.conftest import REPO_ROOT, PlatformMocks

MAIN = REPO_ROOT / "infra" / "__main__.py"


def _run_main(values: dict[str, Any]) -> PlatformMocks:
    mocks = PlatformMocks()
    pulumi.runtime.set_mocks(mocks, project="llmops", stack="dev", preview=False)
    pulumi.runtime.set_all_config(
        {f"llmops:{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in values.items()}
    )

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({})
    return mocks


def test_entrypoint_builds_the_platform_from_the_stack_config(stack_values):
    values = stack_values()
    values["functionApp"]["codeDeployment"] = "none"  # the entry point packages the real repo otherwise
    mocks = _run_main(values)
    types = {r.typ for r in mocks.resources}
    assert "azure-native:web:WebApp" in types and "azure-native:machinelearningservices:Compute" in types
    assert "command:local:Command" not in types  # codeDeployment none: no code, no Event Grid subscription
    assert "azure-native:eventgrid:SystemTopicEventSubscription" not in types
    assert "azure-native:authorization:getClientConfig" in mocks.calls


def test_entrypoint_turns_a_bad_config_into_one_clear_message(stack_values):
    values = stack_values()
    values["budget"] = {"dailyUsd": 0}
    with pytest.raises(SystemExit) as stopped:
        _run_main(values)
    assert "llmops:budget.dailyUsd" in str(stopped.value) and "greater than 0" in str(stopped.value)
