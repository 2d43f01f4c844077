"""Network (``llmops:network.private: true``): the Function App joins a virtual network (Flex
Consumption VNet integration) and reaches Cosmos DB, Azure OpenAI, Content Safety (and Language) and
its storage account through private endpoints, with public network access off on each of them.

One VNet with two subnets: ``app`` (delegated to ``Microsoft.App/environments``, as Flex Consumption
requires) and ``private-endpoints``. Each endpoint registers its address in the privatelink DNS zone
of its service, linked to the VNet, so the usual host names resolve to private addresses from inside.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from infra.components.common import COMPONENT_PREFIX, Placement

FLEX_DELEGATION = "Microsoft.App/environments"
OPENAI_ZONE = "privatelink.openai.azure.com"  # Azure OpenAI's "account" sub-resource
# group id (sub-resource) -> its private DNS zone
ZONES: dict[str, str] = {
    "Sql": "privatelink.documents.azure.com",
    "account": "privatelink.cognitiveservices.azure.com",  # Content Safety, Language
    "blob": "privatelink.blob.core.windows.net",
    "queue": "privatelink.queue.core.windows.net",
    "table": "privatelink.table.core.windows.net",
}


@dataclass(frozen=True)
class NetworkArgs:
    placement: Placement
    address_space: str  # e.g. 10.60.0.0/16: the first /24 is the app subnet, the second the endpoints'


def subnets_of(address_space: str) -> tuple[str, str]:
    """The app subnet and the private-endpoint subnet: the first two /24 of the address space."""
    space = ipaddress.ip_network(address_space)
    first, second = list(space.subnets(new_prefix=24))[:2]
    return str(first), str(second)


class Network(pulumi.ComponentResource):
    vnet: network.VirtualNetwork
    app_subnet_id: pulumi.Output[str]
    endpoint_subnet_id: pulumi.Output[str]
    endpoints: dict[str, network.PrivateEndpoint]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Network", name, None, opts)
        self._p = p = args.placement
        app_prefix, endpoint_prefix = subnets_of(args.address_space)
        self.vnet = network.VirtualNetwork(
            "vnet",
            virtual_network_name=f"vnet-{p.names.resource_group.removeprefix('rg-')}",
            resource_group_name=p.resource_group_name,
            location=p.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[args.address_space]),
            subnets=[
                network.SubnetArgs(
                    name="app", address_prefix=app_prefix,
                    delegations=[network.DelegationArgs(name="flex", service_name=FLEX_DELEGATION)]),
                network.SubnetArgs(name="private-endpoints", address_prefix=endpoint_prefix,
                                   private_endpoint_network_policies="Disabled"),
            ],
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.app_subnet_id = self.vnet.id.apply(lambda vnet: f"{vnet}/subnets/app")
        self.endpoint_subnet_id = self.vnet.id.apply(lambda vnet: f"{vnet}/subnets/private-endpoints")
        self._zones: dict[str, privatedns.PrivateZone] = {}
        self.endpoints = {}
        self.register_outputs({"vnet": self.vnet.id})

    def _zone(self, zone_name: str) -> privatedns.PrivateZone:
        zone = self._zones.get(zone_name)
        if zone is None:
            key = zone_name.removeprefix("privatelink.").split(".")[0]
            zone = self._zones[zone_name] = privatedns.PrivateZone(
                f"dns-{key}", private_zone_name=zone_name, resource_group_name=self._p.resource_group_name,
                location="global", tags=dict(self._p.tags), opts=self._p.child(self))
            privatedns.VirtualNetworkLink(
                f"dns-{key}-link", private_zone_name=zone.name, resource_group_name=self._p.resource_group_name,
                location="global", registration_enabled=False,
                virtual_network=privatedns.SubResourceArgs(id=self.vnet.id), tags=dict(self._p.tags),
                opts=self._p.child(self))
        return zone

    def private_endpoint(self, key: str, resource_id: pulumi.Input[str], group_id: str,
                         zone_name: str | None = None) -> network.PrivateEndpoint:
        """A private endpoint to ``resource_id``'s ``group_id`` sub-resource, with its DNS record."""
        p = self._p
        zone = self._zone(zone_name or ZONES[group_id])
        endpoint = network.PrivateEndpoint(
            f"pe-{key}",
            private_endpoint_name=f"pe-{key}-{p.names.resource_group.removeprefix('rg-')}",
            resource_group_name=p.resource_group_name,
            location=p.location,
            subnet=network.SubnetArgs(id=self.endpoint_subnet_id),
            private_link_service_connections=[network.PrivateLinkServiceConnectionArgs(
                name=key, private_link_service_id=resource_id, group_ids=[group_id])],
            tags=dict(p.tags),
            opts=p.child(self),
        )
        network.PrivateDnsZoneGroup(
            f"pe-{key}-dns", private_endpoint_name=endpoint.name, resource_group_name=p.resource_group_name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[network.PrivateDnsZoneConfigArgs(name=key, private_dns_zone_id=zone.id)],
            opts=p.child(self))
        self.endpoints[key] = endpoint
        return endpoint
