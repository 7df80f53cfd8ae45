"""The S3 driver (boto3): Amazon S3 and S3-compatible services.

What it does, and how it keeps the Store's contract:

- **Writes** stream through :class:`~omnistorage.backends.s3._writer.S3Writer`:
  one ``PutObject`` for objects that end within one part or whose size the
  caller gave (``size_hint``) up to ``(max_concurrency + 1) x part_size``
  (40 MiB by default), else a multipart
  upload with at most ``max_concurrency`` parts in flight, each part carrying
  a CRC32 checksum S3 verifies (as boto3's ``upload_file`` does). Nothing is
  visible before ``close()``; an abort or a failure aborts the multipart upload.
- **Create-only** (``overwrite=False``) is atomic: ``If-None-Match: *`` on
  ``PutObject`` and ``CompleteMultipartUpload`` (``CONDITIONAL_WRITE``).
  Services that ignore the header (old S3-compatible servers) would make it a
  last-writer-wins race; AWS S3 and moto honour it.
- **Reads** are ``GetObject`` with ``Range`` for offsets; an offset at or
  past the end gives an empty stream. With ``read_concurrency > 1`` a large
  read is served from ranged requests fetched ahead in parallel (pinned to
  the first response's ETag); see :mod:`~omnistorage.backends.s3._reader`.
- **stat** is ``HeadObject``: size, mtime (``LastModified``), ETag, content
  type, user metadata, and the MD5 when the ETag is one (a single-part upload
  without SSE-KMS/SSE-C encryption). Listings give size, mtime and ETag (no
  MD5: a listing does not say how an object was encrypted).
- **Listing** is ``ListObjectsV2`` page by page (``_listing.py``: a truncated page
  without a token, or a token sent twice, is ``CorruptDataError``, never a short
  listing); ``recursive=False`` uses
  ``Delimiter='/'`` and yields common prefixes as folders. Folder-marker
  objects (keys ending in ``/``) are skipped.
- **Copy** is server-side: ``CopyObject`` up to ``multipart_copy_threshold``
  (5 GiB, S3's limit), else a multipart ``UploadPartCopy`` pinned to the
  source ETag. A create-only copy checks the destination with ``HEAD`` and
  also sends ``If-None-Match: *`` (on ``CopyObject``, or on the
  ``CompleteMultipartUpload`` of a multipart copy). AWS S3 enforces that
  header atomically; where a service ignores it on ``CopyObject`` (moto
  does), a writer racing between the ``HEAD`` and the copy can be
  overwritten — that race is the documented limit
  (:mod:`~omnistorage.backends.s3._copy`).
- **Move** is not native (S3 has no rename): the Store copies and deletes,
  and ``MOVE`` is not declared.
- **Modification times** cannot be set (``LastModified`` is the server's;
  ``SET_MOD_TIME`` is not declared). Storing an mtime in user metadata, as
  rclone does, would make ``stat`` and listings disagree; put one in
  ``metadata`` yourself if you need it.
- **User metadata** names and values travel as HTTP headers: printable ASCII
  only (anything else is refused before any I/O), and S3 returns names
  lowercased.
- **Errors**: botocore's exceptions, classified by
  :func:`~omnistorage.backends.s3._errors.classify`; throttling, 5xx,
  timeouts and dropped connections are ``temporary``. botocore retries them
  first (``max_attempts``, ``retry_mode``).
- **Credentials** (explicit options, or static ones found by the boto3 chain)
  are listed in :attr:`S3Backend.secret_values`, never appear in ``repr``, and
  are registered with :func:`~omnistorage._redact.protect_secrets` so botocore's
  DEBUG logs (headers, canonical requests, echoed error bodies) never show them.

Verified against moto server only (the test suite); paths that depend on AWS
behaviour moto does not model — ``If-None-Match`` on ``CopyObject``,
``409 ConditionalRequestConflict``, SSE-KMS ETags, multipart copies above
5 GiB, credential chains and profiles, virtual-host addressing — are written
to AWS's documentation and verified only against a real account.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import botocore.exceptions

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryBudget,
    endpoint_authority,
)
from omnistorage._redact import protect_secrets
from omnistorage.backends._bucket import BucketCheck, name_bucket
from omnistorage.backends.s3._config import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MAX_SINGLE_COPY,
    MIN_PART_SIZE,
    OPTIONS,
    MiB,
    build_client,
    chain_secrets,
    layout,
    without_userinfo,
)
from omnistorage.backends.s3._copy import CopySettings, copy_object
from omnistorage.backends.s3._errors import classify, error_code, error_status
from omnistorage.backends.s3._info import response_info, utc
from omnistorage.backends.s3._listing import list_pages
from omnistorage.backends.s3._reader import ReadSettings, S3Pinned, open_reader
from omnistorage.backends.s3._staged import abort_staged, publish_staged
from omnistorage.backends.s3._writer import S3Writer, UploadSettings, metadata_problem
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification, ErrorKind
from omnistorage.models import HashType, Leftover, Location, ObjectInfo
from omnistorage.options import arguments

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Backend"]

T = TypeVar("T")

_FEATURES = Features.of(
    [
        Capability.READ,
        Capability.WRITE,
        Capability.DELETE,
        Capability.LIST,
        Capability.METADATA,
        Capability.COPY,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.RANGE_READ,
        Capability.PINNED_READ,
        Capability.MKDIR,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
        Capability.READ_INFO,
        Capability.CONDITIONAL_DELETE,
        Capability.DEFERRED_PUBLISH,
    ],
    [HashType.MD5],
    max_object_size=MAX_OBJECT_SIZE,
    min_part_size=MIN_PART_SIZE,
    max_part_size=MAX_PART_SIZE,
    max_parts=MAX_PARTS,
    # Listings carry the server's upload time (not settable); the sync engine keeps
    # mtimes in metadata instead.
    mtime_precision_ns=1_000_000_000,
    etag=ETagKind.MD5_OR_MULTIPART,
    strong_version=True,
)

_DELETE_BATCH = 1000


class S3Backend(ExtendedBackend):
    """One S3 bucket (see the module docstring for the behaviour).

    Args:
        bucket: the bucket name.
        endpoint_url: an S3-compatible endpoint (``http://127.0.0.1:9000``); ``None`` is AWS.
        region: the region (``None``: from the boto3 configuration chain).
        access_key_id, secret_access_key, session_token: explicit credentials;
            without them the normal boto3 chain (environment, profile, instance role) is used.
        profile: a named profile from the AWS config files.
        addressing_style: ``"auto"``, ``"path"`` or ``"virtual"``.
        part_size: the multipart part size (at least 5 MiB; grown automatically
            to stay under 10,000 parts).
        max_concurrency: parts in flight per upload (and blocks fetched ahead per
            parallel read, and parts per multipart copy). A write of known size up
            to ``(max_concurrency + 1) x part_size`` is one ``PutObject``.
        read_concurrency: ranged ``GetObject`` calls in flight per read of an object
            larger than ``read_block_size``; ``1`` (the default) streams one ``GetObject``.
            Parallel reads help on AWS, where one connection is slower than the
            network; some emulators re-read the whole object for every range.
        read_block_size: bytes per ranged request of a parallel read.
        list_page_size: keys per ``ListObjectsV2`` page (at most 1000).
        max_attempts: botocore's attempts per request (retries of throttling,
            5xx, timeouts and connection errors), ``1`` for none; default 3
            (the first and 2 retries, as every network backend), so an
            endpoint that is down fails within about 10 s.
        retry_mode: botocore's retry mode: ``"standard"``, ``"adaptive"`` or ``"legacy"``.
        connect_timeout, read_timeout: socket timeouts in seconds (3 and 10): how long
            to wait for a connection, and how long the server may stay silent (before
            the first byte of an answer, or inside one).
        retry_budget: seconds within which every attempt of a call must be able to
            end (15): a retry after a silent server is not started past it, so a
            server that accepts connections and never answers fails after one
            ``read_timeout`` (:mod:`omnistorage._net`). With ``client=`` it bounds
            only omnistorage's own retries.
        multipart_copy_threshold: objects larger than this are copied with
            ``UploadPartCopy`` (S3 copies at most 5 GiB in one ``CopyObject``).
        client: an existing boto3 S3 client to use (it is not closed by
            :meth:`close`); the connection options above must then stay unset.
    """

    name = "s3"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        addressing_style: str = "auto",
        part_size: int = 8 * MiB,
        max_concurrency: int = 4,
        read_concurrency: int = 1,
        read_block_size: int = 8 * MiB,
        list_page_size: int = 1000,
        max_attempts: int = DEFAULT_RETRIES + 1,
        retry_mode: str = "standard",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        multipart_copy_threshold: int = MAX_SINGLE_COPY,
        client: S3Client | None = None,
    ) -> None:
        self.check_config(arguments(locals()))
        budget = RetryBudget(retry_budget, connect_timeout, read_timeout)
        explicit = (access_key_id, secret_access_key, session_token)
        self.secret_values = tuple(v for v in explicit if v)
        if client is not None:  # the schema refused connection options beside it
            self._client: S3Client = client
            self._owns_client = False
        else:
            self._client = build_client(
                endpoint_url=endpoint_url,
                region=region,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                session_token=session_token,
                profile=profile,
                addressing_style=addressing_style,
                max_attempts=max_attempts,
                retry_mode=retry_mode,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # Every request a sync can have in flight (16 transfers of up to
                # max_concurrency parts each, and the checkers) keeps its connection.
                max_pool_connections=max(64, 16 * max(max_concurrency, read_concurrency)) + 8,
                retry_budget=budget,
            )
            self._owns_client = True
        self.secret_values = tuple(dict.fromkeys(self.secret_values + chain_secrets(self._client)))
        protect_secrets(*self.secret_values)  # also scrubs botocore's DEBUG logs
        self._bucket = bucket
        self._endpoint = without_userinfo(endpoint_url or self._client.meta.endpoint_url)
        self._region = region or self._client.meta.region_name
        self._upload = UploadSettings(self._client, bucket, part_size, max_concurrency)
        self._features = replace(
            _FEATURES, multipart=layout(part_size, self._upload.single_put_limit())
        )
        self._read = ReadSettings(self._client, bucket, read_concurrency, read_block_size, budget)
        self._copy = CopySettings(self._client, bucket, multipart_copy_threshold, max_concurrency)
        self._page_size = list_page_size
        self._bucket_check = BucketCheck(bucket, "bucket", self._bucket_exists)

    def __repr__(self) -> str:
        return (
            f"S3Backend(bucket={self._bucket!r}, endpoint_url={self._endpoint!r}, "
            f"region={self._region!r})"
        )

    @property
    def bucket(self) -> str:
        """The bucket this backend reads and writes."""
        return self._bucket

    def features(self) -> Features:
        return self._features

    def classify_error(self, exc: BaseException) -> Classification:
        return name_bucket(classify(exc), self._bucket, "bucket")

    def native_path(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def locations(self) -> tuple[Location, ...]:
        authority = endpoint_authority(self._endpoint or "aws")
        if authority.endswith(".amazonaws.com"):
            authority = "aws"  # one bucket namespace, whatever the regional endpoint
        return (Location("s3", authority, self._bucket),)

    def key_from_native(self, native: str) -> str | None:
        base = f"s3://{self._bucket}"
        if native == base or native == base + "/":
            return ""
        return native[len(base) + 1 :] if native.startswith(base + "/") else None

    def as_native(self, kind: type[T]) -> T | None:
        """The boto3 client for ``botocore.client.BaseClient`` (or any type it is)."""
        return self._client if isinstance(self._client, kind) else None

    def close(self) -> None:
        if self._owns_client and not self.closed:
            self._client.close()
        super().close()

    # ------------------------------------------------------------ writes

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        problem = metadata_problem(options.metadata)
        if problem is not None:
            raise ValueError(f"S3 cannot store this metadata: {problem}")
        return S3Writer(self._upload, key, options)

    # ------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        with self._bucket_404():  # an empty range is a HEAD
            return open_reader(self._read, key, offset, length)

    @contextlib.contextmanager
    def _bucket_404(self) -> Iterator[None]:
        """A ``HEAD``'s bare 404 may be the bucket's: ask, and raise
        :class:`~omnistorage.errors.BucketMissing` when it is gone."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            if classify(exc).kind is ErrorKind.NOT_FOUND:
                self._bucket_check.raise_if_missing()
            raise

    # ------------------------------------------------------------ queries

    def _head(self, key: str) -> Any:
        return self._client.head_object(Bucket=self._bucket, Key=key)

    def exists(self, key: str) -> bool:
        try:
            with self._bucket_404():  # a HEAD's 404 has no body: a missing bucket looks alike
                self._head(key)
        except botocore.exceptions.ClientError as exc:
            if classify(exc).kind is ErrorKind.NOT_FOUND:
                return False
            raise
        return True

    def _bucket_exists(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except botocore.exceptions.ClientError as exc:
            if error_status(exc) == 404 or error_code(exc) in ("NoSuchBucket", "404"):
                return False
            raise
        return True

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self._head(key)
        except botocore.exceptions.ClientError as exc:
            if classify(exc).kind is not ErrorKind.NOT_FOUND or not self._has_below(key):
                raise
            return ObjectInfo(path=key, is_dir=True)  # a marker or objects below it
        return response_info(key, head)

    # ------------------------------------------------------------ folders (markers)

    folders_are_markers = True

    def _has_below(self, key: str) -> bool:
        """True when any object (a marker included) lies below the folder ``key``."""
        page = self._client.list_objects_v2(Bucket=self._bucket, Prefix=f"{key}/", MaxKeys=1)
        return bool(page.get("Contents") or page.get("CommonPrefixes"))

    def mkdir(self, key: str) -> None:
        """Write the markers ``key/`` and its parents' (zero bytes); a file in the way fails."""
        parts = key.split("/")
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for folder in folders:
            try:
                self._head(folder)
            except botocore.exceptions.ClientError as exc:
                if classify(exc).kind is not ErrorKind.NOT_FOUND:
                    raise
            else:
                raise FileExistsError(f"a file exists at {folder!r}")
        for folder in folders:
            self._client.put_object(Bucket=self._bucket, Key=f"{folder}/", Body=b"")

    def rmdir(self, key: str) -> None:
        """Delete the marker ``key/``; anything else below makes it not empty."""
        page = self._client.list_objects_v2(Bucket=self._bucket, Prefix=f"{key}/", MaxKeys=2)
        others = [e["Key"] for e in page.get("Contents", ()) if e["Key"] != f"{key}/"]
        if others or page.get("CommonPrefixes"):
            raise OSError(errno.ENOTEMPTY, f"folder {key!r} is not empty")
        self._client.delete_object(Bucket=self._bucket, Key=f"{key}/")

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        request: dict[str, Any] = {
            "Bucket": self._bucket,
            "Prefix": prefix,
            "MaxKeys": self._page_size,
        }
        if not recursive:
            request["Delimiter"] = "/"
        for page in list_pages(self._client, request):
            for common in page.get("CommonPrefixes", ()):
                folder = common.get("Prefix", "")
                if folder.endswith("/") and len(folder) > len(prefix) + 1:
                    yield ObjectInfo(path=folder[:-1], is_dir=True)
            for entry in page.get("Contents", ()):
                key = entry["Key"]
                if key.endswith("/") and not entry.get("Size", 0):
                    # A folder marker: recursive listings yield every one (the prefix
                    # folder's own included); shallow ones show it as a CommonPrefix.
                    if recursive and len(key) > 1:
                        yield ObjectInfo(path=key[:-1], is_dir=True)
                    continue
                etag = entry.get("ETag")
                yield ObjectInfo(
                    path=key,
                    size=entry.get("Size", 0),
                    modified=utc(entry.get("LastModified")),
                    etag=etag.strip('"') if etag else None,
                )

    def open_pinned(self, key: str) -> PinnedReader:
        """Ranged reads pinned to the ETag there now (``If-Match`` on every request)."""
        with self._bucket_404():
            return S3Pinned(self._read, key)

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Incomplete multipart uploads below ``prefix`` (what a killed writer leaves).

        Their size is the sum of the parts uploaded so far (one ``ListParts``
        per upload). A bucket lifecycle rule ``AbortIncompleteMultipartUpload``
        is the backstop for uploads nobody cleans up.
        """
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for upload in page.get("Uploads", ()):
                key, upload_id = upload["Key"], upload["UploadId"]
                yield Leftover(
                    kind="multipart-upload",
                    key=key,
                    native=f"s3://{self._bucket}/{key} (upload {upload_id})",
                    size=self._parts_size(key, upload_id),
                    started=utc(upload.get("Initiated")),
                    handle=f"{key}\x00{upload_id}",
                )

    def _parts_size(self, key: str, upload_id: str) -> int | None:
        total = 0
        paginator = self._client.get_paginator("list_parts")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=upload_id):
                total += sum(part.get("Size", 0) for part in page.get("Parts", ()))
        except botocore.exceptions.ClientError:
            return None  # aborted or completed meanwhile
        return total

    def remove_leftover(self, leftover: Leftover) -> None:
        key, _, upload_id = leftover.handle.partition("\x00")
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    # ------------------------------------------------------------ changes

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Server-side copy; create-only is a ``HEAD`` check plus ``If-None-Match: *`` (see
        :mod:`~omnistorage.backends.s3._copy` for the race where a service ignores it)."""
        copy_object(self._copy, src, dst, overwrite=overwrite)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        return publish_staged(self._upload, key, staged, overwrite=overwrite)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        abort_staged(self._upload, key, staged)

    def delete_version(self, key: str, version: str) -> None:
        """``DeleteObject`` with ``If-Match`` on the ETag the write published. The ETag
        names the content, not the write: an identical object another writer published
        since goes too (a versioned bucket would tell them apart; this driver does not)."""
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key, IfMatch=f'"{version}"')
        except botocore.exceptions.ClientError as exc:
            if classify(exc).kind is not ErrorKind.NOT_FOUND:
                raise

    def delete_many(self, keys: Iterable[str]) -> None:
        """``DeleteObjects`` in batches of 1000; any per-key error raises a ``ClientError``."""
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, keys: Sequence[str]) -> None:
        response = self._client.delete_objects(
            Bucket=self._bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            code = first.get("Code", "DeleteFailed")
            message = (
                f"{len(errors)} of {len(keys)} keys were not deleted; "
                f"first {first.get('Key')!r}: {code} {first.get('Message', '')}"
            )
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": code, "Message": message}}, "DeleteObjects"
            )


# ---------------------------------------------------------------- helpers
