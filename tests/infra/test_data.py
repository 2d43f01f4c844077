"""Cosmos DB containers: exactly the catalog (plus the lease container), with its keys, TTLs and vectors."""

from __future__ import annotations

from infra.components.data import LEASE_CONTAINER, container_resource
from shared.store.catalog import CONTAINERS, ContainerSpec, VectorIndex
from tests.infra.conftest import ProgramRun


def _containers(platform: ProgramRun) -> dict[str, dict]:
    return {c.inputs["containerName"]: c.inputs for c in platform.of_type("cosmosdb:SqlResourceSqlContainer")}


def test_containers_are_exactly_the_catalog_plus_the_lease_container(platform: ProgramRun):
    assert set(_containers(platform)) == set(CONTAINERS) | {LEASE_CONTAINER}


def test_partition_keys_and_ttls_follow_the_catalog(platform: ProgramRun):
    containers = _containers(platform)
    for name, spec in CONTAINERS.items():
        resource = containers[name]["resource"]
        assert resource["id"] == name
        assert resource["partitionKey"]["paths"] == [f"/{spec.partition_key}"]
        assert resource["defaultTtl"] == (-1 if spec.default_ttl_s is None else spec.default_ttl_s)
        assert containers[name]["databaseName"] == "llmops"
    assert containers[LEASE_CONTAINER]["resource"]["partitionKey"]["paths"] == ["/id"]


def test_vector_index_and_embedding_policy_for_a_vector_container():
    spec = ContainerSpec(
        "semantic_cache", "tenant_id", default_ttl_s=3600, vector_indexes=(VectorIndex("/embedding", 384),)
    )
    resource = container_resource(spec)
    embedding = resource.vector_embedding_policy.vector_embeddings[0]
    assert (embedding.path, embedding.dimensions, embedding.distance_function, embedding.data_type) == (
        "/embedding",
        384,
        "cosine",
        "float32",
    )
    index = resource.indexing_policy.vector_indexes[0]
    assert (index.path, index.type) == ("/embedding", "diskANN")
    assert "/embedding/*" in [p.path for p in resource.indexing_policy.excluded_paths]
    assert resource.default_ttl == 3600


def test_catalog_vector_containers_get_their_vector_index(platform: ProgramRun):
    containers = _containers(platform)
    for name, spec in CONTAINERS.items():
        sent = containers[name]["resource"]
        paths = [v.path for v in spec.vector_indexes]
        assert [v["path"] for v in sent.get("indexingPolicy", {}).get("vectorIndexes", [])] == paths
        embeddings = sent.get("vectorEmbeddingPolicy", {}).get("vectorEmbeddings", [])
        assert [(e["path"], e["dimensions"]) for e in embeddings] == [
            (v.path, v.dimensions) for v in spec.vector_indexes
        ]


def test_queues_and_their_poison_queues(platform: ProgramRun):
    from shared.queues import ALL_QUEUES, poison_queue

    queues = {q.inputs["queueName"] for q in platform.of_type("storage:Queue")}
    assert queues == set(ALL_QUEUES) | {poison_queue(q) for q in ALL_QUEUES}
