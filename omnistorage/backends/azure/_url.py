"""``az://``, ``azure://`` and ``abfs://`` URLs → backend options (the registry adds the query)."""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, unquote

from omnistorage.errors import ConfigurationError

__all__ = ["parse_url"]


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``az://container/prefix``, ``azure://container/prefix`` or
    ``abfs://container@account.dfs.core.windows.net/prefix``.

    Returns ``({"container": ..., ["account_url": ...]}, prefix)``. Other options
    (``connection_string``, ``sas_token`` …) come from the query string; without
    any, the connection string in ``AZURE_STORAGE_CONNECTION_STRING`` is used.
    """
    netloc = unquote(split.netloc)
    options: dict[str, Any] = {}
    if split.scheme.lower() in ("abfs", "abfss"):
        container, at, host = netloc.partition("@")
        if not at or not host:
            raise ConfigurationError(
                f"abfs URLs look like abfs://container@account.dfs.core.windows.net/path, "
                f"got {split.scheme}://{split.netloc}"
            )
        blob_host = host.replace(".dfs.", ".blob.", 1)
        options["account_url"] = f"https://{blob_host}"
    else:
        container = netloc
    if not container:
        raise ConfigurationError(
            f"{split.scheme} URLs name a container: {split.scheme}://container/prefix"
        )
    if "@" in container or ":" in container:
        # user:password@ is no container name; never echo it (it may hold a password)
        raise ConfigurationError(
            f"{split.scheme} URLs take no user-info; pass credentials as options"
        )
    options["container"] = container
    return options, unquote(split.path).strip("/")
