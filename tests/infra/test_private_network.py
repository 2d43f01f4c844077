"""Private networking as a stack option: VNet integration, private endpoints, public access off."""

from __future__ import annotations

import pytest

from infra.components.network import FLEX_DELEGATION, subnets_of
from tests.infra.conftest import ProgramRun, make_function_app_tree, run_program

ENDPOINTS = {
    "cosmos": ("Sql", "privatelink.documents.azure.com"),
    "openai": ("account", "privatelink.openai.azure.com"),
    "content-safety": ("account", "privatelink.cognitiveservices.azure.com"),
    "storage-blob": ("blob", "privatelink.blob.core.windows.net"),
    "storage-queue": ("queue", "privatelink.queue.core.windows.net"),
    "storage-table": ("table", "privatelink.table.core.windows.net"),
}


@pytest.fixture(scope="module")
def private(tmp_path_factory, stack_values) -> ProgramRun:
    root = make_function_app_tree(tmp_path_factory.mktemp("private"))
    values = stack_values()
    values["network"] = {"private": True, "addressSpace": "10.42.0.0/16"}
    values["functionApp"] = {**values["functionApp"], "packagePath": str(root / "dist" / "function-app.zip")}
    return run_program(values, "test", root)


def test_the_function_app_joins_the_delegated_subnet(private: ProgramRun):
    vnet = private.one("network:VirtualNetwork")
    assert vnet.inputs["addressSpace"]["addressPrefixes"] == ["10.42.0.0/16"]
    subnets = {s["name"]: s for s in vnet.inputs["subnets"]}
    assert subnets["app"]["addressPrefix"] == "10.42.0.0/24"
    assert subnets["app"]["delegations"][0]["serviceName"] == FLEX_DELEGATION
    assert subnets["private-endpoints"]["addressPrefix"] == "10.42.1.0/24"
    assert private.one("web:WebApp").inputs["virtualNetworkSubnetId"] == f"{vnet.id}/subnets/app"


def test_each_data_plane_resource_has_a_private_endpoint_with_its_dns_zone(private: ProgramRun):
    endpoints = {e.name.removeprefix("pe-"): e.inputs for e in private.of_type("network:PrivateEndpoint")}
    assert set(endpoints) == set(ENDPOINTS)
    zones = {z.inputs["privateZoneName"]: z.id for z in private.of_type("privatedns:PrivateZone")}
    groups = {g.name.removeprefix("pe-").removesuffix("-dns"): g.inputs
              for g in private.of_type("network:PrivateDnsZoneGroup")}
    targets = {"cosmos": private.one("cosmosdb:DatabaseAccount").id,
               "storage-blob": next(s.id for s in private.of_type("storage:StorageAccount") if s.name == "storage")}
    for key, (group_id, zone) in ENDPOINTS.items():
        connection = endpoints[key]["privateLinkServiceConnections"][0]
        assert connection["groupIds"] == [group_id]
        assert endpoints[key]["subnet"]["id"].endswith("/subnets/private-endpoints")
        assert groups[key]["privateDnsZoneConfigs"][0]["privateDnsZoneId"] == zones[zone]
        if key in targets:
            assert connection["privateLinkServiceId"] == targets[key]
    links = private.of_type("privatedns:VirtualNetworkLink")
    assert len(links) == len(zones) and all(link.inputs["registrationEnabled"] is False for link in links)


def test_public_access_is_off_with_private_networking_and_on_without(private: ProgramRun, platform: ProgramRun):
    def access(run: ProgramRun) -> set[str]:
        found = {run.one("cosmosdb:DatabaseAccount").inputs["publicNetworkAccess"]}
        found |= {a.inputs["properties"]["publicNetworkAccess"] for a in run.of_type("cognitiveservices:Account")}
        found |= {s.inputs["publicNetworkAccess"] for s in run.of_type("storage:StorageAccount") if s.name == "storage"}
        return found

    assert access(private) == {"Disabled"}
    assert all(a.inputs["properties"]["networkAcls"]["defaultAction"] == "Deny"
               for a in private.of_type("cognitiveservices:Account"))
    assert access(platform) == {"Enabled"}
    assert not platform.of_type("network:VirtualNetwork") and not platform.of_type("network:PrivateEndpoint")


def test_subnets_come_from_the_address_space():
    assert subnets_of("10.60.0.0/16") == ("10.60.0.0/24", "10.60.1.0/24")
