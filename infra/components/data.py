"""Data: a serverless Cosmos DB for NoSQL account (vector search on, keys off), the database, and
exactly the containers ``shared/store/catalog.CONTAINERS`` declares, plus the change-feed lease container.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import cosmosdb

from infra.components.common import COMPONENT_PREFIX, Placement
from shared.store.catalog import ContainerSpec, VectorIndex

LEASE_CONTAINER = "leases"  # the Cosmos DB trigger's lease container (partition key /id)
SERVERLESS = "EnableServerless"
VECTOR_SEARCH = "EnableNoSQLVectorSearch"
FULL_TEXT_SEARCH = "EnableNoSQLFullTextSearch"  # BM25 and hybrid search of grounding chunks


@dataclass(frozen=True)
class DataArgs:
    placement: Placement
    database_name: str
    containers: Mapping[str, ContainerSpec]


def container_resource(spec: ContainerSpec) -> cosmosdb.SqlContainerResourceArgs:
    """The Cosmos DB definition of one catalog container."""
    vector_paths = [index.path for index in spec.vector_indexes]
    return cosmosdb.SqlContainerResourceArgs(
        id=spec.name,
        partition_key=cosmosdb.ContainerPartitionKeyArgs(
            paths=[f"/{spec.partition_key}"], kind=cosmosdb.PartitionKind.HASH, version=2
        ),
        # The catalog's None means "no default expiry, but an item's own ttl applies" (the SQLite adapter
        # honours item ttl): in Cosmos DB that is -1. Without a default TTL Cosmos would ignore item ttl.
        default_ttl=-1 if spec.default_ttl_s is None else spec.default_ttl_s,
        vector_embedding_policy=(
            cosmosdb.VectorEmbeddingPolicyArgs(vector_embeddings=[_embedding(v) for v in spec.vector_indexes])
            if spec.vector_indexes
            else None
        ),
        indexing_policy=cosmosdb.IndexingPolicyArgs(
            automatic=True,
            indexing_mode=cosmosdb.IndexingMode.CONSISTENT,
            included_paths=[cosmosdb.IncludedPathArgs(path="/*")],
            # Vectors are searched through their vector index only; range-indexing them wastes RUs.
            excluded_paths=[cosmosdb.ExcludedPathArgs(path='/"_etag"/?')]
            + [cosmosdb.ExcludedPathArgs(path=f"{path}/*") for path in vector_paths],
            vector_indexes=[cosmosdb.VectorIndexArgs(path=v.path, type=v.index_type) for v in spec.vector_indexes]
            or None,
            full_text_indexes=[cosmosdb.FullTextIndexPathArgs(path=p) for p in spec.full_text_paths] or None,
        ),
        full_text_policy=cosmosdb.FullTextPolicyArgs(
            default_language="en-US",
            full_text_paths=[cosmosdb.FullTextPathArgs(path=p, language="en-US") for p in spec.full_text_paths],
        )
        if spec.full_text_paths
        else None,
    )


def _embedding(index: VectorIndex) -> cosmosdb.VectorEmbeddingArgs:
    return cosmosdb.VectorEmbeddingArgs(
        path=index.path,
        data_type=index.data_type,
        dimensions=index.dimensions,
        distance_function=index.distance,
    )


class Data(pulumi.ComponentResource):
    account: cosmosdb.DatabaseAccount
    database: cosmosdb.SqlResourceSqlDatabase
    containers: dict[str, cosmosdb.SqlResourceSqlContainer]

    def __init__(self, name: str, args: DataArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:Data", name, None, opts)
        p = args.placement
        self.account = cosmosdb.DatabaseAccount(
            "cosmos",
            account_name=p.names.cosmos_account,
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind=cosmosdb.DatabaseAccountKind.GLOBAL_DOCUMENT_DB,
            database_account_offer_type=cosmosdb.DatabaseAccountOfferType.STANDARD,
            capabilities=[
                cosmosdb.CapabilityArgs(name=SERVERLESS),
                cosmosdb.CapabilityArgs(name=VECTOR_SEARCH),
                cosmosdb.CapabilityArgs(name=FULL_TEXT_SEARCH),
            ],
            locations=[cosmosdb.LocationArgs(location_name=p.location, failover_priority=0, is_zone_redundant=False)],
            consistency_policy=cosmosdb.ConsistencyPolicyArgs(
                default_consistency_level=cosmosdb.DefaultConsistencyLevel.SESSION
            ),
            # Entra ID only: no account keys for data or for control-plane writes through keys.
            disable_local_auth=True,
            disable_key_based_metadata_write_access=True,
            minimal_tls_version=cosmosdb.MinimalTlsVersion.TLS12,
            public_network_access=p.public_access,
            tags=dict(p.tags),
            opts=p.child(self),
        )
        self.database = cosmosdb.SqlResourceSqlDatabase(
            "db",
            account_name=self.account.name,
            resource_group_name=p.resource_group_name,
            database_name=args.database_name,
            resource=cosmosdb.SqlDatabaseResourceArgs(id=args.database_name),
            tags=dict(p.tags),
            opts=p.child(self),
        )
        specs = dict(args.containers)
        if LEASE_CONTAINER in specs:
            raise ValueError(f"the catalog must not define {LEASE_CONTAINER!r}: it is the change-feed lease container")
        specs[LEASE_CONTAINER] = ContainerSpec(LEASE_CONTAINER, "id", description="Cosmos DB trigger leases")
        self.containers = {
            spec.name: cosmosdb.SqlResourceSqlContainer(
                f"container-{spec.name}",
                account_name=self.account.name,
                resource_group_name=p.resource_group_name,
                database_name=self.database.name,
                container_name=spec.name,
                resource=container_resource(spec),
                tags=dict(p.tags),
                opts=p.child(self),
            )
            for spec in specs.values()
        }
        self.register_outputs(
            {
                "account_name": self.account.name,
                "endpoint": self.account.document_endpoint,
                "database": self.database.name,
            }
        )
