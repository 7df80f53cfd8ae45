"""Hierarchical namespace (Data Lake Gen2): detection, and the atomic server-side rename.

Detection asks ``get_account_information()`` once, without retries, and only
for ``*.blob.*`` endpoints (so never an emulator); any failure means "no
hierarchical namespace". The rename goes through ``azure-storage-file-datalake``
(imported on first use) and can be verified only against a real HNS account.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient

from omnistorage.backends.azure._errors import IF_MISSING, create_only, error_code

__all__ = ["datalake_service", "dfs_url", "has_hns", "rename_file"]

_log = logging.getLogger("omnistorage.backends.azure")


def has_hns(clients: Iterable[Any]) -> bool:
    """Whether the account has a hierarchical namespace, asking each client in turn."""
    for client in clients:
        try:
            # No retries: an unreachable endpoint must not stall Store() for minutes.
            info = client.get_account_information(retry_total=0)
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            _log.debug("azure: account information unavailable (%s)", type(exc).__name__)
            continue
        value = info.get("is_hns_enabled")
        if value is not None:
            return bool(value)
    return False


def dfs_url(service: BlobServiceClient) -> str | None:
    """The Data Lake endpoint of a ``*.blob.*`` endpoint, else ``None``."""
    parts = urlsplit(service.url)
    host = parts.hostname or ""
    if ".blob." not in host:
        return None
    return parts._replace(netloc=parts.netloc.replace(".blob.", ".dfs.", 1)).geturl()


def datalake_service(service: BlobServiceClient) -> Any:
    """A ``DataLakeServiceClient`` for the account of ``service``, with its credential."""
    from azure.storage.filedatalake import DataLakeServiceClient

    credential = getattr(service, "credential", None)
    name = getattr(credential, "account_name", None)
    key = getattr(credential, "account_key", None)
    if name and key:
        credential = {"account_name": name, "account_key": key}
    return DataLakeServiceClient(dfs_url(service) or "", credential=credential)


def rename_file(file_system: Any, container: str, src: str, dst: str, *, overwrite: bool) -> None:
    """Rename ``src`` to ``dst``; create-only with ``If-None-Match: *``."""
    # The SDK unquotes the source path before quoting it again: pre-quote it so a key
    # holding '%' keeps its name.
    source = file_system.get_file_client(quote(src, safe="/"))
    conditions: dict[str, Any] = {} if overwrite else {"match_condition": IF_MISSING}
    new_name = f"{container}/{dst}"
    with create_only(dst, not overwrite):
        try:
            source.rename_file(new_name, **conditions)
        except ResourceNotFoundError as exc:
            parent = dst.rpartition("/")[0]
            if error_code(exc) != "RenameDestinationParentPathNotFound" or not parent:
                raise
            file_system.get_directory_client(parent).create_directory()
            source.rename_file(new_name, **conditions)
