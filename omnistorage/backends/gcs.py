"""The Google Cloud Storage backend (``google-cloud-storage``).

URL: ``gs://bucket/prefix`` (also ``gcs://``); the bucket becomes the
``bucket`` option and the prefix the store's root folder. Query parameters are
options: ``gs://b/p?endpoint_url=http://127.0.0.1:9023&chunk_size=262144``.

What it does:

- **Atomic streaming writes.** A write buffers at most one chunk
  (``chunk_size``, 8 MiB by default). An object that fits in one chunk goes up
  in one simple (multipart) request on ``close()``. A larger one opens a
  *resumable upload session* when the first chunk is full, sends every full
  chunk, and sends the last one on ``close()``: GCS creates the object only when
  that final chunk arrives, so nothing is visible before ``close()``. Memory
  stays at about two chunks whatever the object size. ``abort()`` (and a failed
  ``close()``) never sends the final chunk and cancels the session (``DELETE``
  on the session URI; if that fails the unfinished session simply expires after
  a week, and it never becomes an object). A failed chunk is retried twice
  after asking the session how many bytes it persisted. The final request
  carries the CRC32C of the whole object (``X-Goog-Hash``), so GCS refuses a
  corrupted upload instead of publishing it; simple uploads carry it in their
  metadata. Session URIs (which let anyone holding them upload) are kept out of
  error messages and logs.
- **Create-only is atomic** (``CONDITIONAL_WRITE``): create-only writes and
  copies send ``ifGenerationMatch=0``, which GCS checks when the object is
  created (for a resumable upload, when the final chunk arrives). Of racing
  writers exactly one wins; the others get HTTP 412, classified
  ``ALREADY_EXISTS``. The backend uses preconditions for nothing else, so every
  412 means "already exists". The gcp-storage-emulator ignores
  ``ifGenerationMatch`` (the test file's gap table names the tests this fails).
  Like every GCS client, a create-only upload whose response is lost and that
  the client library retries can report ``ALREADY_EXISTS`` for an object it did
  write.
- **Reads** stream one ``GET`` (``alt=media``) with a ``Range`` header for
  offsets and lengths; an offset at or past the end gives an empty stream. A
  whole-object read checks the CRC32C the service sends (``X-Goog-Hash``) and
  raises ``DataCorruption`` on a mismatch. Bytes are returned as stored (no
  decompressive transcoding).
- **Metadata**: ``stat`` and listings give size, modification time, etag,
  content type, user metadata, and the ``md5`` and ``crc32c`` hashes in
  lowercase hex (composite objects have no MD5). A modification time set on
  write is stored as the custom metadata key ``mtime`` (RFC 3339, the
  convention rclone uses) and reported as ``modified`` by ``stat`` and by
  listings alike; without it ``modified`` is the object's ``updated`` time.
  The ``mtime`` key is therefore reserved: it is not returned as user metadata
  when it holds a valid time.
- **Listing** uses ``objects.list`` with ``page_size`` results per page, lazily;
  shallow listings use the ``/`` delimiter and report sub-folders from the
  returned prefixes. Folder-marker objects (names ending in ``/``) are skipped.
- **Copy** is server-side (``rewrite``, looping over rewrite tokens, so large and
  cross-location copies work) and keeps content type and metadata, hence also
  the recorded ``mtime``. **Move is not declared**: GCS's atomic ``objects.move``
  cannot be verified on the emulator (which lacks it) and rewrite + delete is
  not atomic, so the Store falls back to copy + delete.
- ``delete_many`` deletes in parallel (8 requests in flight).

Verified only against the real service (the tests run on gcp-storage-emulator,
which lacks these): the atomic create-only check (412 on ``ifGenerationMatch=0``)
for simple uploads, resumable uploads and rewrites; cancelling a session
(``DELETE`` answered 499; the emulator answers 501, so its unfinished sessions
stay until it restarts); server-side checksum refusal (``X-Goog-Hash``);
paged listings (the emulator returns everything in one page); 416 for a range
past the end (the emulator answers an empty 206); multi-call rewrites;
credentials other than anonymous. The resumable protocol's retry and
partial-persistence paths are tested against scripted responses.

Connection: with ``endpoint_url`` (an emulator, a private endpoint) the client
uses anonymous credentials unless ``credentials`` or ``credentials_file`` is
given, as ``STORAGE_EMULATOR_HOST`` does (which the client library also honours
when ``endpoint_url`` is not given). Otherwise it uses ``credentials``, the
service-account key file, or the application-default credentials. ``client=``
passes a ready ``google.cloud.storage.Client``; the backend then does not close
it.
``store.unwrap(google.cloud.storage.Client)`` returns the client.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypeVar
from urllib.parse import SplitResult, unquote

import google_crc32c
import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

try:
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
except ImportError:  # google-cloud-storage < 3
    from google.resumable_media.common import DataCorruption, InvalidResponse

from omnistorage._io import LimitedReader
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, WriteOptions, Writer
from omnistorage.errors import Classification, ConfigurationError, ErrorKind, classify_builtin
from omnistorage.models import HashType, ObjectInfo

__all__ = ["GCSBackend", "ResumableUploadError", "parse_url"]

T = TypeVar("T")

_log = logging.getLogger(__name__)

_KIB = 1024
_MIB = 1024 * _KIB
CHUNK_GRANULARITY = 256 * _KIB
"""Resumable upload chunks (all but the last) are multiples of this."""
_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * _MIB  # 5 TiB
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MTIME_KEY = "mtime"
_UPLOAD_ATTEMPTS = 3
_UPLOAD_BACKOFF = 0.5
_DELETE_WORKERS = 8
_TEMPORARY_STATUS = frozenset({408, 429})

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
        Capability.SET_MOD_TIME,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
    ],
    [HashType.MD5, HashType.CRC32C],
    max_object_size=_MAX_OBJECT_SIZE,
)

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
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


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``gs://bucket/prefix`` → (``{"bucket": "bucket"}``, ``"prefix"``)."""
    bucket = split.netloc
    if not bucket:
        raise ConfigurationError("GCS URLs name a bucket: gs://bucket/prefix")
    if "@" in bucket or ":" in bucket:
        raise ConfigurationError(f"GCS URLs name only a bucket, got {bucket!r}")
    return {"bucket": bucket}, unquote(split.path).strip("/")


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
        timeout: seconds to wait for the service on each request.
        client: a ready ``google.cloud.storage.Client`` to use instead of
            building one (the connection options must then be left unset). The
            backend does not close it.
    """

    name = "gcs"

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
        timeout: float = 60.0,
        client: Any = None,
    ) -> None:
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise ConfigurationError(f"GCS bucket must be a bucket name, got {bucket!r}")
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, int)
            or chunk_size <= 0
            or chunk_size % CHUNK_GRANULARITY
        ):
            raise ConfigurationError(
                f"GCS chunk_size must be a positive multiple of 256 KiB, got {chunk_size!r}"
            )
        if isinstance(list_page_size, bool) or not 1 <= list_page_size <= 1000:
            raise ConfigurationError(
                f"GCS list_page_size must be between 1 and 1000, got {list_page_size!r}"
            )
        if not timeout > 0:
            raise ConfigurationError(f"GCS timeout must be positive, got {timeout!r}")
        if client is not None:
            given = [
                name
                for name, value in (
                    ("project", project),
                    ("endpoint_url", endpoint_url),
                    ("credentials", credentials),
                    ("credentials_file", credentials_file),
                )
                if value is not None
            ]
            if given:
                raise ConfigurationError(
                    f"GCS options {', '.join(given)} cannot be combined with client="
                )
            self._owns_client = False
        else:
            client = _make_client(project, endpoint_url, credentials, credentials_file)
            self._owns_client = True
        self._client = client
        self._bucket_name = bucket
        self._bucket = client.bucket(bucket)
        self._chunk_size = chunk_size
        self._list_page_size = list_page_size
        self._timeout = timeout
        self._http = client._http  # the client's authorized requests session
        endpoint = getattr(client, "api_endpoint", None) or client._connection.API_BASE_URL
        self._api_base = str(endpoint).rstrip("/")
        self._endpoint_label = endpoint_url

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
        return _GCSWriter(self, key, options)

    # ------------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        if length == 0:
            self._bucket.blob(key).reload(timeout=self._timeout)  # NotFound when missing
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
            try:
                if status == 200:
                    raise InvalidResponse(response, "the service ignored the Range header")
                raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
            finally:
                response.close()
        if status == 206:
            return _GCSReader(response, None)  # type: ignore[return-value]
        # The whole object (a range from 0 may be answered in full): check its CRC32C.
        expected = _crc32c_from_header(response.headers.get("X-Goog-Hash"))
        reader = _GCSReader(response, expected)
        if length is not None:
            return LimitedReader(reader, length)  # type: ignore[arg-type,return-value]
        return reader  # type: ignore[return-value]

    # ------------------------------------------------------------------ queries

    def exists(self, key: str) -> bool:
        return bool(self._bucket.blob(key).exists(timeout=self._timeout))

    def stat(self, key: str) -> ObjectInfo:
        blob = self._bucket.blob(key)
        blob.reload(timeout=self._timeout)
        return _info(blob)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        blobs = self._client.list_blobs(
            self._bucket,
            prefix=prefix or None,
            delimiter=None if recursive else "/",
            page_size=self._list_page_size,
            timeout=self._timeout,
        )
        for page in blobs.pages:
            for blob in page:
                if not blob.name.endswith("/"):  # skip folder markers
                    yield _info(blob)
            for folder in getattr(page, "prefixes", ()):
                yield ObjectInfo(path=folder.rstrip("/"), is_dir=True)

    # ------------------------------------------------------------------ changes

    def delete(self, key: str) -> None:
        try:
            # Retrying is safe: a delete that already happened reads as "missing".
            self._bucket.delete_blob(key, timeout=self._timeout, retry=DEFAULT_RETRY)
        except api_exceptions.NotFound:
            return

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
            token, _, _ = target.rewrite(
                source,
                token=token,
                if_generation_match=None if overwrite else 0,
                timeout=self._timeout,
            )
            if token is None:
                return

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
        super().close()

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, ResumableUploadError):
            if exc.status is None:
                return Classification(ErrorKind.UNAVAILABLE, temporary=True)
            return _classify_status(exc.status)
        if isinstance(exc, api_exceptions.RetryError):
            cause = exc.cause
            if cause is not None and cause is not exc:
                found = self.classify_error(cause)
                return Classification(found.kind, temporary=True)
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if isinstance(exc, api_exceptions.GoogleAPICallError):
            code = exc.code
            return (
                _classify_status(int(code))
                if code is not None
                else Classification(ErrorKind.UNKNOWN)
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
        if isinstance(exc, _CONNECTION_ERRORS):
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if isinstance(exc, requests.exceptions.RequestException):
            return Classification(ErrorKind.UNKNOWN)
        return classify_builtin(exc)

    def native_path(self, key: str) -> str:
        return f"gs://{self._bucket_name}/{key}" if key else f"gs://{self._bucket_name}"

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
        except _CONNECTION_ERRORS as exc:
            _log.debug("could not cancel a GCS upload session: %s", type(exc).__name__)
            return
        if response.status_code not in (200, 204, 404, 410, 499):
            _log.debug("cancelling a GCS upload session answered HTTP %d", response.status_code)


def _make_client(
    project: str | None,
    endpoint_url: str | None,
    credentials: Any,
    credentials_file: str | None,
) -> Any:
    if credentials is not None and credentials_file is not None:
        raise ConfigurationError("give GCS credentials or credentials_file, not both")
    if credentials_file is not None:
        load = service_account.Credentials.from_service_account_file
        credentials = load(credentials_file, scopes=storage.Client.SCOPE)  # type: ignore[no-untyped-call]
        project = project or credentials.project_id
    client_options = None
    if endpoint_url:
        if "://" not in endpoint_url:
            endpoint_url = f"http://{endpoint_url}"
        client_options = {"api_endpoint": endpoint_url.rstrip("/")}
        if credentials is None:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    # project=None (explicitly) means "no project": object operations need none.
    return storage.Client(project=project, credentials=credentials, client_options=client_options)


def _classify_status(status: int) -> Classification:
    if status == 404:
        return Classification(ErrorKind.NOT_FOUND)
    if status == 412:  # only create-only requests carry a precondition
        return Classification(ErrorKind.ALREADY_EXISTS)
    if status in (401, 403):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if status in _TEMPORARY_STATUS or status >= 500:
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    return Classification(ErrorKind.UNKNOWN)


# ---------------------------------------------------------------------- object info


def _info(blob: Any) -> ObjectInfo:
    metadata: dict[str, str] = dict(blob.metadata or {})
    modified: datetime | None = blob.updated
    stamp = metadata.get(_MTIME_KEY)
    if stamp is not None:
        parsed = _parse_mtime(stamp)
        if parsed is not None:
            modified = parsed
            del metadata[_MTIME_KEY]
    hashes: dict[HashType, str] = {}
    for kind, value in ((HashType.MD5, blob.md5_hash), (HashType.CRC32C, blob.crc32c)):
        digest = _b64_hex(value)
        if digest:
            hashes[kind] = digest
    return ObjectInfo(
        path=blob.name,
        size=int(blob.size or 0),
        modified=modified,
        content_type=blob.content_type,
        etag=blob.etag,
        hashes=hashes,
        metadata=metadata,
    )


def _b64_hex(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


_MTIME_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def _format_mtime(when: datetime) -> str:
    """RFC 3339 in UTC with trailing fraction zeros dropped (Go's RFC3339Nano, as rclone)."""
    when = when.astimezone(UTC)  # a naive time is local time, as datetime.timestamp() takes it
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += "." + f"{when.microsecond:06d}".rstrip("0")
    return text + "Z"


def _parse_mtime(text: str) -> datetime | None:
    match = _MTIME_RE.fullmatch(text.strip())
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    try:
        parsed = datetime.fromisoformat(f"{base}.{micros}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def _crc32c_from_header(header: str | None) -> int | None:
    """The CRC32C in an ``X-Goog-Hash`` header (``crc32c=<b64>,md5=<b64>``), if any."""
    if not header:
        return None
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "crc32c":
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return None
            return int.from_bytes(raw, "big") if len(raw) == 4 else None
    return None


def _crc32c_header(crc: int) -> str:
    return "crc32c=" + base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


# ---------------------------------------------------------------------- reader


class _GCSReader(io.RawIOBase):
    """Streams one media download; checks the whole object's CRC32C at the end."""

    def __init__(self, response: Any, expected_crc32c: int | None) -> None:
        super().__init__()
        self._response = response
        self._raw = response.raw
        self._expected = expected_crc32c
        self._crc = 0
        self._checked = expected_crc32c is None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed GCS reader")
        whole = size is None or size < 0
        if whole:
            data: bytes = self._raw.read(decode_content=False)
        elif size == 0:
            return b""
        else:
            data = self._raw.read(size, decode_content=False)
        if not self._checked:
            if data:
                self._crc = google_crc32c.extend(self._crc, data)
            if whole or not data:
                self._verify()
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def _verify(self) -> None:
        self._checked = True
        if self._crc != self._expected:
            raise DataCorruption(
                self._response,
                f"GCS download checksum mismatch: crc32c {self._crc:08x}, "
                f"expected {self._expected:08x}",
            )

    def close(self) -> None:
        if not self.closed:
            try:
                self._response.close()
            finally:
                super().close()


# ---------------------------------------------------------------------- writer

_OPEN, _CLOSING, _CLOSED, _ABORTED = "open", "closing", "closed", "aborted"


class _GCSWriter(Writer):
    """Buffers one chunk; small objects go up in one request on close, larger ones
    through a resumable session whose final chunk is sent only by close."""

    def __init__(self, backend: GCSBackend, key: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        blob = backend._bucket.blob(key)
        metadata = dict(options.metadata)
        if options.modified is not None:
            metadata[_MTIME_KEY] = _format_mtime(options.modified)
        if metadata:
            blob.metadata = metadata
        self._content_type = options.content_type or _DEFAULT_CONTENT_TYPE
        blob.content_type = self._content_type
        self._blob = blob
        self._generation_match = None if options.overwrite else 0
        self._chunk_size = backend._chunk_size
        self._buffer = bytearray()
        self._offset = 0  # bytes the session has persisted; the buffer starts there
        self._crc = 0  # CRC32C of the persisted bytes
        self._session: str | None = None
        self._upload_id = ""
        self._state = _OPEN

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._state != _OPEN:
            raise ValueError(f"write to a finished GCS writer ({self._state})")
        view = memoryview(data).cast("B")
        total = len(view)
        pos = 0
        while pos < total:
            room = self._chunk_size - len(self._buffer)
            if room == 0:  # a full chunk and more to come: it is not the last one
                self._send(final=False)
                continue
            take = min(room, total - pos)
            self._buffer += view[pos : pos + take]
            pos += take
        return total

    def close(self) -> None:
        if self._state != _OPEN:
            raise ValueError(f"GCS writer already finished ({self._state})")
        self._state = _CLOSING
        if self._session is None:
            self._blob.upload_from_string(
                bytes(self._buffer),
                content_type=self._content_type,
                if_generation_match=self._generation_match,
                timeout=self._backend._timeout,
            )
        else:
            self._send(final=True)
        self._state = _CLOSED
        self._buffer = bytearray()

    def abort(self) -> None:
        if self._state in (_CLOSED, _ABORTED):
            return
        self._state = _ABORTED
        self._buffer = bytearray()
        session, self._session = self._session, None
        if session is not None:
            self._backend._cancel_session(session)

    # -------------------------------------------------------------- resumable session

    def _send(self, *, final: bool) -> None:
        """Send the buffer to the session (the last chunk when ``final``)."""
        if self._session is None:
            self._session = self._blob.create_resumable_upload_session(
                content_type=self._content_type,
                if_generation_match=self._generation_match,
                timeout=self._backend._timeout,
                checksum=None,
            )
            self._upload_id = _upload_id(self._session)
        failures = 0
        recover = False
        while True:
            try:
                if recover:
                    recover = False
                    if self._query_status(final=final):
                        return
                    if not final and len(self._buffer) < self._chunk_size:
                        return  # the session kept (part of) the chunk: refill the buffer
                if self._put(final=final):
                    return
            except ResumableUploadError as exc:
                if not exc.temporary:
                    raise
                failures += 1
                if failures >= _UPLOAD_ATTEMPTS:
                    raise
                time.sleep(_UPLOAD_BACKOFF * 2 ** (failures - 1))
                recover = True

    def _put(self, *, final: bool) -> bool:
        """One PUT of the buffer. True when this step is done: for a middle chunk, once the
        session answers (keeping any unpersisted tail for the next chunk); for the last one,
        once the object exists."""
        data = bytes(self._buffer)
        start = self._offset
        end = start + len(data)
        headers = {}
        if final:
            headers["Content-Range"] = (
                f"bytes {start}-{end - 1}/{end}" if data else f"bytes */{end}"
            )
            crc = google_crc32c.extend(self._crc, data) if data else self._crc
            headers["X-Goog-Hash"] = _crc32c_header(crc)
        else:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/*"
        response = self._request("PUT", data, headers)
        status = response.status_code
        if status in (200, 201):
            if not final:
                raise ResumableUploadError(
                    self._message("the session completed before its last chunk"),
                    status=status,
                    temporary=False,
                )
            return True
        if status == 308:
            if not self._advance(response, data):
                raise ResumableUploadError(
                    self._message("the session accepted none of the chunk"),
                    status=status,
                    temporary=False,
                )
            return not final
        raise self._status_error(response)

    def _query_status(self, *, final: bool) -> bool:
        """Ask the session how much it has; True when the object already exists."""
        response = self._request("PUT", b"", {"Content-Range": "bytes */*"})
        status = response.status_code
        if status in (200, 201):
            if not final:
                raise ResumableUploadError(
                    self._message("the session completed before its last chunk"),
                    status=status,
                    temporary=False,
                )
            return True
        if status == 308:
            self._advance(response, bytes(self._buffer))
            return False
        raise self._status_error(response)

    def _advance(self, response: Any, data: bytes) -> bool:
        """Drop what the session reports persisted from the buffer; True if anything was."""
        persisted = 0
        match = re.fullmatch(r"bytes=0-(\d+)", (response.headers.get("Range") or "").strip())
        if match is not None:
            persisted = int(match.group(1)) + 1
        start = self._offset
        if not start <= persisted <= start + len(data):
            raise ResumableUploadError(
                self._message(
                    f"the session reports {persisted} bytes persisted, "
                    f"expected {start} to {start + len(data)}"
                ),
                status=response.status_code,
                temporary=False,
            )
        done = persisted - start
        if done:
            self._crc = google_crc32c.extend(self._crc, data if done == len(data) else data[:done])
            del self._buffer[:done]
            self._offset = persisted
        return done > 0

    def _request(self, method: str, data: bytes, headers: dict[str, str]) -> Any:
        assert self._session is not None
        try:
            return self._backend._http.request(
                method, self._session, data=data, headers=headers, timeout=self._backend._timeout
            )
        except _CONNECTION_ERRORS as exc:
            # Re-raised without the original: its message holds the session URI.
            raise ResumableUploadError(
                self._message(f"connection failed ({type(exc).__name__})"),
                status=None,
                temporary=True,
            ) from None

    def _status_error(self, response: Any) -> ResumableUploadError:
        status = int(response.status_code)
        detail = ""
        try:
            detail = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            detail = (response.text or "")[:200]
        if self._upload_id:
            detail = detail.replace(self._upload_id, "***")
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        return ResumableUploadError(
            self._message(f"{reason}: {detail}" if detail else reason),
            status=status,
            temporary=status in _TEMPORARY_STATUS or status >= 500,
        )

    def _message(self, what: str) -> str:
        return f"resumable upload of {self._key!r} to bucket {self._backend.bucket!r}: {what}"


def _upload_id(session: str) -> str:
    match = re.search(r"[?&]upload_id=([^&#]+)", session)
    return match.group(1) if match else session
