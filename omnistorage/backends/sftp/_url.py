"""``sftp://`` URLs → backend options (the registry adds the query parameters)."""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, unquote

from omnistorage._redact import protect_secrets
from omnistorage.errors import ConfigurationError

__all__ = ["parse_url"]


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``sftp://user[:password]@host[:port]/abs/folder`` → backend options, store root.

    The URL path is the backend's absolute ``root`` folder; the store root
    inside the backend is ``""``. Query parameters (``key_filename``,
    ``known_hosts``, ``host_key_policy``, ``timeout`` …) are added by the registry.
    A password is registered with :func:`~omnistorage._redact.protect_secrets` in
    both its URL-encoded and decoded forms before anything else can fail, and no
    error raised here quotes the URL.
    """
    if split.password:
        protect_secrets(split.password, unquote(split.password))
    host = split.hostname
    if not host:
        raise ConfigurationError("sftp URLs need a host: sftp://user@host[:port]/folder")
    try:
        port = split.port
    except ValueError as exc:
        raise ConfigurationError("the port of an sftp URL must be a number 1-65535") from exc
    options: dict[str, Any] = {"host": unquote(host)}
    if port is not None:
        options["port"] = port
    if split.username:
        options["username"] = unquote(split.username)
    if split.password is not None:
        options["password"] = unquote(split.password)
    path = unquote(split.path)
    options["root"] = path if path.startswith("/") else "/"
    return options, ""
