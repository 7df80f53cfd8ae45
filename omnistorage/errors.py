"""The omnistorage error hierarchy and the one place native errors are mapped.

Every error the Store raises is a :class:`StorageError`. Each carries the
``path`` (store-relative key, when there is one), the ``backend`` name, the
``op`` that failed and whether the failure is ``temporary`` (worth retrying).
The native exception a driver raised is kept as ``__cause__``.

Subclasses that have a natural builtin counterpart also derive from it, so
``except FileNotFoundError`` keeps working: :class:`NotFound` is a
:class:`FileNotFoundError`, :class:`AlreadyExists` a :class:`FileExistsError`,
:class:`PermissionDenied` a :class:`PermissionError`.

Drivers never build these by hand: they raise their native exceptions and
classify them (:meth:`omnistorage.driver.Backend.classify_error`); the Store
turns them into omnistorage errors with :func:`map_error`, exactly once.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from omnistorage._redact import scrub, scrub_exception

__all__ = [
    "AlreadyExists",
    "BackendClosed",
    "BackendUnavailable",
    "BucketMissing",
    "BucketNotFound",
    "CapabilityNotSupported",
    "ChangedDuringRead",
    "Classification",
    "ConfigurationError",
    "CorruptDataError",
    "CorruptRecordError",
    "DataError",
    "DependencyMissing",
    "DirectoryNotEmpty",
    "ErrorKind",
    "InvalidPath",
    "NotFound",
    "ObjectChanged",
    "PermissionDenied",
    "PreconditionFailed",
    "RecordTooLargeError",
    "StorageError",
    "StreamClosed",
    "TruncatedDataError",
    "TruncatedRecordError",
    "VersionMismatch",
    "WriteConflict",
    "map_error",
    "native_cause",
    "redact",
]


class StorageError(Exception):
    """Base of every omnistorage error.

    Attributes:
        path: the store-relative key the operation was about, or ``None``.
        backend: the backend type name (``"s3"``, ``"local"`` …), or ``None``.
        op: the operation that failed (``"read"``, ``"write"`` …), or ``None``.
        temporary: ``True`` when retrying the same call may succeed
            (throttling, timeouts, 5xx). Retry layers retry only these.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        backend: str | None = None,
        op: str | None = None,
        temporary: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.backend = backend
        self.op = op
        self.temporary = temporary

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild,
            (type(self), self.message, self.path, self.backend, self.op, self.temporary),
        )


def _rebuild(
    cls: type[StorageError],
    message: str,
    path: str | None,
    backend: str | None,
    op: str | None,
    temporary: bool,
) -> StorageError:
    return cls(message, path=path, backend=backend, op=op, temporary=temporary)


class NotFound(StorageError, FileNotFoundError):
    """No file (or folder) at the path."""


class BucketNotFound(NotFound):
    """The bucket (S3, GCS), container (Azure Blob) or file share a store lives in does
    not exist: not a missing path, so no listing or ``exists()`` can answer it.

    A :class:`NotFound` (and so a :class:`FileNotFoundError`), so existing
    ``except NotFound`` code keeps catching it; ``Store.exists()`` and
    ``is_file()`` raise it instead of returning ``False``.

    Attributes:
        bucket: the missing bucket's (container's, share's) name, when known.
        noun: what the backend calls it: ``"bucket"``, ``"container"`` or ``"share"``.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        backend: str | None = None,
        op: str | None = None,
        temporary: bool = False,
        bucket: str | None = None,
        noun: str = "bucket",
    ) -> None:
        super().__init__(message, path=path, backend=backend, op=op, temporary=temporary)
        self.bucket = bucket
        self.noun = noun

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_bucket,
            (
                type(self),
                self.message,
                self.path,
                self.backend,
                self.op,
                self.temporary,
                self.bucket,
                self.noun,
            ),
        )


def _rebuild_bucket(
    cls: type[BucketNotFound],
    message: str,
    path: str | None,
    backend: str | None,
    op: str | None,
    temporary: bool,
    bucket: str | None,
    noun: str,
) -> BucketNotFound:
    return cls(
        message, path=path, backend=backend, op=op, temporary=temporary, bucket=bucket, noun=noun
    )


class AlreadyExists(StorageError, FileExistsError):
    """A create-only write, copy or move found something at the target."""


class PermissionDenied(StorageError, PermissionError):
    """The backend refused the operation (credentials, ACLs, file modes)."""


class InvalidPath(StorageError, ValueError):
    """A key broke the key grammar (see :mod:`omnistorage.paths`)."""


class CapabilityNotSupported(StorageError):
    """The backend cannot do this; raised before any I/O."""


class DirectoryNotEmpty(StorageError, OSError):
    """A non-recursive folder delete found entries in the folder."""


class PreconditionFailed(StorageError):
    """A conditional operation's condition (etag, generation) did not hold."""


class ChangedDuringRead(PreconditionFailed):
    """The object changed (overwritten or deleted) while a pinned reader was reading it.

    Readers that span several requests (``read_seekable``, resumed and parallel
    ranged reads) stay on the version they first saw; they raise this rather
    than return bytes of two versions.
    """


class WriteConflict(StorageError):
    """Another writer's publish to the same key raced this one and invalidated it.

    Nothing of this write was published; the other writer's object stands.
    Marked ``temporary``: redoing the whole write may succeed.
    """


class BackendUnavailable(StorageError, ConnectionError):
    """The backend could not be reached (network, server down, timeouts)."""


class BackendClosed(StorageError):
    """The backend (and so every Store over it) was closed."""


class StreamClosed(StorageError, ValueError):
    """A read or write on a stream that was already closed, published or aborted."""


class ConfigurationError(StorageError, ValueError):
    """A configuration, URL or option was wrong (an unknown key, a bad value)."""


class DependencyMissing(ConfigurationError):
    """An optional dependency is not installed; the message names the extra."""


class DataError(StorageError, ValueError):
    """Stored bytes are not what a codec or format expects."""


class CorruptDataError(DataError):
    """A compressed stream or record file has bytes that fail to decode or verify, or a
    server sent bytes that do not match the checksum it sent with them."""


class TruncatedDataError(DataError):
    """A stream ended in the middle of a frame, member or record."""


class LimitExceeded(DataError):
    """Valid data beyond a configured limit (a zstd window above ``max_window_size`` …).

    Not corruption: the message names the option that raises the limit.
    """


class CorruptRecordError(CorruptDataError):
    """A record's checksum or framing is wrong."""


class TruncatedRecordError(TruncatedDataError):
    """A record file ended inside a record."""


class RecordTooLargeError(DataError):
    """A record is larger than the configured ``max_record_size``."""


class ErrorKind(enum.Enum):
    """What a driver says a native exception means."""

    NOT_FOUND = NotFound
    BUCKET_NOT_FOUND = BucketNotFound
    ALREADY_EXISTS = AlreadyExists
    PERMISSION_DENIED = PermissionDenied
    INVALID_PATH = InvalidPath
    NOT_SUPPORTED = CapabilityNotSupported
    DIRECTORY_NOT_EMPTY = DirectoryNotEmpty
    PRECONDITION_FAILED = PreconditionFailed
    CHANGED = ChangedDuringRead
    CONFLICT = WriteConflict
    UNAVAILABLE = BackendUnavailable
    CLOSED = BackendClosed
    CORRUPT = CorruptDataError
    UNKNOWN = StorageError


class ObjectChanged(Exception):
    """Raised by *drivers* (a native exception, not a :class:`StorageError`) when a
    pinned read finds that the object is no longer the version it pinned.

    :func:`classify_builtin` classifies it as :attr:`ErrorKind.CHANGED`, so the
    Store raises :class:`ChangedDuringRead`.
    """


class VersionMismatch(Exception):
    """Raised by *drivers* (a native exception) when a conditional delete
    (``delete_version``) finds another version than the one it was given, and leaves it.

    :func:`classify_builtin` classifies it as :attr:`ErrorKind.PRECONDITION_FAILED`.
    """


class BucketMissing(Exception):
    """Raised by *drivers* (a native exception, not a :class:`StorageError`) when the
    bucket, container or share they are bound to does not exist, where the service's
    own answer cannot say so (a ``HEAD`` answers a bare 404 for a missing object and a
    missing bucket alike; the driver then asked about the bucket).

    :func:`classify_builtin` classifies it as :attr:`ErrorKind.BUCKET_NOT_FOUND`, so
    the Store raises :class:`BucketNotFound`.
    """

    def __init__(self, bucket: str, noun: str = "bucket") -> None:
        super().__init__(f"{noun} {bucket!r} does not exist")
        self.bucket = bucket
        self.noun = noun


@dataclass(frozen=True, slots=True)
class Classification:
    """A driver's verdict on a native exception.

    ``bucket`` and ``noun`` name the missing bucket (container, share) of a
    :attr:`ErrorKind.BUCKET_NOT_FOUND` verdict.
    """

    kind: ErrorKind
    temporary: bool = False
    bucket: str | None = None
    noun: str = "bucket"


def classify_builtin(exc: BaseException) -> Classification:
    """Classify Python's own exceptions; drivers fall back to this."""
    if isinstance(exc, builtins.FileNotFoundError):
        return Classification(ErrorKind.NOT_FOUND)
    if isinstance(exc, builtins.NotADirectoryError):
        # A path component is a file: nothing can exist below it.
        return Classification(ErrorKind.NOT_FOUND)
    if isinstance(exc, builtins.FileExistsError):
        return Classification(ErrorKind.ALREADY_EXISTS)
    if isinstance(exc, ObjectChanged):
        return Classification(ErrorKind.CHANGED)
    if isinstance(exc, VersionMismatch):
        return Classification(ErrorKind.PRECONDITION_FAILED)
    if isinstance(exc, BucketMissing):
        return Classification(ErrorKind.BUCKET_NOT_FOUND, bucket=exc.bucket, noun=exc.noun)
    if isinstance(exc, builtins.PermissionError):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if isinstance(exc, (builtins.TimeoutError, builtins.ConnectionError)):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, builtins.OSError) and exc.errno == 39:  # ENOTEMPTY
        return Classification(ErrorKind.DIRECTORY_NOT_EMPTY)
    return Classification(ErrorKind.UNKNOWN)


_SECRET_MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _SECRET_MASK)
    return text


_KIND_WORDS = {
    ErrorKind.NOT_FOUND: "not found",
    ErrorKind.BUCKET_NOT_FOUND: "does not exist",
    ErrorKind.ALREADY_EXISTS: "already exists",
    ErrorKind.PERMISSION_DENIED: "permission denied",
    ErrorKind.INVALID_PATH: "invalid path",
    ErrorKind.NOT_SUPPORTED: "not supported",
    ErrorKind.DIRECTORY_NOT_EMPTY: "folder not empty",
    ErrorKind.PRECONDITION_FAILED: "precondition failed",
    ErrorKind.CHANGED: "the object changed while it was being read",
    ErrorKind.CONFLICT: "another writer's publish raced this one (retry the write)",
    ErrorKind.UNAVAILABLE: "backend unavailable",
    ErrorKind.CLOSED: "backend closed",
    ErrorKind.CORRUPT: "the bytes received do not match their checksum",
    ErrorKind.UNKNOWN: "storage error",
}


def map_error(
    exc: BaseException,
    classification: Classification,
    *,
    backend: str,
    op: str,
    path: str | None,
    secrets: Iterable[str] = (),
) -> StorageError:
    """Build the omnistorage error for a classified native exception.

    This is the single translation point: the Store calls it at its boundary
    and raises the result ``from native_cause(exc)``. An exception that is already
    a :class:`StorageError` is returned as it is, with missing context filled in.

    It is also where secrets are scrubbed (DESIGN §5b): ``secrets`` (the backend's
    ``secret_values``), every value registered with
    :func:`~omnistorage._redact.protect_secrets` and credential-shaped text
    (``Authorization`` values, tokens, signatures) are removed from the message and
    from every exception the error chains to, in place
    (:func:`~omnistorage._redact.scrub_exception`), so a server that echoes a
    credential in its status line or body cannot put it into ``str``, ``repr`` or a
    formatted traceback.
    """
    secrets = tuple(secrets)
    if isinstance(exc, StorageError):
        if exc.backend is None:
            exc.backend = backend
        if exc.op is None:
            exc.op = op
        if exc.path is None:
            exc.path = path
        cleaned = scrub(exc.message, secrets)
        if cleaned != exc.message:
            if exc.args == (exc.message,):
                exc.args = (cleaned,)
            exc.message = cleaned
        scrub_exception(exc, secrets)
        return exc
    stand_in = scrub_exception(exc, secrets)
    if stand_in is not exc:
        exc._omnistorage_stand_in = stand_in  # type: ignore[attr-defined]
    detail = scrub(f"{type(exc).__name__}: {stand_in if stand_in is not exc else exc}", secrets)
    where = f" {path!r}" if path is not None else ""
    if classification.kind is ErrorKind.BUCKET_NOT_FOUND:
        noun, bucket = classification.noun, classification.bucket
        named = f"the {noun} {bucket!r}" if bucket else f"the {noun}"
        return BucketNotFound(
            f"{op}{where} on {backend}: {named} does not exist ({detail})",
            path=path,
            backend=backend,
            op=op,
            temporary=classification.temporary,
            bucket=bucket,
            noun=noun,
        )
    message = f"{op}{where} on {backend}: {_KIND_WORDS[classification.kind]} ({detail})"
    cls: type[StorageError] = classification.kind.value
    return cls(message, path=path, backend=backend, op=op, temporary=classification.temporary)


def native_cause(exc: BaseException) -> BaseException | None:
    """What to chain a mapped error to: ``exc`` itself (or the
    :class:`~omnistorage._redact.ScrubbedError` that :func:`map_error` made to stand in
    for it when its text held a secret it could not remove in place), or, when ``exc``
    is already a :class:`StorageError` (a layer or a mirror raised it), its own native
    cause, so an error is never its own ``__cause__``."""
    if isinstance(exc, StorageError):
        return exc.__cause__
    stand_in: BaseException | None = getattr(exc, "_omnistorage_stand_in", None)
    return exc if stand_in is None else stand_in
