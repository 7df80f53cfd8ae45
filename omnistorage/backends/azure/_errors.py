"""What the Azure SDK's exceptions mean: one classifier for every call the driver makes.

The driver raises the SDK's exceptions unchanged, plus :class:`AzureCopyFailed`
for a server-side copy that ends ``failed`` or ``aborted``. ``ContainerNotFound``
is :attr:`~omnistorage.errors.ErrorKind.BUCKET_NOT_FOUND` (Azure names it in every
answer, ``HEAD`` included), never a missing blob. Create-only calls
send ``If-None-Match: *`` (:data:`IF_MISSING`); :func:`create_only` turns the
service's 412 into :class:`FileExistsError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from omnistorage.errors import Classification, ErrorKind, classify_builtin

__all__ = [
    "CONTAINER_MISSING_CODES",
    "IF_MISSING",
    "AzureCopyFailed",
    "classify",
    "create_only",
    "error_code",
]

_TEMPORARY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_EXISTS_CODES = frozenset(
    {"BlobAlreadyExists", "ContainerAlreadyExists", "PathAlreadyExists", "ResourceAlreadyExists"}
)
_BUSY_CODES = frozenset({"ContainerBeingDeleted", "ServerBusy", "OperationTimedOut"})
CONTAINER_MISSING_CODES = frozenset({"ContainerNotFound", "FilesystemNotFound"})
"""The codes of a missing container (Blob API) or file system (Data Lake API)."""

IF_MISSING = MatchConditions.IfMissing


class AzureCopyFailed(Exception):
    """A server-side copy ended ``failed`` or ``aborted`` (the service's status says why)."""


def error_code(exc: BaseException) -> str | None:
    """The service's error code (``BlobNotFound`` …), which the SDK attaches to its errors."""
    code = getattr(exc, "error_code", None)
    return None if code is None else str(getattr(code, "value", code))


def classify(exc: BaseException) -> Classification:
    """What ``exc`` means for the Store (:meth:`AzureBackend.classify_error`)."""
    code = error_code(exc)
    if code in CONTAINER_MISSING_CODES:
        return Classification(ErrorKind.BUCKET_NOT_FOUND, noun="container")
    if isinstance(exc, ResourceNotFoundError):
        return Classification(ErrorKind.NOT_FOUND)
    if isinstance(exc, ResourceExistsError):
        # The SDK raises this for every 409, not only for "already exists".
        if code is None or code in _EXISTS_CODES:
            return Classification(ErrorKind.ALREADY_EXISTS)
        if code in _BUSY_CODES:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return Classification(ErrorKind.UNKNOWN)
    if isinstance(exc, ResourceModifiedError):
        return Classification(ErrorKind.PRECONDITION_FAILED)
    if isinstance(exc, ClientAuthenticationError):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if isinstance(exc, IncompleteReadError):  # the connection dropped mid-body
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        if code == "InvalidBlockList":
            # Another writer committed this name and discarded our staged blocks: the
            # race of two overwrites. Nothing of ours was published; redoing may work.
            return Classification(ErrorKind.CONFLICT, temporary=True)
        if status in (401, 403):
            return Classification(ErrorKind.PERMISSION_DENIED)
        if status == 404:
            return Classification(ErrorKind.NOT_FOUND)
        if status == 412:
            return Classification(ErrorKind.PRECONDITION_FAILED)
        if status in _TEMPORARY_STATUS or code in _BUSY_CODES:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return Classification(ErrorKind.UNKNOWN)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, (AzureError, AzureCopyFailed)):
        return Classification(ErrorKind.UNKNOWN)
    return classify_builtin(exc)


@contextlib.contextmanager
def create_only(key: str, create_only: bool) -> Iterator[None]:
    """Turn a failed ``If-None-Match: *`` (412) into "already exists" for create-only calls."""
    try:
        yield
    except (ResourceModifiedError, HttpResponseError) as exc:
        if create_only and exc.status_code == 412:
            raise FileExistsError(f"blob {key!r} already exists") from exc
        raise
