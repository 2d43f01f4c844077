"""Grounding files uploaded as blobs: ``<container>/<tenant>/<source>/<path>`` is synced on upload.

Azure Storage publishes ``Microsoft.Storage.BlobCreated`` / ``BlobDeleted`` events to Event Grid; the
``grounding_blob_events`` function hands each to ``BlobUploads.handle``. A created blob is downloaded and
synced as that one file of the source (the source is registered on its first upload); a deleted blob
removes the file's chunks. Events are idempotent: a redelivered upload has the same content hash and
changes nothing. A file that fails to parse is recorded on the source (``llmops sources list`` shows
it) and not retried: retrying cannot fix the bytes. Store or download failures raise, so Event Grid
delivers the event again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from shared.grounding.service import GroundingService
from shared.grounding.sources import GroundingError, SourceRecord, check_source_name
from shared.grounding.sync import SyncReport

log = logging.getLogger(__name__)
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
BLOB_DELETED = "Microsoft.Storage.BlobDeleted"
_SUBJECT = re.compile(r"^/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<blob>.+)$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class BlobReader(Protocol):
    async def read(self, url: str, *, max_bytes: int) -> bytes: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class BlobAddress:
    container: str
    tenant_id: str
    source: str
    path: str


def blob_address(subject: str, url: str | None = None) -> BlobAddress | None:
    """Where an event's blob belongs, from the event subject (or the blob URL); None if not ours."""
    match = _SUBJECT.match(subject or "")
    if match is not None:
        container, blob = match.group("container"), match.group("blob")
    elif url:
        parts = unquote(urlparse(url).path).lstrip("/").split("/")
        if len(parts) >= 2 and parts[0] == "devstoreaccount1":  # Azurite's path-style URLs
            parts = parts[1:]
        if len(parts) < 2:
            return None
        container, blob = parts[0], "/".join(parts[1:])
    else:
        return None
    pieces = unquote(blob).split("/")
    if len(pieces) < 3 or not all(pieces):
        return None
    return BlobAddress(container, pieces[0], pieces[1], "/".join(pieces[2:]))


class BlobUploads:
    def __init__(self, grounding: GroundingService, reader: BlobReader, *, container: str,
                 max_bytes: int = 50 * 1024 * 1024) -> None:
        self.grounding = grounding
        self.reader = reader
        self.container = container
        self.max_bytes = max_bytes

    async def handle(self, event_type: str, subject: str, data: dict[str, Any]) -> SyncReport | None:
        address = blob_address(subject, data.get("url"))
        if address is None or address.container != self.container:
            log.info("grounding uploads: ignoring %s for %s", event_type, subject)
            return None
        if not _TENANT.match(address.tenant_id):
            log.warning("grounding uploads: %s: invalid tenant folder %r", subject, address.tenant_id)
            return None
        try:
            check_source_name(address.source)
        except GroundingError as exc:
            log.warning("grounding uploads: %s: %s", subject, exc.message)
            return None
        registry = self.grounding.registry
        if event_type == BLOB_DELETED:
            if await registry.get(address.tenant_id, address.source) is None:
                return None
            return await self.grounding.sync_files(address.tenant_id, address.source, {}, remove=[address.path])
        if event_type != BLOB_CREATED:
            return None
        size = data.get("contentLength")
        if isinstance(size, int) and size > self.max_bytes:
            log.warning("grounding uploads: %s is %d bytes, over the %d-byte limit; not synced", subject, size,
                        self.max_bytes)
            return None
        try:
            content = await self.reader.read(str(data.get("url")), max_bytes=self.max_bytes)
        except GroundingError as exc:  # too large: another delivery cannot fix that
            log.warning("grounding uploads: %s", exc.message)
            return None
        if await registry.get(address.tenant_id, address.source) is None:
            try:
                await registry.create(SourceRecord(address.tenant_id, address.source, "uploaded files"))
            except GroundingError:
                pass  # a concurrent upload created it first
        report = await self.grounding.sync_files(address.tenant_id, address.source, {address.path: content})
        for failed in report.failed:
            log.warning("grounding uploads: %s", failed.error)
        return report


class AzureBlobReader:
    """Downloads with ``azure-storage-blob``: a connection string (Azurite, keyed accounts) or the
    Function App's managed identity (``DefaultAzureCredential``) on the blob's URL."""

    def __init__(self, connection_string: str | None = None, *, credential: Any = None) -> None:
        self.connection_string = connection_string if connection_string and "=" in connection_string else None
        self._credential = credential

    async def read(self, url: str, *, max_bytes: int) -> bytes:
        from azure.storage.blob.aio import BlobClient

        if self.connection_string:
            address = blob_address("", url)
            if address is None:
                raise ValueError(f"not a grounding blob URL: {url}")
            blob = f"{address.tenant_id}/{address.source}/{address.path}"
            client = BlobClient.from_connection_string(self.connection_string, address.container, blob)
        else:
            if self._credential is None:
                from azure.identity.aio import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
            client = BlobClient.from_blob_url(url, credential=self._credential)
        async with client:
            properties = await client.get_blob_properties()
            if properties.size > max_bytes:
                raise GroundingError(f"{url} is {properties.size} bytes, over the {max_bytes}-byte limit")
            downloader = await client.download_blob()
            return bytes(await downloader.readall())

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()
            self._credential = None
