"""The Google Cloud Storage driver: :class:`GCSBackend` (options and operations).

The behaviour, and what is verified only against the real service, is
described in :mod:`omnistorage.backends.gcs`; uploads, the download stream,
object info and error classification live in the sibling modules.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, TypeVar

from google.api_core import exceptions as api_exceptions
from google.cloud.storage.retry import DEFAULT_RETRY

from omnistorage._io import LimitedReader
from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryBudget,
    endpoint_authority,
)
from omnistorage.backends._bucket import BucketCheck, name_bucket
from omnistorage.backends.gcs._client import credential_secrets, make_client
from omnistorage.backends.gcs._errors import CONNECTION_ERRORS, InvalidResponse, classify
from omnistorage.backends.gcs._metadata import crc32c_from_header, info
from omnistorage.backends.gcs._pinned import GCSPinned
from omnistorage.backends.gcs._reader import GCSReader
from omnistorage.backends.gcs._writer import CHUNK_GRANULARITY, GCSWriter
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification, VersionMismatch
from omnistorage.models import HashType, Location, ObjectInfo
from omnistorage.options import (
    OptionSchema,
    anything,
    arguments,
    excluding,
    integer,
    number,
    path,
    text,
    url,
)

__all__ = ["GCSBackend"]

T = TypeVar("T")

_log = logging.getLogger("omnistorage.backends.gcs")

_MIB = 1024 * 1024
_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * _MIB  # 5 TiB
_DELETE_WORKERS = 8

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
        Capability.SET_MOD_TIME,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
        Capability.CONDITIONAL_DELETE,
    ],
    [HashType.MD5, HashType.CRC32C],
    max_object_size=_MAX_OBJECT_SIZE,
    mtime_precision_ns=1,  # the ``mtime`` entry is RFC 3339 with nanoseconds
    etag=ETagKind.OPAQUE,
    strong_version=True,  # stat's etag is the generation pinned reads ask for
)

OPTIONS = OptionSchema(
    "gcs",
    text("bucket", required=True, forbidden="/", example="omni-bucket"),
    text("project", nullable=True, example="omni-project"),
    url("endpoint_url", nullable=True, example="http://127.0.0.1:9023"),
    anything("credentials", example=object()),
    path("credentials_file", nullable=True, example="/nonexistent/omni-sa.json"),
    integer("chunk_size", gt=0, multiple_of=CHUNK_GRANULARITY, unit="bytes"),
    integer("list_page_size", ge=1, le=1000),
    number("connect_timeout", gt=0, unit="seconds"),
    number("read_timeout", gt=0, unit="seconds"),
    integer("retries", ge=0),
    number("retry_budget", gt=0, unit="seconds"),
    number("timeout", gt=0, nullable=True, unit="seconds"),
    anything("client", example=object()),
    conflicts=(
        ("credentials", "credentials_file"),
        *excluding("client", "project", "endpoint_url", "credentials", "credentials_file"),
    ),
)
"""The options of :class:`GCSBackend`, checked without I/O."""


class GCSBackend(ExtendedBackend):
    """Objects in one Google Cloud Storage bucket.

    Args:
        bucket: the bucket name.
        project: the project for the client (``None``: none; object operations
            do not need one).
        endpoint_url: another endpoint (emulator, private endpoint), e.g.
            ``http://127.0.0.1:9023``. Anonymous credentials are used with it
            unless ``credentials`` or ``credentials_file`` is given.
        credentials: a ``google.auth`` credentials object.
        credentials_file: a path to a service-account JSON key file; its project
            is used when ``project`` is unset.
        chunk_size: the resumable upload chunk, a positive multiple of 256 KiB;
            objects up to this size go up in one request. Writers buffer about
            two chunks.
        list_page_size: results per listing request (1 to 1000).
        connect_timeout, read_timeout: seconds (defaults 3 and 10, as every
            network backend: the wait for a connection, and how long the
            service may stay silent before or inside an answer).
        retries: how long temporary failures are retried, counted in
            attempts after the first (default 2: the library's retries are
            cut to about 5 s in all, instead of its 120 s), so a service
            that is down fails within about 10 s with ``BackendUnavailable``.
        retry_budget: seconds within which every attempt of a call must be
            able to end (15): the library's retry deadline is at most the
            budget less one silent wait, so a service that accepts connections
            and never answers fails after one ``read_timeout``
            (:mod:`omnistorage._net`).
        timeout: an older name for ``read_timeout``.
        client: a ready ``google.cloud.storage.Client`` to use instead of
            building one (the connection options must then be left unset). The
            backend does not close it.
    """

    name = "gcs"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

    def __init__(
        self,
        *,
        bucket: str,
        project: str | None = None,
        endpoint_url: str | None = None,
        credentials: Any = None,
        credentials_file: str | None = None,
        chunk_size: int = 8 * _MIB,
        list_page_size: int = 1000,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        timeout: float | None = None,
        client: Any = None,
    ) -> None:
        self.check_config(arguments(locals()))
        if timeout is not None:
            read_timeout = timeout
        if client is not None:  # the schema refused connection options beside it
            self._owns_client = False
        else:
            client = make_client(project, endpoint_url, credentials, credentials_file)
            self._owns_client = True
        self._client = client
        self.secret_values = credential_secrets(getattr(client, "_credentials", None))
        self._bucket_name = bucket
        self._bucket = client.bucket(bucket)
        self._chunk_size = chunk_size
        self._list_page_size = list_page_size
        self._timeout = (float(connect_timeout), float(read_timeout))
        self._budget = RetryBudget(retry_budget, connect_timeout, read_timeout)
        deadline = min(1.0 + 2.0 * retries, self._budget.budget - self._budget.wait)
        self._retry = (
            DEFAULT_RETRY.with_delay(initial=0.5, maximum=2.0, multiplier=2.0).with_timeout(
                deadline
            )
            if retries and deadline > 0
            else None
        )
        self._http = client._http  # the client's authorized requests session
        endpoint = getattr(client, "api_endpoint", None) or client._connection.API_BASE_URL
        self._api_base = str(endpoint).rstrip("/")
        self._endpoint_label = endpoint_url
        self._bucket_check = BucketCheck(bucket, "bucket", self._bucket_exists)

    def __repr__(self) -> str:
        endpoint = f", endpoint_url={self._endpoint_label!r}" if self._endpoint_label else ""
        return f"GCSBackend(bucket={self._bucket_name!r}{endpoint})"

    @property
    def bucket(self) -> str:
        """The bucket name."""
        return self._bucket_name

    def features(self) -> Features:
        return _FEATURES

    # ------------------------------------------------------------------ writes

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return GCSWriter(self, key, options)

    # ------------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        if length == 0:
            with self.bucket_404():  # NotFound when missing
                self._bucket.blob(key).reload(timeout=self._timeout, retry=self._retry)
            return io.BytesIO(b"")
        ranged = offset > 0 or length is not None
        headers = {"Accept-Encoding": "gzip"}  # the stored bytes, never transcoded
        if ranged:
            last = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"
        url = f"{self._api_base}/download/storage/v1{self._bucket.blob(key).path}?alt=media"
        response = self._http.request(
            "GET", url, headers=headers, stream=True, timeout=self._timeout
        )
        status = response.status_code
        if status == 416:  # the offset is at or past the end
            response.close()
            return io.BytesIO(b"")
        if status not in (200, 206) or (status == 200 and offset > 0):
            if status == 404:
                response.close()
                self._bucket_check.raise_if_missing()
            try:
                if status == 200:
                    raise InvalidResponse(response, "the service ignored the Range header")
                raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
            finally:
                response.close()
        if status == 206:
            return GCSReader(response, None)  # type: ignore[return-value]
        # The whole object (a range from 0 may be answered in full): check its CRC32C.
        expected = crc32c_from_header(response.headers.get("X-Goog-Hash"))
        reader = GCSReader(response, expected)
        if length is not None:
            return LimitedReader(reader, length)  # type: ignore[arg-type,return-value]
        return reader  # type: ignore[return-value]

    def open_pinned(self, key: str) -> PinnedReader:
        """Ranged reads of the generation there now (see :mod:`._pinned`)."""
        blob = self._bucket.blob(key)
        with self.bucket_404():
            blob.reload(timeout=self._timeout, retry=self._retry)
        url = f"{self._api_base}/download/storage/v1{blob.path}?alt=media"
        return GCSPinned(self._http, url, key, int(blob.generation), blob.size or 0, self._timeout)

    # ------------------------------------------------------------------ queries

    def exists(self, key: str) -> bool:
        if self._bucket.blob(key).exists(timeout=self._timeout, retry=self._retry):
            return True
        self._bucket_check.raise_if_missing()  # every 404 looks alike on some services
        return False

    def _bucket_exists(self) -> bool:
        return bool(self._bucket.exists(timeout=self._timeout, retry=self._retry))

    @contextlib.contextmanager
    def bucket_404(self) -> Iterator[None]:
        """Turn a "not found" into :class:`~omnistorage.errors.BucketMissing` when the
        bucket itself is gone (GCS's emulators answer every 404 without a reason)."""
        try:
            yield
        except api_exceptions.NotFound:
            self._bucket_check.raise_if_missing()
            raise

    def stat(self, key: str) -> ObjectInfo:
        blob = self._bucket.blob(key)
        try:
            blob.reload(timeout=self._timeout, retry=self._retry)
        except api_exceptions.NotFound:
            if not self._holds(key, self._below(key)):
                raise
            return ObjectInfo(path=key, is_dir=True)  # a marker or objects below it
        return info(blob)

    # ------------------------------------------------------------ folders (markers)

    folders_are_markers = True

    def _below(self, key: str) -> tuple[tuple[str, int], ...]:
        """Name and size of the first two objects whose names start with ``key/``."""
        blobs = self._client.list_blobs(
            self._bucket,
            prefix=f"{key}/",
            max_results=2,
            timeout=self._timeout,
            retry=self._retry,
        )
        with self.bucket_404():
            return tuple((blob.name, int(blob.size or 0)) for blob in blobs)

    @staticmethod
    def _holds(key: str, below: tuple[tuple[str, int], ...]) -> bool:
        """Whether ``below`` (from :meth:`_below`) shows the folder ``key``: its marker or
        an object below it. An object ``key/`` that holds bytes is no marker (a foreign
        key); it sorts first, so the second entry still shows what lies below."""
        return any(name != f"{key}/" or not size for name, size in below)

    def mkdir(self, key: str) -> None:
        """Write the markers ``key/`` and its parents' (zero bytes); a file in the way fails.

        Markers are written create-only (``ifGenerationMatch=0``): one that is
        already there (or an object of that name holding bytes) is left alone.
        """
        parts = key.split("/")
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for folder in folders:
            if self.exists(folder):
                raise FileExistsError(f"a file exists at {folder!r}")
        for folder in folders:
            try:
                self._bucket.blob(f"{folder}/").upload_from_string(
                    b"", if_generation_match=0, timeout=self._timeout, retry=self._retry
                )
            except api_exceptions.PreconditionFailed:
                continue  # already there

    def rmdir(self, key: str) -> None:
        """Delete the marker ``key/``; anything else below (or a ``key/`` object holding
        bytes, which is no marker) makes it not empty."""
        below = self._below(key)
        if any(name != f"{key}/" or size for name, size in below):
            raise OSError(errno.ENOTEMPTY, f"folder {key!r} is not empty")
        if below:
            self.delete(f"{key}/")

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        with self.bucket_404():  # a listing's 404 is the bucket's
            yield from self._list(prefix, recursive)

    def _list(self, prefix: str, recursive: bool) -> Iterator[ObjectInfo]:
        blobs = self._client.list_blobs(
            self._bucket,
            prefix=prefix or None,
            delimiter=None if recursive else "/",
            page_size=self._list_page_size,
            timeout=self._timeout,
            retry=self._retry,
        )
        for page in blobs.pages:
            for blob in page:
                name = blob.name
                if name.endswith("/") and not blob.size:
                    # A folder marker: recursive listings yield every one (the prefix
                    # folder's own included); shallow ones show it as a prefix.
                    if recursive and len(name) > 1:
                        yield ObjectInfo(path=name[:-1], is_dir=True)
                    continue
                yield info(blob)
            for folder in getattr(page, "prefixes", ()):
                yield ObjectInfo(path=folder.rstrip("/"), is_dir=True)

    # ------------------------------------------------------------------ changes

    def delete(self, key: str) -> None:
        try:
            # Retrying is safe: a delete that already happened reads as "missing".
            self._bucket.delete_blob(key, timeout=self._timeout, retry=self._retry)
        except api_exceptions.NotFound:
            self._bucket_check.raise_if_missing()  # missing objects are fine, buckets not
            return

    def delete_version(self, key: str, version: str) -> None:
        """Delete with ``ifGenerationMatch`` on the generation the write created (the
        gcp-storage-emulator ignores the condition; the conformance table says so)."""
        try:
            self._bucket.delete_blob(
                key,
                if_generation_match=int(version),
                timeout=self._timeout,
                retry=self._retry,
            )
        except api_exceptions.NotFound:
            self._bucket_check.raise_if_missing()  # missing objects are fine, buckets not
            return
        except api_exceptions.PreconditionFailed as exc:
            raise VersionMismatch(f"{key!r} holds another generation than {version}") from exc

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = list(keys)
        if len(batch) <= 1:
            for key in batch:
                self.delete(key)
            return
        with ThreadPoolExecutor(max_workers=min(_DELETE_WORKERS, len(batch))) as pool:
            for _ in pool.map(self.delete, batch):
                pass

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        source = self._bucket.blob(src)
        target = self._bucket.blob(dst)
        token: str | None = None
        while True:
            with self.bucket_404():
                token, _, _ = target.rewrite(
                    source,
                    token=token,
                    if_generation_match=None if overwrite else 0,
                    timeout=self._timeout,
                    retry=self._retry,
                )
            if token is None:
                return

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
        super().close()

    def classify_error(self, exc: BaseException) -> Classification:
        return name_bucket(classify(exc), self._bucket_name, "bucket")

    def native_path(self, key: str) -> str:
        return f"gs://{self._bucket_name}/{key}" if key else f"gs://{self._bucket_name}"

    def locations(self) -> tuple[Location, ...]:
        return (Location("gs", endpoint_authority(self._api_base), self._bucket_name),)

    def key_from_native(self, native: str) -> str | None:
        for scheme in ("gs://", "gcs://"):
            base = f"{scheme}{self._bucket_name}"
            if native in (base, base + "/"):
                return ""
            if native.startswith(base + "/"):
                return native[len(base) + 1 :]
        return None

    def as_native(self, kind: type[T]) -> T | None:
        for candidate in (self._client, self._bucket):
            if isinstance(candidate, kind):
                return candidate
        return None

    def _cancel_session(self, session: str) -> None:
        """Cancel a resumable upload session (best effort: an unfinished session never
        becomes an object, and GCS drops it after a week)."""
        try:
            response = self._http.request("DELETE", session, timeout=self._timeout)
        except CONNECTION_ERRORS as exc:
            _log.debug("could not cancel a GCS upload session: %s", type(exc).__name__)
            return
        if response.status_code not in (200, 204, 404, 410, 499):
            _log.debug("cancelling a GCS upload session answered HTTP %d", response.status_code)
