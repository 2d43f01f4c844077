"""Grounding files uploaded to blob storage (Azurite) are synced by the blob event function's handler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob.aio import BlobServiceClient

from shared.embeddings.port import LocalEmbedder
from shared.grounding.search import LocalChunkSearch
from shared.grounding.service import GroundingService
from shared.grounding.uploads import BLOB_CREATED, BLOB_DELETED, AzureBlobReader, BlobUploads
from shared.store.sqlite import SqliteDocumentStore
from tests.support.services import azurite_blob

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite_blob(tmp_path_factory.mktemp("azurite")) as connection_string:
        yield connection_string


def event(blob: str, url: str, size: int = 10) -> tuple[str, dict]:
    return (f"/blobServices/default/containers/grounding/blobs/{blob}",
            {"url": url, "contentLength": size, "api": "PutBlob"})


async def test_uploaded_files_are_synced_and_deleted_ones_removed(azurite: str, tmp_path: Path) -> None:
    service = BlobServiceClient.from_connection_string(azurite)
    container = service.get_container_client("grounding")
    await container.create_container()
    manual = b"# Charging\n\nThe X1 charges fully in two hours.\n\n# Reset\n\nHold the power button for ten seconds.\n"
    blob = container.get_blob_client("contoso/manuals/x1/guide.md")
    await blob.upload_blob(manual)
    bad = container.get_blob_client("contoso/manuals/prices.csv")
    await bad.upload_blob(b"id,name,price\na,A,cheap\n")

    store = SqliteDocumentStore(tmp_path / "store.sqlite3")
    await store.open()
    grounding = GroundingService(store, LocalEmbedder(), LocalChunkSearch(store), record_ttl_s=0)
    uploads = BlobUploads(grounding, AzureBlobReader(azurite), container="grounding")
    try:
        report = await uploads.handle(BLOB_CREATED, *event("contoso/manuals/x1/guide.md", blob.url))
        assert report is not None and [(f.path, f.status, f.chunks) for f in report.files] == [("x1/guide.md",
                                                                                                "added", 2)]
        again = await uploads.handle(BLOB_CREATED, *event("contoso/manuals/x1/guide.md", blob.url))
        assert again is not None and again.files[0].status == "unchanged"  # a redelivered event changes nothing
        failed = await uploads.handle(BLOB_CREATED, *event("contoso/manuals/prices.csv", bad.url))
        assert failed is not None and failed.files[0].error.startswith("prices.csv:2: ")
        found = await grounding.retrieve("contoso", ["manuals"], "how do I reset it?", top_k=1)
        assert found[0].title == "Reset" and found[0].location == "x1/guide.md#L7"

        assert await uploads.handle(BLOB_CREATED, *event("contoso/manuals/x1/guide.md", blob.url,
                                                         size=10**9)) is None  # over the size limit
        assert await uploads.handle(BLOB_CREATED, *event("contoso/Bad Source/a.md", blob.url)) is None
        assert await uploads.handle(BLOB_CREATED, "/blobServices/default/containers/other/blobs/contoso/m/a.md",
                                    {"url": blob.url}) is None

        await blob.delete_blob()
        removed = await uploads.handle(BLOB_DELETED, *event("contoso/manuals/x1/guide.md", blob.url))
        assert removed is not None and removed.files[0].status == "removed"
        assert await grounding.retrieve("contoso", ["manuals"], "how do I reset it?", top_k=1) == []
    finally:
        await uploads.reader.close()
        await grounding.close()
        await store.close()
        await service.close()
