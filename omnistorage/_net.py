"""Network defaults every network backend shares (S3, GCS, Azure, SFTP, HTTP).

Each network backend takes ``connect_timeout`` and ``read_timeout`` (seconds)
and ``retries`` (extra attempts after the first, for temporary errors only,
inside the client library), with these defaults. A server that is down or a
port that is closed fails within about 10 s with
:class:`~omnistorage.errors.BackendUnavailable` (``temporary=True``).
"""

from __future__ import annotations

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_READ_TIMEOUT", "DEFAULT_RETRIES"]

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_RETRIES = 2
