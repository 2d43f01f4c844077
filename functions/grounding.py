"""Grounding sources from blob uploads: Azure Storage's BlobCreated / BlobDeleted events (Event Grid)
for ``<container>/<tenant>/<source>/<path>`` sync that file of that source (shared/grounding/uploads.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.runtime import get_platform

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("grounding_blob_events")
@bp.event_grid_trigger(arg_name="event")
async def grounding_blob_events(event: func.EventGridEvent) -> None:
    """Idempotent (a redelivered upload has the same content hash); store failures raise, so Event Grid retries."""
    if not event.event_type.startswith("Microsoft.Storage.Blob"):
        return
    platform = await get_platform()
    report = await platform.grounding_uploads().handle(event.event_type, event.subject, event.get_json() or {})
    if report is not None:
        log.info("grounding upload %s: revision %s, %s", event.subject, report.revision,
                 ", ".join(f"{f.path} {f.status}" for f in report.files))
