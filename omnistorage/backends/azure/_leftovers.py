"""Crash leftovers on Azure: blobs that have only uncommitted blocks.

A writer killed between ``Put Block`` and ``Put Block List`` leaves blocks
that belong to no committed blob. When the name has no committed blob, the
service lists it with ``include=uncommittedblobs`` (and not without); such a
name is a leftover, removed by deleting it on the condition that nothing was
committed since it was listed (``If-Unmodified-Since``), so a writer that
commits meanwhile keeps its blob. Uncommitted blocks pending on a name that
*has* a committed blob cannot be removed without deleting that blob; Azure
discards them after 7 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from omnistorage.models import Leftover

__all__ = ["list_uncommitted", "remove_uncommitted"]


def list_uncommitted(container: ContainerClient, prefix: str, page: int) -> Iterator[Leftover]:
    """Names below ``prefix`` with uncommitted blocks only (two sorted listings merged)."""
    start = prefix or None
    committed = (
        b.name for b in container.list_blobs(name_starts_with=start, results_per_page=page)
    )
    everything = container.list_blobs(
        name_starts_with=start, include=["uncommittedblobs"], results_per_page=page
    )
    pending = next(committed, None)
    for blob in everything:
        while pending is not None and pending < blob.name:
            pending = next(committed, None)
        if pending == blob.name:
            continue
        modified: datetime | None = blob.last_modified
        yield Leftover(
            kind="uncommitted-blocks",
            key=blob.name,
            native=f"{container.container_name}/{blob.name} (uncommitted blocks)",
            size=_uncommitted_size(container, blob.name),
            started=modified,
            handle=f"{blob.name}\x00{modified.isoformat() if modified else ''}",
        )


def _uncommitted_size(container: ContainerClient, name: str) -> int | None:
    try:
        _, uncommitted = container.get_blob_client(name).get_block_list("uncommitted")
    except ResourceNotFoundError:
        return None
    return sum(block.size or 0 for block in uncommitted)


def remove_uncommitted(container: ContainerClient, handle: str) -> None:
    """Delete the uncommitted-only blob unless something was committed since it was listed."""
    name, _, stamp = handle.partition("\x00")
    since = datetime.fromisoformat(stamp) if stamp else None
    try:
        container.get_blob_client(name).delete_blob(if_unmodified_since=since)
    except (ResourceNotFoundError, ResourceModifiedError):
        return  # gone, or committed meanwhile: not a leftover any more
