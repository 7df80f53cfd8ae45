"""The streaming S3 writer: one ``PutObject``, or a bounded-memory multipart upload.

- Data is buffered up to the current part size. An object that ends within
  one part is sent with one ``PutObject`` on :meth:`S3Writer.close`.
- When the caller gives the size (``size_hint``: ``Store.write`` of bytes,
  sync from the listing) and it is at most the single-PUT cutoff
  (:meth:`UploadSettings.single_put_limit`: ``(max_concurrency + 1) x
  part_size``, the memory a multipart upload may hold anyway), the object is
  buffered whole and sent with one ``PutObject`` too: one request instead of
  create, parts and complete. If more data than that arrives (a wrong
  hint), the writer turns to a multipart upload from the buffered data on.
- Otherwise a multipart upload starts when the second part begins; parts go
  out on a small thread pool with at most ``max_concurrency`` in flight, so
  memory stays near ``(max_concurrency + 1) x part size``. Part sizes follow
  :func:`~omnistorage.backends.s3._config.layout`.
- :meth:`S3Writer.close` sends the last part and ``CompleteMultipartUpload``;
  nothing is visible before that call returns.
- Create-only (``overwrite=False``) sends ``If-None-Match: *`` on
  ``PutObject`` and on ``CompleteMultipartUpload``: of racing writers exactly
  one wins, the others get :class:`ObjectExistsError`. A multipart create-only
  upload also checks with ``HEAD`` before sending its first part, to fail fast
  instead of uploading gigabytes for nothing (the conditional complete is
  still the guard).
- :meth:`S3Writer.abort` and every failure wait for the parts in flight and
  send ``AbortMultipartUpload`` (retried on temporary errors), so no
  incomplete upload is left behind. If even that fails (the network stays
  down), the upload stays incomplete: a bucket lifecycle rule
  ``AbortIncompleteMultipartUpload`` is the backstop.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import botocore.exceptions

from omnistorage._upload import PartPool, PartStream
from omnistorage.backends.s3._config import (
    MAX_OBJECT_SIZE,
    MAX_PARTS,
    layout,
)
from omnistorage.backends.s3._errors import (
    ObjectExistsError,
    classify,
    error_code,
    error_status,
    is_precondition_failed,
    retry_temporary,
)
from omnistorage.driver import WriteOptions, Writer
from omnistorage.errors import ErrorKind

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "S3Writer",
    "UploadSettings",
    "complete_upload",
    "metadata_problem",
    "multipart_etag",
]

_ABORT_ATTEMPTS = 5
_CHECKSUM: Literal["CRC32"] = "CRC32"
"""Per-part checksum of multipart uploads (as boto3's ``upload_file`` does): S3 checks each
part and the composite, and the completed object carries a ``CRC32`` composite checksum."""
_CONFLICT_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class UploadSettings:
    """What a writer needs from its backend."""

    client: S3Client
    bucket: str
    part_size: int
    max_concurrency: int

    def single_put_limit(self) -> int:
        """The largest object a writer given its size sends with one ``PutObject``: the
        memory a multipart upload holds (parts in flight plus the one filling)."""
        return (self.max_concurrency + 1) * self.part_size


def multipart_etag(part_etags: list[str]) -> str:
    """The ETag S3 gives a completed multipart upload with these part ETags."""
    digest = hashlib.md5(usedforsecurity=False)
    for etag in part_etags:
        digest.update(bytes.fromhex(etag.strip('"')))
    return f"{digest.hexdigest()}-{len(part_etags)}"


class S3Writer(Writer):
    """A create-only or overwriting streaming write of one key (see the module docstring).

    Used by one thread at a time, like any file object.
    """

    def __init__(self, settings: UploadSettings, key: str, options: WriteOptions) -> None:
        if options.size_hint is not None and options.size_hint > MAX_OBJECT_SIZE:
            raise ValueError(f"{options.size_hint} bytes is more than S3's 5 TiB object limit")
        self._s = settings
        self._key = key
        self._options = options
        self._layout = layout(settings.part_size, settings.single_put_limit())
        self._base = self._layout.base(options.size_hint)
        # Bytes that may be buffered for one PutObject (0: stream in parts as they fill).
        limit = self._layout.single_put_max
        hint = options.size_hint
        self._single = limit if hint is not None and hint <= limit else 0
        self._whole = bytearray()  # the object, while it may still go in one PutObject
        self._stream = PartStream(lambda n: self._layout.size_of(n, self._base), self._send_part)
        self._upload_id: str | None = None
        self._pool: PartPool[dict[str, Any]] = PartPool(
            settings.max_concurrency, "omnistorage-s3-upload"
        )
        self._done = False

    # ------------------------------------------------------------ Writer

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError(f"write to a finished S3 writer for {self._key!r}")
        view = memoryview(data).cast("B")
        size = view.nbytes
        if self._single:
            if len(self._whole) + size <= self._single:
                self._whole += view
                return size
            # More than the caller said: stream in parts from here, the buffer first.
            self._stream.feed(memoryview(self._end_single()))
        self._stream.feed(view)
        return size

    def _end_single(self) -> bytearray:
        """Leave single-PutObject mode; return what was buffered for it."""
        self._single = 0
        whole, self._whole = self._whole, bytearray()
        return whole

    def close(self) -> None:
        if self._done:
            raise ValueError(f"S3 writer for {self._key!r} already finished")
        self._done = True
        try:
            if self._upload_id is None:
                self._put(self._end_single() if self._single else self._stream.take())
            else:
                self._stream.flush_part()
                self._pool.drain()
                self._complete()
        except BaseException as exc:
            try:
                self._discard()
            except Exception as cleanup:  # noqa: BLE001 - the publish error is the one raised
                exc.add_note(f"aborting the multipart upload failed too: {cleanup!r}")
            raise
        finally:
            self._pool.stop()

    def abort(self) -> None:
        self._done = True
        self._discard()

    def stage(self) -> dict[str, Any]:
        """Upload every byte as the parts of a multipart upload (at least one, even for an
        empty object) and leave it incomplete: ``CompleteMultipartUpload`` is the publish
        (:func:`complete_upload`). Returns the upload id and the parts' numbers, ETags and
        checksums."""
        if self._done:
            raise ValueError(f"S3 writer for {self._key!r} already finished")
        self._done = True
        try:
            if self._single:  # the buffered object goes as one part (parts may be that big)
                self._stream.buffer = self._end_single()
            self._stream.flush_part(empty_too=self._stream.sent == 0)
            self._pool.drain()
            parts = self._pool.ordered()
            staged = {
                "key": self._key,
                "upload": self._upload_id,
                "parts": [
                    [p["PartNumber"], p["ETag"].strip('"'), p.get(f"Checksum{_CHECKSUM}", "")]
                    for p in parts
                ],
            }
            self._upload_id = None  # handed over: the token owns it now
            return staged
        except BaseException as exc:
            try:
                self._discard()
            except Exception as cleanup:  # noqa: BLE001 - the staging error is the one raised
                exc.add_note(f"aborting the multipart upload failed too: {cleanup!r}")
            raise
        finally:
            self._pool.stop()

    # ------------------------------------------------------------ single PUT

    def _extra_args(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self._options.content_type is not None:
            extra["ContentType"] = self._options.content_type
        if self._options.metadata:
            extra["Metadata"] = dict(self._options.metadata)
        return extra

    def _put(self, body: bytearray) -> None:
        kwargs = self._extra_args()
        if not self._options.overwrite:
            kwargs["IfNoneMatch"] = "*"
        s = self._s

        def put() -> None:
            try:
                reply = s.client.put_object(
                    Bucket=s.bucket, Key=self._key, Body=_blob(body), **kwargs
                )
            except botocore.exceptions.ClientError as exc:
                if self._conflict_is_ours(exc, lambda: _single_etag(body, len(body))):
                    # Our first attempt stored it; the SDK's retry met our own object.
                    self.version = _single_etag(body, len(body))[0]
                    return
                self._raise_if_exists(exc)
                raise
            self.version = _etag(reply)

        _retry_conflicts(put)

    def _conflict_is_ours(
        self, exc: BaseException, expected: Callable[[], tuple[str, int]]
    ) -> bool:
        """After a create-only conflict: is the object there the one this writer sent?

        An SDK retries a request whose reply was lost; if the first attempt
        was stored, the retry meets our own object and S3 answers 412. The
        object is ours when its ETag and size are those of what we sent (an
        MD5, or the multipart ETag of our parts). Only a conflict met by a
        retried request is examined: on the first attempt it can only be
        another writer's object. Objects whose ETag is not an MD5 (SSE-KMS)
        cannot be told apart and stay a conflict.
        """
        if self._options.overwrite or not is_precondition_failed(exc) or not _retried(exc):
            return False  # a conflict on the first attempt is another writer's object
        s = self._s
        try:
            head = s.client.head_object(Bucket=s.bucket, Key=self._key)
        except botocore.exceptions.ClientError:
            return False
        etag, size = expected()
        return (
            head.get("ETag", "").strip('"') == etag
            and head.get("ContentLength") == size
            and head.get("ServerSideEncryption") != "aws:kms"
        )

    def _raise_if_exists(self, exc: BaseException) -> None:
        if not self._options.overwrite and is_precondition_failed(exc):
            raise ObjectExistsError(f"an object exists at {self._key!r}") from exc

    # ------------------------------------------------------------ multipart

    def _send_part(self, number: int, body: bytes | bytearray) -> None:
        if self._upload_id is None:
            self._start_multipart()
        if number > MAX_PARTS:
            raise ValueError(f"{self._key!r} needs more than {MAX_PARTS} parts")
        self._pool.submit(number, lambda: self._upload_part(number, body))

    def _start_multipart(self) -> None:
        s = self._s
        if not self._options.overwrite and self._head_exists():
            raise ObjectExistsError(f"an object exists at {self._key!r}")
        response = s.client.create_multipart_upload(
            Bucket=s.bucket, Key=self._key, ChecksumAlgorithm=_CHECKSUM, **self._extra_args()
        )
        self._upload_id = response["UploadId"]

    def _head_exists(self) -> bool:
        s = self._s
        try:
            s.client.head_object(Bucket=s.bucket, Key=self._key)
        except botocore.exceptions.ClientError as exc:
            if classify(exc).kind is ErrorKind.NOT_FOUND:
                return False
            raise
        return True

    def _upload_part(self, number: int, body: bytes | bytearray) -> dict[str, Any]:
        s = self._s
        assert self._upload_id is not None
        response = s.client.upload_part(
            Bucket=s.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=_blob(body),
            ChecksumAlgorithm=_CHECKSUM,
        )
        part: dict[str, Any] = {"PartNumber": number, "ETag": response["ETag"]}
        checksum = response.get(f"Checksum{_CHECKSUM}")
        if checksum:
            part[f"Checksum{_CHECKSUM}"] = checksum
        return part

    def flush(self) -> None:
        """Wait until every part handed to the pool is uploaded (the upload stays
        incomplete, invisible, until :meth:`close`); raise a failed part's error."""
        self._pool.drain()

    def _complete(self) -> None:
        assert self._upload_id is not None
        parts: list[Any] = self._pool.ordered()
        self.version = complete_upload(
            self._s, self._key, self._upload_id, parts, overwrite=self._options.overwrite
        )
        self._upload_id = None

    # ------------------------------------------------------------ cleanup

    def _discard(self) -> None:
        """Drop buffered data, let parts in flight finish, abort the upload (idempotent)."""
        self._whole = bytearray()
        self._stream.take()
        self._pool.stop()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        s = self._s

        def abort() -> None:
            try:
                s.client.abort_multipart_upload(Bucket=s.bucket, Key=self._key, UploadId=upload_id)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "NoSuchUpload":
                    raise

        try:
            retry_temporary(abort, _ABORT_ATTEMPTS)
        except BaseException:
            self._upload_id = upload_id  # a later abort() may try again
            raise


def complete_upload(
    s: UploadSettings, key: str, upload_id: str, parts: list[Any], *, overwrite: bool
) -> str | None:
    """``CompleteMultipartUpload`` of ``parts``; return the published ETag.

    Create-only sends ``If-None-Match: *``: another writer's object there raises
    :class:`ObjectExistsError`. A complete that finds no upload any more (``NoSuchUpload``:
    a retry whose first attempt succeeded, or a second publish of a staged upload) or,
    on a retried request, our own object (412), succeeds when the object's ETag is the one
    these parts produce; an upload that is gone and not ours raises ``FileNotFoundError``.
    """
    kwargs: dict[str, Any] = {}
    if not overwrite:
        kwargs["IfNoneMatch"] = "*"
    try:
        reply = s.client.complete_multipart_upload(
            Bucket=s.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **kwargs,
        )
        return _etag(reply)
    except botocore.exceptions.ClientError as exc:
        gone = error_code(exc) == "NoSuchUpload" or _upload_gone(s, key, upload_id, exc)
        if (gone or (is_precondition_failed(exc) and _retried(exc))) and _published_by_us(
            s, key, parts
        ):
            return multipart_etag([part["ETag"] for part in parts])
        if not overwrite and is_precondition_failed(exc):
            raise ObjectExistsError(f"an object exists at {key!r}") from exc
        if gone:
            raise FileNotFoundError(f"no upload in progress for {key!r} under that id") from exc
        raise


def _upload_gone(s: UploadSettings, key: str, upload_id: str, exc: BaseException) -> bool:
    """After a server error on a complete: is the upload gone (completed or aborted)?
    Some servers (moto) answer a complete of an aborted upload with a 500, not
    ``NoSuchUpload``; ``ListParts`` tells."""
    if error_status(exc) < 500:
        return False
    try:
        s.client.list_parts(Bucket=s.bucket, Key=key, UploadId=upload_id, MaxParts=1)
    except botocore.exceptions.ClientError as probe:
        return error_code(probe) == "NoSuchUpload"
    return False


def _published_by_us(s: UploadSettings, key: str, parts: list[Any]) -> bool:
    try:
        head = s.client.head_object(Bucket=s.bucket, Key=key)
    except botocore.exceptions.ClientError:
        return False
    expected = multipart_etag([part["ETag"] for part in parts])
    return head.get("ETag", "").strip('"') == expected


def _retried(exc: BaseException) -> bool:
    """True when botocore sent the request more than once before this error."""
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0) > 0


def _etag(reply: Any) -> str | None:
    """The ETag a PUT or complete answered with, unquoted (the version token)."""
    etag = str(reply.get("ETag") or "") if isinstance(reply, Mapping) else ""
    return etag.strip('"') or None


def _single_etag(body: bytes | bytearray, size: int) -> tuple[str, int]:
    """The ETag (MD5 hex) and size S3 gives an object stored by one PUT of ``body``."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest(), size


def _blob(body: bytes | bytearray) -> Any:
    """botocore sends a ``bytearray`` as it is (its stubs only name ``bytes``): no copy."""
    return body


def _retry_conflicts(call: Callable[[], None]) -> None:
    """Retry a conditional PUT that S3 answered with ``409 ConditionalRequestConflict``."""
    delay = 0.1
    for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            call()
            return
        except botocore.exceptions.ClientError as exc:
            if attempt == _CONFLICT_ATTEMPTS or error_code(exc) != "ConditionalRequestConflict":
                raise
        time.sleep(delay)
        delay *= 2


def metadata_problem(metadata: Mapping[str, str]) -> str | None:
    """Why S3 cannot store ``metadata`` (``None`` when it can): names and values travel as
    HTTP headers, so they must be printable ASCII (names without spaces or ``:``)."""
    for name, value in metadata.items():
        if not name.isascii() or not name.isprintable() or any(c in name for c in " :"):
            return f"metadata name {name!r} is not a printable ASCII token"
        if not value.isascii() or not value.isprintable():
            return f"metadata value for {name!r} is not printable ASCII"
    return None
