"""Security: the platform Key Vault (RBAC authorization) and every role the platform's identities need
(the Function App's, and the GPU cluster's for registering models), each granted on the one resource it
is needed for and nothing broader (no resource-group or subscription scopes, no Owner/Contributor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, cosmosdb, keyvault

from infra.components.common import COMPONENT_PREFIX, Placement
from infra.components.ml import key_vault_properties
from infra.naming import stable_guid

# Built-in Azure role definitions (ids are the same in every tenant).
ROLES: dict[str, str] = {
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    "Cognitive Services User": "a97b65f3-24c7-4388-baec-2e87135dc908",  # Content Safety, Language (Entra ID)
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # host storage (leases) + package
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # triggers, poison, sends
    # Event Grid's system topic writes undeliverable events to the dead-letter container
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    # telemetry ingestion with Entra ID (Application Insights has local auth off)
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    # the app submits retraining pipelines and deploys candidates; the GPU cluster registers models
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
}
# Cosmos DB's own data-plane RBAC: "Cosmos DB Built-in Data Contributor".
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"


@dataclass(frozen=True)
class RoleGrant:
    """One role on one resource (``key`` names it stably in the Pulumi state), for the Function App's
    identity unless ``principal_id`` names another one (``principal_name`` then keeps its GUID stable)."""

    key: str
    role: str
    scope: pulumi.Input[str]
    principal_id: pulumi.Input[str] | None = None
    principal_name: str | None = None

    def __post_init__(self) -> None:
        if (self.principal_id is None) != (self.principal_name is None):
            raise ValueError(f"role grant {self.key!r}: give both principal_id and principal_name, or neither")


@dataclass(frozen=True)
class SecurityArgs:
    placement: Placement
    tenant_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    principal_id: pulumi.Input[str]  # the Function App's system-assigned identity
    grants: Sequence[RoleGrant]
    cosmos_account_name: pulumi.Input[str]
    cosmos_account_id: pulumi.Input[str]
    cosmos_database: str
    key_vault_retention_days: int
    key_vault_purge_protection: bool
    operators: Sequence[str] = ()  # Entra ID object ids: Cosmos DB data role on the database


class Security(pulumi.ComponentResource):
    key_vault: keyvault.Vault
    role_assignments: dict[str, authorization.RoleAssignment]
    cosmos_role_assignment: cosmosdb.SqlResourceSqlRoleAssignment

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Security", name, None, opts)
        p = args.placement
        self.key_vault = keyvault.Vault(
            "key-vault",
            vault_name=p.names.key_vault,
            resource_group_name=p.resource_group_name,
            location=p.location,
            properties=key_vault_properties(
                args.tenant_id, args.key_vault_retention_days, args.key_vault_purge_protection
            ),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.role_assignments = {}
        for grant in args.grants:
            if grant.role not in ROLES:
                raise KeyError(f"unknown role {grant.role!r}; add its built-in id to ROLES")
            definition = pulumi.Output.from_input(args.subscription_id).apply(
                lambda sub, role_id=ROLES[grant.role]: (
                    f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"
                )
            )
            principal_name = grant.principal_name or p.names.function_app_stem
            self.role_assignments[grant.key] = authorization.RoleAssignment(
                f"role-{grant.key}",
                role_assignment_name=stable_guid(principal_name, grant.key, ROLES[grant.role]),
                principal_id=grant.principal_id if grant.principal_id is not None else args.principal_id,
                principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=definition,
                scope=grant.scope,
                description=f"{principal_name}: {grant.role}",
                opts=p.child(self),
            )
        # Cosmos DB data access is granted on the database only, through Cosmos DB's own RBAC.
        account_id = pulumi.Output.from_input(args.cosmos_account_id)
        self.cosmos_role_assignment = self._cosmos_data_role(
            "role-cosmos-data-contributor", stable_guid(p.names.function_app_stem, "cosmos", args.cosmos_database),
            args.principal_id, account_id, args, p)
        # Operators administer tenants, keys and prompts with their own Entra ID login (the CLI's
        # DefaultAzureCredential): Cosmos DB has local auth off, so they need the data role too.
        self.operator_role_assignments = [
            self._cosmos_data_role(f"role-cosmos-operator-{index}", stable_guid("operator", operator, "cosmos",
                                                                                args.cosmos_database),
                                   operator, account_id, args, p)
            for index, operator in enumerate(args.operators)
        ]
        self.register_outputs({"key_vault": self.key_vault.name})

    def _cosmos_data_role(self, name: str, assignment_id: str, principal_id: pulumi.Input[str],
                          account_id: pulumi.Output[str], args: SecurityArgs, p: Placement
                          ) -> cosmosdb.SqlResourceSqlRoleAssignment:
        """Cosmos DB's built-in Data Contributor on the database only, through Cosmos DB's own RBAC."""
        return cosmosdb.SqlResourceSqlRoleAssignment(
            name,
            account_name=args.cosmos_account_name,
            resource_group_name=p.resource_group_name,
            role_assignment_id=assignment_id,
            role_definition_id=account_id.apply(lambda i: f"{i}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}"),
            principal_id=principal_id,
            scope=account_id.apply(lambda i: f"{i}/dbs/{args.cosmos_database}"),
            opts=p.child(self),
        )

    @property
    def all_assignments(self) -> list[pulumi.Resource]:
        return [*self.role_assignments.values(), self.cosmos_role_assignment, *self.operator_role_assignments]
