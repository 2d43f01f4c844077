"""The containers the platform stores documents in: one place that the adapters, the Pulumi
program (which creates them in Azure) and the tests all read.

``partition_key`` names a top-level document field; Cosmos DB partitions on ``/<field>``.
``default_ttl_s`` is Cosmos DB's container default TTL (``None``: items never expire unless an
item sets ``ttl``; ``-1`` would mean "off unless the item sets one"). The SQLite adapter applies
the same TTL rules on read.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class VectorIndex:
    """A vector field indexed for similarity search (Cosmos DB DiskANN in Azure)."""

    path: str
    dimensions: int
    distance: str = "cosine"
    data_type: str = "float32"
    index_type: str = "diskANN"


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    name: str
    partition_key: str
    default_ttl_s: int | None = None
    description: str = ""
    vector_indexes: tuple[VectorIndex, ...] = field(default_factory=tuple)
    # Paths with a full-text (BM25) index: Cosmos DB's FullTextScore / hybrid RRF search in Azure.
    full_text_paths: tuple[str, ...] = field(default_factory=tuple)


DAY = 24 * 3600
# Vector size of semantic-cache embeddings in Azure: text-embedding-3-small's native size. The
# Azure embeddings adapter asks for this many dimensions; Cosmos DB fixes it per container.
SEMANTIC_CACHE_DIMENSIONS = 1536

CONTAINERS: dict[str, ContainerSpec] = {
    spec.name: spec
    for spec in (
        ContainerSpec("tenants", "id", description="tenants and their client apps, with per-app policies"),
        ContainerSpec("api_keys", "id", description="client API keys, stored only as SHA-256 hashes"),
        ContainerSpec(
            "request_log",
            "tenant_id",
            default_ttl_s=90 * DAY,
            description="one record per gateway request: route, tokens, cost, latency, verdicts",
        ),
        # --- prompt registry and response cache (issue 5) ---
        ContainerSpec("prompts", "name", description="prompt versions (immutable, by content hash) and label state"),
        ContainerSpec("prompt_audit", "name", description="who or what moved which prompt label when"),
        ContainerSpec("prompt_evals", "name", description="evaluation runs of prompt versions against golden sets"),
        ContainerSpec(
            "response_cache",
            "tenant_id",
            default_ttl_s=-1,
            description="exact-match cached responses; every item carries its own ttl",
        ),
        ContainerSpec(
            "semantic_cache",
            "tenant_id",
            default_ttl_s=-1,
            description="semantic cache entries with the question's embedding (vector search in Azure)",
            vector_indexes=(VectorIndex("/embedding", dimensions=SEMANTIC_CACHE_DIMENSIONS),),
        ),
        # TTL on, no default expiry: each counter sets its own ``ttl`` (minute windows ~3 min, months ~100 days).
        ContainerSpec("usage_counters", "scope", default_ttl_s=-1,
                      description="rate-limit and budget counters per tenant/app and window (shared/limits)"),
        ContainerSpec("feedback", "tenant_id", description="user feedback on answers; its change feed drives curation"),
        ContainerSpec("datasets", "id", description="fine-tuning datasets per tenant app, with statistics"),
        ContainerSpec("training_examples", "dataset_id", description="curated chat-format training examples"),
        ContainerSpec("model_rollouts", "id", description="canary rollouts of fine-tuned models and their decisions"),
        ContainerSpec("serving_operations", "id",
                      description="candidates being deployed behind an endpoint: started, then polled until ready"),
        # --- orchestration (issue 14): grounding sources and conversation memory ---
        ContainerSpec("grounding_sources", "tenant_id",
                      description="registered grounding sources per tenant: files, content hashes, revision"),
        ContainerSpec(
            "grounding_chunks",
            "source_key",
            description="chunks of grounding sources with their embeddings (hybrid vector + BM25 search in Azure)",
            vector_indexes=(VectorIndex("/embedding", dimensions=SEMANTIC_CACHE_DIMENSIONS),),
            full_text_paths=("/text",),
        ),
        ContainerSpec("conversations", "tenant_id", default_ttl_s=-1,
                      description="conversation memory and stored Responses API responses; each item has its ttl"),
        ContainerSpec(
            "training_runs",
            "dataset_id",
            description="one record per retraining run: snapshot, status, metrics, gate decision, model",
        ),
        # --- operators (issue 15): business events and drift-monitor results ---
        ContainerSpec("business_events", "tenant_id",
                      description="what came of answers, reported by apps: task_completed, conversion, ..."),
        ContainerSpec("monitor_results", "monitor", default_ttl_s=90 * DAY,
                      description="one result per drift-monitor run and app: value, reference, what moved"),
    )
}


def container(name: str) -> ContainerSpec:
    try:
        return CONTAINERS[name]
    except KeyError:
        raise KeyError(f"unknown container {name!r}; known: {', '.join(sorted(CONTAINERS))}") from None
