"""What every component needs: where to put resources, how to name and tag them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from infra.naming import Names

COMPONENT_PREFIX = "llmops:platform"


@dataclass(frozen=True)
class Placement:
    resource_group_name: pulumi.Input[str]
    location: str
    tags: Mapping[str, str]
    names: Names
    # llmops:network.private: data-plane resources take traffic only through private endpoints
    private_network: bool = False

    @property
    def public_access(self) -> str:
        """``Enabled`` / ``Disabled``, as Cosmos DB, Cognitive Services and Storage spell it."""
        return "Disabled" if self.private_network else "Enabled"

    def child(self, parent: pulumi.Resource, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a resource owned by a component."""
        return pulumi.ResourceOptions(parent=parent, **kwargs)  # type: ignore[arg-type]
