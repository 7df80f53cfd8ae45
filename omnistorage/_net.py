"""Network defaults every network backend shares (S3, GCS, Azure, SFTP, HTTP).

Each network backend takes ``connect_timeout`` and ``read_timeout`` (seconds)
and ``retries`` (extra attempts after the first, for temporary errors only,
inside the client library), with these defaults. A server that is down or a
port that is closed fails within about 10 s with
:class:`~omnistorage.errors.BackendUnavailable` (``temporary=True``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_RETRIES",
    "endpoint_authority",
]

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_RETRIES = 2


def endpoint_authority(url: str) -> str:
    """A service endpoint URL as a canonical, credential-free authority for
    :class:`~omnistorage.models.Location`: lowercase scheme and host, the default port
    dropped, no user-info, query or trailing ``/`` (the path stays: an emulator's account
    may live there). ``https://S3.example.com:443/`` and ``https://s3.example.com`` are
    one authority."""
    split = urlsplit(url.strip())
    scheme = split.scheme.lower()
    host = (split.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = split.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = split.path.rstrip("/")
    return f"{scheme}://{host}{path}" if scheme else f"{host}{path}"


_DEFAULT_PORTS = {"http": 80, "https": 443}
