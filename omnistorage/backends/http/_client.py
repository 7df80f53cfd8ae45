"""The HTTP client: one urllib3 ``PoolManager``, timeouts, a bounded retry budget, auth.

Why urllib3: it is already installed with the S3 and GCS extras (botocore and
requests build on it), it is the thread-safe connection pool those clients
trust, and it has exactly what a read-only driver needs (per-request connect
and read timeouts, streamed bodies that enforce ``Content-Length``, and a
``Retry`` policy with backoff and ``Retry-After``) without a session layer
that would read proxy settings or ``.netrc`` credentials from the environment
behind the caller's back. Its logger ``urllib3`` is scrubbed by
:mod:`omnistorage._redact`.

Retries: only ``GET`` and ``HEAD`` are sent, both idempotent. A refused or
timed-out connection, a reply lost before its headers, and the statuses of
:data:`~omnistorage.backends.http._errors.TEMPORARY_STATUS` are retried
``retries`` times with exponential backoff (0 s, 0.5 s, 1 s … at most 2 s),
honouring ``Retry-After`` up to :data:`MAX_RETRY_AFTER` seconds; after that
the last answer is returned (and raised as a typed, temporary error that
carries the server's ``Retry-After`` for a :class:`~omnistorage.ext.RetryLayer`).
With the defaults a server that is down fails within about 10 s. No retry starts
once it could not end within the retry budget (:mod:`omnistorage._net`), so a
server that accepts connections and stays silent fails after one ``read_timeout``.
A body cut mid-stream is resumed by the reader (:mod:`._reader`), not here.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import urllib3
from urllib3.util.retry import Retry

from omnistorage._net import RetryBudget
from omnistorage._redact import protect_secrets
from omnistorage.backends.http._errors import TEMPORARY_STATUS

__all__ = ["MAX_RETRY_AFTER", "Client", "auth_header"]

MAX_RETRY_AFTER = 2.0
"""The longest ``Retry-After`` the client sleeps between its own attempts."""

_BACKOFF_FACTOR = 0.25
_BACKOFF_MAX = 2.0
_USER_AGENT = "omnistorage-http/0.1"


class _BoundedRetry(Retry):
    """urllib3's ``Retry`` with ``Retry-After`` cut to :data:`MAX_RETRY_AFTER` seconds,
    exhausted once another attempt would not fit the call's retry budget."""

    def __init__(
        self, *args: Any, budget: RetryBudget | None = None, started: float | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.budget = budget
        self.started = time.monotonic() if started is None else started

    def new(self, **kw: Any) -> _BoundedRetry:
        kw.setdefault("budget", self.budget)
        kw.setdefault("started", self.started)
        return super().new(**kw)

    def is_exhausted(self) -> bool:
        if super().is_exhausted():
            return True
        budget = self.budget
        return (
            bool(self.history)
            and budget is not None
            and not budget.allows(self.started, self.get_backoff_time())
        )

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def auth_header(
    username: str | None, password: str | None, bearer_token: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """The ``Authorization`` value for the credentials, and every secret string it involves
    (registered with the log scrubber)."""
    if bearer_token is not None:
        value = f"Bearer {bearer_token}"
        secrets: tuple[str, ...] = (bearer_token, value)
    elif username is not None:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
        value = f"Basic {token}"
        secrets = (token, value) + ((password,) if password else ())
    else:
        return None, ()
    protect_secrets(*secrets)
    return value, secrets


class Client:
    """GET and HEAD requests with the backend's timeouts, retry budget and credentials."""

    def __init__(
        self,
        *,
        authorization: str | None,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        verify: bool,
        budget: RetryBudget | None = None,
        ca_file: str | None,
        max_connections: int,
    ) -> None:
        self.retries = retries
        self.budget = budget
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
        if authorization is not None:
            headers["Authorization"] = authorization
        self._headers = headers
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
        if ca_file is not None:
            tls["ca_certs"] = ca_file
        self.pool = urllib3.PoolManager(
            num_pools=4, maxsize=max_connections, block=False, retries=False, **tls
        )

    def _retry(self) -> Retry:
        n = self.retries
        return _BoundedRetry(
            total=n,
            connect=n,
            read=n,
            status=n,
            other=0,
            redirect=False,
            allowed_methods=frozenset({"GET", "HEAD"}),
            status_forcelist=TEMPORARY_STATUS,
            backoff_factor=_BACKOFF_FACTOR,
            backoff_max=_BACKOFF_MAX,
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=True,
            budget=self.budget,
        )

    def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, *, stream: bool = False
    ) -> urllib3.BaseHTTPResponse:
        """Send ``method url`` (retried as the module docstring says) and return the answer,
        whatever its status. With ``stream`` the body is left to be read (and the caller
        must ``release_conn()`` or read it to the end)."""
        sent = dict(self._headers)
        if headers:
            sent.update(headers)
        return self.pool.urlopen(
            method,
            url,
            headers=sent,
            retries=self._retry(),
            redirect=False,
            timeout=self._timeout,
            preload_content=not stream,
            decode_content=False,
        )

    def close(self) -> None:
        self.pool.clear()
