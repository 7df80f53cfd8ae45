"""What the HTTP driver's native exceptions mean: one classifier, one status table.

The driver raises urllib3's exceptions for transport failures and its own for
answers it cannot use:

- :class:`HTTPStatusError`: the server answered a status the operation cannot
  use. Every status has a meaning (:func:`classify_status`):

  ==========================================  =====================  =========
  status                                      kind                   temporary
  ==========================================  =====================  =========
  301/302/303/307/308 to the key + ``/``      NOT_FOUND (a folder)   no
  other 3xx (redirects are not followed)      UNKNOWN                no
  414 (the URL is too long)                   INVALID_PATH           no
  401, 403, 407                               PERMISSION_DENIED      no
  404, 410                                    NOT_FOUND              no
  405, 501 (method not offered)               NOT_SUPPORTED          no
  408, 425, 429, 500, 502, 503, 504           UNAVAILABLE            yes
  412, 416 (outside reads, which handle them) PRECONDITION_FAILED    no
  other 4xx                                   UNKNOWN                no
  other 5xx                                   UNAVAILABLE            yes
  anything else unexpected (1xx, 2xx, 304)    UNKNOWN                no
  ==========================================  =====================  =========

  Reads handle 206, 416 (an offset at or past the end: no bytes) and, in pinned
  and resumed reads, 200/404/410/412/416 as "the object changed"
  (:class:`~omnistorage.errors.ObjectChanged`).
- :class:`ListingNotOffered`: ``list`` on a backend configured without a
  listing (``NOT_SUPPORTED``, raised before any I/O).
- :class:`ListingFormatError`: a folder URL answered something that is not the
  configured index format (``UNKNOWN``).
- :class:`ReadOnlyError`: a change was asked of the read-only driver directly
  (``PERMISSION_DENIED``; the Store refuses changes before they get here).
- :class:`UnexpectedRange`: a 206 for another range than the one asked for.

urllib3's transport errors (refused or timed-out connections, dropped
replies, cut bodies) are ``UNAVAILABLE`` and temporary; TLS failures are
``UNAVAILABLE`` and not temporary (a bad certificate does not heal).
"""

from __future__ import annotations

import http.client
from email.utils import parsedate_to_datetime

import urllib3.exceptions

from omnistorage.errors import Classification, ErrorKind, classify_builtin

__all__ = [
    "TEMPORARY_STATUS",
    "HTTPStatusError",
    "ListingFormatError",
    "ListingNotOffered",
    "ReadOnlyError",
    "UnexpectedRange",
    "classify",
    "classify_status",
    "parse_retry_after",
]

TEMPORARY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Statuses worth retrying: timeouts, throttling and server-side failures."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HTTPStatusError(Exception):
    """The server answered ``status`` to ``method url``.

    Attributes:
        status: the HTTP status code.
        folder: the answer was a redirect to the key's folder URL (``key/``): the key
            names a folder, not a file.
        retry_after: seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        method: str,
        url: str,
        *,
        folder: bool = False,
        retry_after: float | None = None,
    ) -> None:
        detail = f"HTTP {status} {reason}".rstrip()
        if folder:
            detail += " (a folder: the server redirects to its URL with a trailing /)"
        elif status in _REDIRECTS:
            detail += " (redirected elsewhere; the http backend does not follow redirects)"
        super().__init__(f"{detail} for {method} {url}")
        self.status = status
        self.folder = folder
        self.retry_after = retry_after


class ListingNotOffered(Exception):
    """``list`` on a backend without a listing (``listing="none"``); no request was made."""


class ListingFormatError(Exception):
    """A folder URL answered something that is not the configured index format."""


class ReadOnlyError(PermissionError):
    """A change was asked of the read-only HTTP driver."""


class UnexpectedRange(Exception):
    """The server answered a ranged request with another range than the one asked for."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_status(status: int, *, folder: bool = False) -> Classification:
    """What an unusable HTTP status means (the table in the module docstring)."""
    if folder or status in (404, 410):
        return Classification(ErrorKind.NOT_FOUND)
    if status in (401, 403, 407):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if status == 414:
        return Classification(ErrorKind.INVALID_PATH)
    if status in (405, 501):
        return Classification(ErrorKind.NOT_SUPPORTED)
    if status in (412, 416):
        return Classification(ErrorKind.PRECONDITION_FAILED)
    if status in TEMPORARY_STATUS or 500 <= status <= 599:
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    return Classification(ErrorKind.UNKNOWN)


_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


def classify(exc: BaseException) -> Classification:
    """Classify one exception raised by the HTTP driver (see the module docstring)."""
    if isinstance(exc, HTTPStatusError):
        return classify_status(exc.status, folder=exc.folder)
    if isinstance(exc, ListingNotOffered):
        return Classification(ErrorKind.NOT_SUPPORTED)
    if isinstance(exc, ReadOnlyError):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return classify(exc.reason)
    if isinstance(exc, urllib3.exceptions.SSLError):
        return Classification(ErrorKind.UNAVAILABLE)
    if isinstance(exc, urllib3.exceptions.LocationParseError):
        return Classification(ErrorKind.INVALID_PATH)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    return classify_builtin(exc)
