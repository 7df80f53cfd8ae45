"""Server-side copies inside the account (``start_copy_from_url``).

Create-only copies send ``If-None-Match: *`` on the destination (atomic: no
check-then-copy race). An asynchronous copy is polled until it finishes; one
that fails, or is interrupted while pending, is aborted and its destination
removed. The source is authorised by the shared key, or by the SAS appended to
its URL.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from azure.core.credentials import AzureSasCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient

from omnistorage.backends.azure._errors import IF_MISSING, AzureCopyFailed, create_only

__all__ = ["copy_blob"]


def copy_blob(
    service: BlobServiceClient,
    container: ContainerClient,
    src: str,
    dst: str,
    *,
    overwrite: bool,
) -> None:
    """Copy ``src`` to ``dst`` in ``container`` and wait until the copy has finished."""
    source = container.get_blob_client(src)
    target = container.get_blob_client(dst)
    conditions: dict[str, Any] = {} if overwrite else {"match_condition": IF_MISSING}
    with create_only(dst, not overwrite):
        result = target.start_copy_from_url(_source_url(service, source), **conditions)
    status = str(result.get("copy_status") or "success")
    if status != "success":
        _finish_copy(target, str(result.get("copy_id") or ""), src, dst, status)


def _source_url(service: BlobServiceClient, source: BlobClient) -> str:
    url = source.url
    credential = getattr(service, "credential", None)
    if isinstance(credential, AzureSasCredential) and "?" not in url:
        url = f"{url}?{credential.signature.lstrip('?')}"
    return url


def _finish_copy(target: BlobClient, copy_id: str, src: str, dst: str, status: str) -> None:
    delay = 0.05
    done = False
    description = ""
    try:
        while status == "pending":
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            copy = target.get_blob_properties().copy
            if copy_id and copy.id and copy.id != copy_id:
                done = True  # another copy or write replaced ours: it is not ours to judge
                return
            status = str(copy.status or "success")
            description = str(copy.status_description or "")
        done = True
    finally:
        if not done and copy_id:  # interrupted while pending: leave nothing behind
            with contextlib.suppress(HttpResponseError):
                target.abort_copy(copy_id)
            with contextlib.suppress(ResourceNotFoundError):
                target.delete_blob()
    if status != "success":
        with contextlib.suppress(ResourceNotFoundError):
            target.delete_blob()
        raise AzureCopyFailed(f"copy of {src!r} to {dst!r} ended {status}: {description}")
