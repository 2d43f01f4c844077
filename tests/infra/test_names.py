"""Global names cannot collide: a random suffix per stack, kept in state, checked against Azure's rules."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, parse_stack_config
from infra.naming import SUFFIX_LENGTH, Names
from tests.infra.conftest import NAME_SUFFIX, make_function_app_tree, run_program

GLOBAL = {
    "storage:StorageAccount": "accountName",
    "cosmosdb:DatabaseAccount": "accountName",
    "keyvault:Vault": "vaultName",
    "web:WebApp": "name",
}


def test_every_global_name_ends_in_the_stacks_random_suffix(platform):
    suffix = [r for r in platform.resources if r.typ == "random:index/randomString:RandomString"]
    assert len(suffix) == 1
    inputs = suffix[0].inputs
    assert inputs["length"] == SUFFIX_LENGTH and inputs["special"] is False and inputs["upper"] is False
    assert inputs["keepers"] == {"namePrefix": "llmops"}  # only a new prefix makes a new suffix
    for typ, key in GLOBAL.items():
        for resource in platform.of_type(typ):
            assert resource.inputs[key].endswith(NAME_SUFFIX), resource.inputs[key]
    for account in platform.of_type("cognitiveservices:Account"):
        assert account.inputs["accountName"].endswith(f"-{NAME_SUFFIX}")
        assert account.inputs["properties"]["customSubDomainName"] == account.inputs["accountName"]
    assert platform.outputs["nameSuffix"] == NAME_SUFFIX
    # Names that are not global keep the plain form (they only need to be unique in the group).
    assert platform.one("machinelearningservices:Workspace").inputs["workspaceName"] == "mlw-llmops-test"


def test_a_pinned_suffix_is_used_as_is(tmp_path, stack_values):
    root = make_function_app_tree(tmp_path)
    values = stack_values()
    values["nameSuffix"] = ""  # a stack created before suffixes keeps its names
    values["functionApp"] = {**values["functionApp"], "packagePath": str(root / "dist" / "function-app.zip")}
    run = run_program(values, "test", root)
    vaults = {v.inputs["vaultName"] for v in run.of_type("keyvault:Vault")}
    assert vaults == {"kv-llmops-test", "kvml-llmopstest"}
    assert not [r for r in run.resources if r.typ.startswith("random:")]


def test_a_name_too_long_with_its_suffix_fails_before_anything_is_created():
    # 24 characters is Key Vault's limit: "kv-" + prefix + stack + "-" + 5 characters of suffix
    with pytest.raises(ConfigError, match="namePrefix"):
        Names("llmopsplatfo", "staging", "xxxxx").validate()
    names = Names("llmops", "staging", "abcde").validate()
    assert (names.key_vault, names.ml_key_vault) == ("kv-llmops-staging-abcde", "kvml-llmopsstaging-abcde")


def test_a_bad_pinned_suffix_names_the_key(stack_values):
    values = stack_values()
    values["nameSuffix"] = "Not_OK"
    with pytest.raises(ConfigError, match="llmops:nameSuffix"):
        parse_stack_config(values, stack="dev")
