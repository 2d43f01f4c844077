"""Build the response cache the settings describe (one per process; the gateway owns it)."""

from __future__ import annotations

from shared.cache.exact import ExactCache
from shared.cache.semantic_store import InProcessSemanticStore, SemanticStore
from shared.cache.service import CacheConfig, ResponseCache
from shared.cache.verifier import FeatureVerifier, LogisticModel
from shared.config import Settings
from shared.embeddings.port import Embedder, LocalEmbedder, build_embedder
from shared.store import DocumentStore


def build_verifier(settings: Settings, embedder: Embedder) -> FeatureVerifier:
    """The verifier always runs all-MiniLM-L6-v2 locally; with local embeddings it shares the encoder
    and trusts the lookup's cosines, with Azure embeddings it computes its own."""
    local = embedder if isinstance(embedder, LocalEmbedder) else LocalEmbedder(settings.embedding_model_dir)
    return FeatureVerifier(
        local, LogisticModel.load(settings.cache_verifier_path), same_space=isinstance(embedder, LocalEmbedder)
    )


def build_semantic_store(settings: Settings, store: DocumentStore) -> SemanticStore:
    if settings.cache_vector_store == "cosmos":
        from shared.cache.cosmos_vectors import SEMANTIC_CACHE, CosmosSemanticStore
        from shared.store.cosmos import CosmosDocumentStore

        if not isinstance(store, CosmosDocumentStore):
            raise ValueError("LLMOPS_CACHE_VECTOR_STORE=cosmos needs LLMOPS_STORE=cosmos")
        return CosmosSemanticStore(store.container_client(SEMANTIC_CACHE))
    return InProcessSemanticStore(max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)


def build_response_cache(settings: Settings, store: DocumentStore) -> ResponseCache:
    """``store`` must be open (the Cosmos semantic store takes its container client from it)."""
    embedder = build_embedder(settings)
    return ResponseCache(
        CacheConfig.from_settings(settings),
        ExactCache(store, max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes),
        build_semantic_store(settings, store),
        embedder,
        build_verifier(settings, embedder),
    )
