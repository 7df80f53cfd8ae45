"""What GCS's native exceptions mean: one classifier for every call the driver makes.

The client library raises ``google.api_core`` exceptions for service answers,
``google.auth`` exceptions for credential problems, and ``requests``/``urllib3``
exceptions for transport failures. The driver raises them unchanged, except
for requests to a resumable upload session, which fail with
:class:`ResumableUploadError` (so the session URI stays out of messages).
Every 412 means "already exists": only create-only requests carry a
precondition. GCS says "The specified bucket does not exist." in a missing
bucket's 404 (:attr:`~omnistorage.errors.ErrorKind.BUCKET_NOT_FOUND`); where the
answer has no reason (a ``HEAD``, an emulator) the driver asks about the bucket
(:mod:`omnistorage.backends._bucket`).
"""

from __future__ import annotations

import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

try:
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
except ImportError:  # google-cloud-storage < 3
    from google.resumable_media.common import DataCorruption, InvalidResponse

from omnistorage.errors import Classification, ErrorKind, classify_builtin

__all__ = [
    "CONNECTION_ERRORS",
    "TEMPORARY_STATUS",
    "DataCorruption",
    "InvalidResponse",
    "ResumableUploadError",
    "classify",
]

TEMPORARY_STATUS = frozenset({408, 429})

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    auth_exceptions.TransportError,
)


class ResumableUploadError(Exception):
    """A request to a resumable upload session failed.

    Raised instead of the HTTP library's own exception so that the session URI
    (which lets anyone holding it upload) stays out of messages and tracebacks.

    Attributes:
        status: the HTTP status, or ``None`` when the connection failed.
        temporary: ``True`` when retrying the write may succeed.
    """

    def __init__(self, message: str, *, status: int | None, temporary: bool) -> None:
        super().__init__(message)
        self.status = status
        self.temporary = temporary


def classify(exc: BaseException) -> Classification:
    """What ``exc`` means for the Store (:meth:`GCSBackend.classify_error`)."""
    if isinstance(exc, ResumableUploadError):
        if exc.status is None:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return _classify_status(exc.status)
    if isinstance(exc, api_exceptions.RetryError):
        cause = exc.cause
        if cause is not None and cause is not exc:
            found = classify(cause)
            return Classification(found.kind, temporary=True)
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.code
        if code == 404 and "bucket does not exist" in str(exc.message):
            return Classification(ErrorKind.BUCKET_NOT_FOUND)  # GCS's own words
        return (
            _classify_status(int(code)) if code is not None else Classification(ErrorKind.UNKNOWN)
        )
    if isinstance(exc, InvalidResponse):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int):
            return _classify_status(status)
        return Classification(ErrorKind.UNKNOWN)
    if isinstance(exc, auth_exceptions.RefreshError):
        return Classification(
            ErrorKind.PERMISSION_DENIED, temporary=bool(getattr(exc, "retryable", False))
        )
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if isinstance(exc, CONNECTION_ERRORS):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, requests.exceptions.RequestException):
        return Classification(ErrorKind.UNKNOWN)
    return classify_builtin(exc)


def _classify_status(status: int) -> Classification:
    if status == 404:
        return Classification(ErrorKind.NOT_FOUND)
    if status == 412:  # only create-only requests carry a precondition
        return Classification(ErrorKind.ALREADY_EXISTS)
    if status in (401, 403):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if status in TEMPORARY_STATUS or status >= 500:
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    return Classification(ErrorKind.UNKNOWN)
