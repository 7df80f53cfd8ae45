"""What S3's native exceptions mean: one classifier for every call the driver makes.

botocore raises :class:`botocore.exceptions.ClientError` for service answers
(``NoSuchKey``, ``PreconditionFailed``, ``SlowDown`` …) and subclasses of
:class:`botocore.exceptions.BotoCoreError` for transport failures. The driver
raises them unchanged, with two exceptions of its own:

- :class:`ObjectExistsError` (a :class:`FileExistsError`): a create-only write
  or copy found an object at the key — S3 answered ``412`` to
  ``If-None-Match: *``, or the fail-fast ``HEAD`` found one. A ``412`` on any
  other conditional request stays a ``ClientError`` and is classified
  ``PRECONDITION_FAILED``.
- :class:`ObjectChangedError`: a parallel ranged read saw the object replaced
  between two ranges (``If-Match`` on the first ETag failed).

``NoSuchBucket`` is :attr:`~omnistorage.errors.ErrorKind.BUCKET_NOT_FOUND`, never
a missing key. A ``HEAD`` cannot carry that code (S3 answers a bare 404), so the
driver asks about the bucket after an ambiguous 404
(:mod:`omnistorage.backends._bucket`) and raises
:class:`~omnistorage.errors.BucketMissing` when it is gone.

:func:`retry_temporary` retries idempotent clean-up and block fetches (aborting an
upload, one range of a parallel read) on top of botocore's own retries.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import urllib3.exceptions

from omnistorage._net import RetryBudget
from omnistorage.errors import Classification, ErrorKind, classify_builtin

__all__ = [
    "ObjectChangedError",
    "ObjectExistsError",
    "classify",
    "error_code",
    "error_status",
    "is_precondition_failed",
    "retry_temporary",
]


class ObjectExistsError(FileExistsError):
    """A create-only write or copy found an object at the key (classified ``ALREADY_EXISTS``)."""


class ObjectChangedError(Exception):
    """The object changed while it was being read range by range (``PRECONDITION_FAILED``)."""


_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AccountProblem",
        "InvalidObjectState",
        "403",
    }
)
_TEMPORARY_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "OperationAborted",
        "500",
        "502",
        "503",
        "504",
    }
)
_INVALID_PATH_CODES = frozenset({"KeyTooLongError", "InvalidObjectName"})
_NOT_SUPPORTED_CODES = frozenset({"NotImplemented", "501"})

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.IncompleteReadError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def error_status(exc: BaseException) -> int:
    """The HTTP status of a ``ClientError`` (``0`` for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        meta: Any = exc.response.get("ResponseMetadata", {})
        return int(meta.get("HTTPStatusCode", 0) or 0)
    return 0


def is_precondition_failed(exc: BaseException) -> bool:
    """True for S3's answer to a failed ``If-None-Match`` / ``If-Match`` condition."""
    return error_code(exc) == "PreconditionFailed" or error_status(exc) == 412


def classify(exc: BaseException) -> Classification:
    """Classify one exception raised by the S3 driver (see the module docstring)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return _classify_client_error(exc)
    if isinstance(exc, ObjectChangedError):
        return Classification(ErrorKind.PRECONDITION_FAILED)
    if isinstance(exc, botocore.exceptions.SSLError):
        return Classification(ErrorKind.UNAVAILABLE)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(
        exc, (botocore.exceptions.ChecksumError, botocore.exceptions.FlexibleChecksumError)
    ):
        return Classification(ErrorKind.UNKNOWN, temporary=True)
    if isinstance(
        exc,
        (
            botocore.exceptions.NoCredentialsError,
            botocore.exceptions.PartialCredentialsError,
            botocore.exceptions.CredentialRetrievalError,
        ),
    ):
        return Classification(ErrorKind.PERMISSION_DENIED)
    return classify_builtin(exc)


def _classify_client_error(exc: botocore.exceptions.ClientError) -> Classification:
    code = error_code(exc)
    status = error_status(exc)
    if code == "NoSuchBucket":
        bucket = exc.response.get("Error", {}).get("BucketName")
        return Classification(ErrorKind.BUCKET_NOT_FOUND, bucket=str(bucket) if bucket else None)
    if code in _NOT_FOUND_CODES or status == 404:
        return Classification(ErrorKind.NOT_FOUND)
    if is_precondition_failed(exc):
        return Classification(ErrorKind.PRECONDITION_FAILED)
    if code == "ConditionalRequestConflict":
        # Another conditional write to the key was in flight; S3 says to retry.
        return Classification(ErrorKind.PRECONDITION_FAILED, temporary=True)
    if code in _DENIED_CODES or status == 403:
        return Classification(ErrorKind.PERMISSION_DENIED)
    if code in _TEMPORARY_CODES or status in (429, 500, 502, 503, 504):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if code in _INVALID_PATH_CODES:
        return Classification(ErrorKind.INVALID_PATH)
    if code in _NOT_SUPPORTED_CODES or status == 501:
        return Classification(ErrorKind.NOT_SUPPORTED)
    return Classification(ErrorKind.UNKNOWN, temporary=status >= 500)


def retry_temporary(
    call: Callable[[], Any],
    attempts: int,
    first_delay: float = 0.2,
    budget: RetryBudget | None = None,
) -> Any:
    """``call()``, retried with exponential backoff while it fails with a temporary error
    (and, with a ``budget``, while another attempt fits it: :mod:`omnistorage._net`)."""
    delay = first_delay
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts or not classify(exc).temporary:
                raise
            if budget is not None and not budget.allows(started, delay):
                raise
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover
