"""AI: the Azure OpenAI account with the configured model deployments, Azure AI Content Safety and,
when ``guardrails.languagePii`` is on, an Azure AI Language account for the guardrails' PII check.

Every account has local (key) auth disabled and a custom subdomain, which Entra ID tokens require.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import cognitiveservices

from infra.components.common import COMPONENT_PREFIX, Placement
from infra.config import ModelDeployment

_Upgrade = cognitiveservices.DeploymentModelVersionUpgradeOption
UPGRADE_OPTIONS = {
    "onceCurrentVersionExpired": _Upgrade.ONCE_CURRENT_VERSION_EXPIRED,
    "onceNewDefaultVersionAvailable": _Upgrade.ONCE_NEW_DEFAULT_VERSION_AVAILABLE,
    "noAutoUpgrade": _Upgrade.NO_AUTO_UPGRADE,
}


@dataclass(frozen=True)
class AIArgs:
    placement: Placement
    openai_location: str
    deployments: Sequence[ModelDeployment]
    language: bool = False  # the Azure AI Language account (PII entity recognition)


class AI(pulumi.ComponentResource):
    openai: cognitiveservices.Account
    content_safety: cognitiveservices.Account
    language: cognitiveservices.Account | None
    deployments: dict[str, cognitiveservices.Deployment]

    def __init__(self, name: str, args: AIArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:AI", name, None, opts)
        p = args.placement
        self.openai = self._account("openai", "OpenAI", p.names.openai_account, args.openai_location, p)
        self.content_safety = self._account(
            "content-safety", "ContentSafety", p.names.content_safety_account, p.location, p
        )
        # Language's standard tier is "S" (S0 is the other services' name for it).
        self.language = (
            self._account("language", "TextAnalytics", p.names.language_account, p.location, p, sku="S")
            if args.language
            else None
        )

        # Azure OpenAI rejects concurrent deployment changes on one account (409): chain them.
        self.deployments = {}
        previous: pulumi.Resource | None = None
        for deployment in args.deployments:
            previous = cognitiveservices.Deployment(
                f"deployment-{deployment.alias}",
                account_name=self.openai.name,
                resource_group_name=p.resource_group_name,
                deployment_name=deployment.deployment_name,
                properties=cognitiveservices.DeploymentPropertiesArgs(
                    model=cognitiveservices.DeploymentModelArgs(
                        format="OpenAI", name=deployment.model, version=deployment.version
                    ),
                    version_upgrade_option=UPGRADE_OPTIONS[deployment.upgrade],
                ),
                sku=cognitiveservices.SkuArgs(name=deployment.sku, capacity=deployment.capacity),
                tags=dict(p.tags),
                opts=p.child(self, depends_on=[previous] if previous else None),
            )
            self.deployments[deployment.alias] = previous

        self.openai_endpoint: pulumi.Output[str] = self.openai.properties.apply(lambda props: props.endpoint)
        self.content_safety_endpoint: pulumi.Output[str] = self.content_safety.properties.apply(
            lambda props: props.endpoint
        )
        self.language_endpoint: pulumi.Output[str] | None = (
            self.language.properties.apply(lambda props: props.endpoint) if self.language else None
        )
        self.register_outputs(
            {
                "openai_endpoint": self.openai_endpoint,
                "content_safety_endpoint": self.content_safety_endpoint,
                "language_endpoint": self.language_endpoint,
            }
        )

    def _account(
        self, name: str, kind: str, account_name: str, location: str, p: Placement, *, sku: str = "S0"
    ) -> cognitiveservices.Account:
        return cognitiveservices.Account(
            name,
            account_name=account_name,
            resource_group_name=p.resource_group_name,
            location=location,
            kind=kind,
            sku=cognitiveservices.SkuArgs(name=sku),
            identity=cognitiveservices.IdentityArgs(type=cognitiveservices.ResourceIdentityType.SYSTEM_ASSIGNED),
            properties=cognitiveservices.AccountPropertiesArgs(
                custom_sub_domain_name=account_name,
                disable_local_auth=True,
                public_network_access=p.public_access,
                network_acls=cognitiveservices.NetworkRuleSetArgs(default_action="Deny") if p.private_network else None,
            ),
            tags=dict(p.tags),
            opts=p.child(self),
        )
