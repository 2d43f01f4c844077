"""Grounding sources: product catalogs and documents an app registers, chunked, embedded, searched.

- ``parsing``: files (JSON/CSV catalogs, Markdown, HTML, text, PDF) into sections, errors as ``path:line``;
- ``chunking``: sections into content-addressed chunks with their line ranges;
- ``sources``: the per-tenant registry of sources (``grounding_sources``);
- ``sync``: incremental re-sync by content hash, embedding through the embeddings port;
- ``search`` / ``cosmos_search``: hybrid vector + BM25 candidates (in process locally, Cosmos DB in Azure);
- ``rerank`` and ``retriever``: fusion, reranking, passages with citations;
- ``service``: the facade the CLI, the blob-upload function and the gateway use (``build_grounding``).

Nothing heavy is imported here (the simulator imports ``grounding.text``).
"""
